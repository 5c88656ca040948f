"""The manager side of the simulated Asterisk: sessions, authentication, actions, WaitEvent.

Modelled on ``generic_http_callback``, ``auth_http_callback``, ``process_message`` and
``action_waitevent`` in main/manager.c, and checked against the captures of a real
Asterisk 23.4.1. Its quirks are kept on purpose: every AMI result is HTTP 200; a request
without a valid cookie silently gets a new, unauthenticated session; unauthenticated
sessions live 5 s; a failed Login answers after about a second; a newer WaitEvent on the
same session kicks the older one out with an empty body.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from amikit.sim import perms, wire
from amikit.sim.config import SimConfig, User
from amikit.sim.events import Event, EventBus, EventQueue

__all__ = ["Manager", "Reply", "Request"]

Pairs = list[tuple[str, str]]
Output = list["Pairs | Event"]

AMI_VERSION = "12.0.0"
ASTERISK_VERSION = "23.4.1"
QUEUE_LIMIT = 20000  # events kept for a session that does not poll (oldest dropped first)
UNAUTH_LIFE = 5.0
NONCE_LIFE = 62.0
FAILED_LOGIN_DELAY = 1.0
SYNOPSIS = {
    "Challenge": "Generate Challenge for MD5 Auth.", "Command": "Execute Asterisk CLI Command.",
    "CoreSettings": "Show PBX core settings (version etc).",
    "CoreShowChannels": "List currently active channels.",
    "CoreStatus": "Show PBX core status variables.", "Events": "Control Event Flow.",
    "Filter": "Dynamically add filters for the current manager session.",
    "Getvar": "Gets a channel variable or function value.", "Hangup": "Hangup channel.",
    "ListCommands": "List available manager commands.", "Login": "Login Manager.",
    "Logoff": "Logoff Manager.", "Originate": "Originate a call.", "Ping": "Keepalive command.",
    "Redirect": "Redirect (transfer) a call.",
    "Setvar": "Sets a channel variable or function value.",
    "ShowDialPlan": "Show dialplan contexts and extensions", "Status": "List channel status.",
    "UserEvent": "Send an arbitrary event.", "WaitEvent": "Wait for an event to occur.",
}
_SYNOPSIS_SEP = {"ShowDialPlan": " "}  # its synopsis has no final period, so one space fewer


@dataclass
class Request:
    """One HTTP request, as the manager needs it."""

    method: str
    encoding: str  # rawman | mxml | manager
    digest: bool
    params: list[tuple[str, str]]
    cookie: str | None = None
    authorization: str | None = None
    uri: str = ""
    remote: tuple[str, int] = ("127.0.0.1", 0)
    local_port: int = 8088


@dataclass
class Reply:
    """What goes back: status, headers in order, body (HEAD drops it later)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(eq=False)
class Session:
    """A manager session (cookie or digest)."""

    id: int
    created: float
    expires: float
    queue: EventQueue | None = None
    user: User | None = None
    authenticated: bool = False
    mask: int = 0
    mask_set: bool = False
    filters: list[tuple[bool, re.Pattern[str]]] = field(default_factory=list)
    waiter: asyncio.Event | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    inuse: int = 0
    destroy: bool = False
    challenge: str | None = None
    nc: int = 0

    @property
    def readperm(self) -> int:
        return self.user.read if self.user else 0

    @property
    def writeperm(self) -> int:
        return self.user.write if self.user else 0


class Manager:
    """Sessions and actions. ``pbx`` answers the actions about channels and the dialplan."""

    def __init__(self, config: SimConfig, bus: EventBus, rng: random.Random,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.bus = bus
        self.rng = rng
        self.clock = clock
        self.sessions: dict[int, Session] = {}
        self.digest_sessions: dict[tuple[str, str], Session] = {}
        self.nonces: dict[str, float] = {}
        self.pbx_actions: dict[str, Callable[[Session, Request, Pairs], Awaitable[Output]]] = {}
        self.started_wall = time.time()
        self._ids = itertools.count(1)

    # -- HTTP entry points -------------------------------------------------------------
    async def handle(self, request: Request) -> Reply:
        self.reap()
        if request.digest:
            return await self._handle_digest(request)
        session = self._session_from_cookie(request.cookie)
        session.inuse += 1
        try:
            output = await self.process(session, request)
        finally:
            session.inuse -= 1
        self._touch(session)
        headers = self._base_headers(request)
        headers += [("Set-Cookie", f'mansession_id="{session.id:08x}"; Version=1; '
                                   f"Max-Age={self.config.httptimeout}"),
                    ("Pragma", "SuppressEvents")]
        if session.destroy and session.inuse == 0:
            self.sessions.pop(session.id, None)
            self._unsubscribe(session)
        return Reply(200, headers, self.render(output, request))

    def _base_headers(self, request: Request) -> list[tuple[str, str]]:
        content = {"rawman": "text/plain", "mxml": "text/xml", "manager": "text/html"}
        return [("Cache-Control", "no-cache, no-store"),
                ("Content-type", content[request.encoding])]

    def render(self, output: Output | None, request: Request) -> bytes:
        if output is None:  # a WaitEvent kicked out by a newer one
            return wire.mxml([]) if request.encoding == "mxml" else b""
        if request.encoding == "rawman":
            return b"".join(item.rendered("rawman") if isinstance(item, Event) else wire.rawman([item])
                            for item in output)
        if request.encoding == "mxml":
            params = {k.lower(): v for k, v in reversed(request.params)}
            dest, objtype = params.get("ajaxdest", "unknown"), params.get("ajaxobjtype", "generic")
            if dest == "unknown" and objtype == "generic":
                inner = b"".join(item.rendered("mxml") if isinstance(item, Event)
                                 else wire.mxml([item])[16:-17] for item in output)
                return b"<ajax-response>\n" + inner + b"</ajax-response>\n"
            return wire.mxml([i.headers if isinstance(i, Event) else i for i in output],
                             dest, objtype)
        return wire.html_manager([i.headers if isinstance(i, Event) else i for i in output],
                                 digest=request.digest)

    # -- sessions ----------------------------------------------------------------------
    def _new_id(self) -> int:
        while True:
            sid = self.rng.getrandbits(32)
            if sid and sid not in self.sessions:
                return sid

    def _session_from_cookie(self, cookie: str | None) -> Session:
        sid = _cookie_id(cookie)
        session = self.sessions.get(sid) if sid else None
        now = self.clock()
        if session is not None and not session.destroy and session.expires >= now:
            return session
        session = Session(self._new_id(), now, now + UNAUTH_LIFE)
        self._subscribe(session)
        self.sessions[session.id] = session
        return session

    def _subscribe(self, session: Session) -> None:
        session.queue = EventQueue(QUEUE_LIMIT, session.wake.set, f"session {session.id:08x}")
        self.bus.queues.add(session.queue)

    def _unsubscribe(self, session: Session) -> None:
        if session.queue is not None:
            self.bus.queues.discard(session.queue)
        if session.waiter is not None:
            session.waiter.set()

    def _touch(self, session: Session) -> None:
        life = self.config.httptimeout if session.authenticated else min(
            UNAUTH_LIFE, self.config.httptimeout)
        session.expires = self.clock() + life

    def reap(self) -> None:
        """Destroy sessions whose time is up (Asterisk's purge_sessions)."""
        now = self.clock()
        for table in (self.sessions, self.digest_sessions):
            for key, session in list(table.items()):
                if session.inuse == 0 and (session.expires < now or session.destroy):
                    del table[key]
                    self._unsubscribe(session)

    @property
    def dropped_events(self) -> int:
        """Events dropped from the queues of sessions that stopped polling."""
        return sum(s.queue.dropped for s in [*self.sessions.values(),
                                              *self.digest_sessions.values()] if s.queue)

    # -- digest ----------------------------------------------------------------------------
    def _nonce(self) -> str:
        nonce = f"{self.rng.getrandbits(31):08x}"
        self.nonces[nonce] = self.clock()
        return nonce

    def _challenge(self, request: Request, stale: bool = False) -> Reply:
        nonce = self._nonce()
        header = (f'Digest algorithm=MD5, realm="asterisk", nonce="{nonce}", qop="auth", '
                  f'opaque="{nonce}"' + (", stale=true" if stale else ""))
        return Reply(401, [("Cache-Control", "no-cache, no-store"), ("WWW-authenticate", header),
                           ("Content-type", "text/html")], wire.http_page(401, self.config.servername))

    async def _handle_digest(self, request: Request) -> Reply:
        fields = _digest_fields(request.authorization)
        if fields is None:
            return self._challenge(request)
        user = self.config.users.get(fields.get("username", ""))
        nonce = fields.get("nonce", "")
        if user is None or not _digest_ok(fields, user, request.method):
            return self._challenge(request)
        issued = self.nonces.get(nonce)
        if issued is None or self.clock() - issued > NONCE_LIFE:
            return self._challenge(request, stale=True)
        key = (user.name, nonce)
        session = self.digest_sessions.get(key)
        nc = int(fields.get("nc", "0") or "0", 16)
        if session is None:
            now = self.clock()
            session = Session(self._new_id(), now, now + max(self.config.httptimeout, 5),
                              user=user, authenticated=True)
            self.digest_sessions[key] = session
        elif "qop" in fields and nc <= session.nc:
            return self._challenge(request, stale=True)
        session.nc = nc
        session.inuse += 1
        try:
            output = await self.process(session, request)
        finally:
            session.inuse -= 1
        session.expires = self.clock() + max(self.config.httptimeout, 5)
        if session.destroy:
            self.digest_sessions.pop(key, None)
            self._unsubscribe(session)
        return Reply(200, self._base_headers(request), self.render(output, request))

    # -- actions ---------------------------------------------------------------------------
    async def process(self, session: Session, request: Request) -> Output | None:
        message: Pairs = [(n, v) for n, v in request.params[:128]]
        action = _header(message, "Action", nonempty=True)
        action_id = _header(message, "ActionID")
        if not action:
            self._security("RequestBadFormat", session, request, [("RequestType", "Action: NONE")])
            return [_error(action_id, "Missing action in request")]
        name = action.lower()
        if not session.authenticated and name not in ("login", "logoff", "challenge"):
            self._security("RequestNotAllowed", session, request,
                           [("RequestType", f"Action: {action}")])
            return [_error(action_id, "Permission denied")]
        handler = self._handlers().get(name)
        if handler is None:
            self._security("RequestBadFormat", session, request,
                           [("RequestType", f"Action: {action}")])
            return [_error(action_id, f"Invalid/unknown command: {action}. Use Action: "
                                      "ListCommands to show available commands.")]
        klass = perms.ACTION_CLASSES.get(name, 0)
        if klass and not session.writeperm & klass:
            return [_error(action_id, "Permission denied")]
        return await handler(session, request, message)

    def _handlers(self) -> dict[str, Callable[[Session, Request, Pairs], Awaitable[Output | None]]]:
        return {
            "login": self._login, "logoff": self._logoff, "challenge": self._challenge_action,
            "ping": self._ping, "events": self._events, "filter": self._filter,
            "waitevent": self._waitevent, "listcommands": self._listcommands,
            "coresettings": self._coresettings, "corestatus": self._corestatus,
            "userevent": self._userevent, **self.pbx_actions,
        }

    async def _login(self, session: Session, request: Request, msg: Pairs) -> Output:
        action_id = _header(msg, "ActionID")
        if session.authenticated:
            return [_response("Success", action_id, [("Message", "Already authenticated")])]
        username = _header(msg, "Username")
        user = self.config.users.get(username)
        ok = user is not None and (
            user.secret == _header(msg, "Secret", raw=True) if _header(msg, "AuthType").lower() != "md5"
            else session.challenge is not None and _header(msg, "Key") == hashlib.md5(
                (session.challenge + user.secret).encode()).hexdigest())
        if not ok:
            self._security("InvalidPassword" if user else "InvalidAccountID", session, request, [])
            await asyncio.sleep(FAILED_LOGIN_DELAY)
            session.destroy = True
            return [_error(action_id, "Authentication failed")]
        session.user, session.authenticated = user, True
        events = _header(msg, "Events")
        if events:
            session.mask, session.mask_set = _event_mask(events, user.read), True
        self._security("SuccessfulAuth", session, request, [("UsingPassword", "0")])
        return [_response("Success", action_id, [("Message", "Authentication accepted")])]

    async def _logoff(self, session: Session, request: Request, msg: Pairs) -> Output:
        session.destroy = True
        return [_response("Goodbye", _header(msg, "ActionID"),
                          [("Message", "Thanks for all the fish.")])]

    async def _challenge_action(self, session: Session, request: Request, msg: Pairs) -> Output:
        action_id = _header(msg, "ActionID")
        if _header(msg, "AuthType").lower() != "md5":
            return [_error(action_id, "Must specify AuthType")]
        if session.challenge is None:
            session.challenge = str(self.rng.randrange(1, 10**9))
        return [_response("Success", action_id, [("Challenge", session.challenge)])]

    async def _ping(self, session: Session, request: Request, msg: Pairs) -> Output:
        return [_response("Success", _header(msg, "ActionID"),
                          [("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}")])]

    async def _events(self, session: Session, request: Request, msg: Pairs) -> Output:
        action_id = _header(msg, "ActionID")
        mask_text = _header(msg, "EventMask")
        if not mask_text:
            return [_error(action_id, "Invalid event mask")]
        session.mask, session.mask_set = _event_mask(mask_text, session.readperm), True
        return [_response("Success", action_id, [("Events", "On" if session.mask else "Off")])]

    async def _filter(self, session: Session, request: Request, msg: Pairs) -> Output:
        action_id = _header(msg, "ActionID")
        operation = _header(msg, "Operation") or "Add"
        text = _header(msg, "Filter")
        if operation.lower() != "add" or not text:
            return [_error(action_id, "Filter Not Added")]
        exclude = text.startswith("!")
        try:
            pattern = re.compile(text[1:] if exclude else text)
        except re.error:
            return [_error(action_id, "Filter Not Added")]
        session.filters.append((not exclude, pattern))
        return [_response("Success", action_id, [("Message", "Success")])]

    async def _waitevent(self, session: Session, request: Request, msg: Pairs) -> Output | None:
        action_id = _header(msg, "ActionID")
        if session.queue is None:  # digest sessions start queueing at their first WaitEvent
            self._subscribe(session)
        if not session.mask_set or session.mask == 0:
            session.mask = session.readperm
        timeout = _timeout(_header(msg, "Timeout"))
        cap = max(0.0, session.expires - self.clock() - 10)
        if timeout < 0 or timeout > cap:
            timeout = cap
        if session.waiter is not None:
            session.waiter.set()  # the newer WaitEvent wins; the older returns at once
        me = asyncio.Event()
        session.waiter = me
        assert session.queue is not None
        deadline = self.clock() + timeout
        while not session.queue.events and not me.is_set() and not session.destroy:
            remaining = deadline - self.clock()
            if remaining <= 0:
                break
            session.wake.clear()
            wake = asyncio.ensure_future(session.wake.wait())
            kick = asyncio.ensure_future(me.wait())
            try:
                await asyncio.wait({wake, kick}, timeout=remaining,
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                wake.cancel()
                kick.cancel()
        if me.is_set() and session.waiter is not me:
            return None
        session.waiter = None
        events = [e for e in session.queue.drain() if self._wanted(session, e)]
        marker = [("Event", "WaitEventComplete")] + ([("ActionID", action_id)] if action_id else [])
        return [_response("Success", action_id, [("Message", "Waiting for Event completed.")]),
                *events, marker]

    def _wanted(self, session: Session, event: Event) -> bool:
        if not event.klass & session.readperm & session.mask:
            return False
        if not session.filters:
            return True
        text = event.rendered("rawman").decode("utf-8", "replace")
        includes = [p for inc, p in session.filters if inc]
        excludes = [p for inc, p in session.filters if not inc]
        if includes and not any(p.search(text) for p in includes):
            return False
        return not any(p.search(text) for p in excludes)

    async def _listcommands(self, session: Session, request: Request, msg: Pairs) -> Output:
        lines = []
        for name in sorted(SYNOPSIS, key=str.lower):
            klass = perms.ACTION_CLASSES.get(name.lower(), 0)
            if name.lower() not in self._handlers() or (klass and not session.writeperm & klass):
                continue
            priv = perms.privilege(klass) if klass else "<none>"
            lines.append((name, f"{SYNOPSIS[name]}{_SYNOPSIS_SEP.get(name, '  ')}(Priv: {priv})"))
        return [_response("Success", _header(msg, "ActionID"), lines)]

    async def _coresettings(self, session: Session, request: Request, msg: Pairs) -> Output:
        return [_response("Success", _header(msg, "ActionID"), [
            ("AMIversion", AMI_VERSION), ("AsteriskVersion", ASTERISK_VERSION), ("SystemName", ""),
            ("CoreMaxCalls", "500"), ("CoreMaxLoadAvg", "0.000000"), ("CoreRunUser", "amikit"),
            ("CoreRunGroup", "amikit"), ("CoreMaxFilehandles", "0"),
            ("CoreRealTimeEnabled", "No"), ("CoreCDRenabled", "Yes"),
            ("CoreHTTPenabled", "Yes"), ("SoundsSearchCustomDir", "No")])]

    async def _corestatus(self, session: Session, request: Request, msg: Pairs) -> Output:
        started = time.localtime(self.started_wall)
        current, processed = self.call_counts()
        return [_response("Success", _header(msg, "ActionID"), [
            ("CoreStartupDate", time.strftime("%Y-%m-%d", started)),
            ("CoreStartupTime", time.strftime("%H:%M:%S", started)),
            ("CoreReloadDate", time.strftime("%Y-%m-%d", started)),
            ("CoreReloadTime", time.strftime("%H:%M:%S", started)),
            ("CoreCurrentCalls", str(current)), ("CoreProcessedCalls", str(processed))])]

    def call_counts(self) -> tuple[int, int]:
        """(current, processed) calls; the PBX replaces this."""
        return 0, 0

    async def _userevent(self, session: Session, request: Request, msg: Pairs) -> Output:
        action_id = _header(msg, "ActionID")
        name = _header(msg, "UserEvent")
        if not name:
            return [_error(action_id, "UserEvent header missing")]
        body = [(n, v) for n, v in msg
                if n.lower() not in ("action", "actionid", "userevent")]
        self.bus.publish("UserEvent", perms.USER, [("UserEvent", name), *body])
        return [_response("Success", action_id, [("Message", "Event Sent")])]

    # -- security events ---------------------------------------------------------------
    def _security(self, name: str, session: Session, request: Request, extra: Pairs) -> None:
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}+0000"
        account = session.user.name if session.user else ""
        if name in ("InvalidPassword", "InvalidAccountID"):
            account = _header([(n, v) for n, v in request.params], "Username")
        severity = "Informational" if name == "SuccessfulAuth" else "Error"
        version = "2" if name == "InvalidPassword" else "1"
        body = [("EventTV", stamp), ("Severity", severity), ("Service", "AMI"),
                ("EventVersion", version), ("AccountID", account),
                ("SessionID", f"0x{id(session):x}"),
                ("LocalAddress", f"IPV4/TCP/127.0.0.1/{request.local_port}"),
                ("RemoteAddress", f"IPV4/TCP/{request.remote[0]}/{request.remote[1]}"),
                *extra,
                ("SessionTV", stamp if name == "SuccessfulAuth" else "1970-01-01T00:00:00.000+0000")]
        self.bus.publish(name, perms.SECURITY, body)


# -- small pure helpers ------------------------------------------------------------------
def _header(message: Pairs, name: str, *, nonempty: bool = False, raw: bool = False) -> str:
    """``astman_get_header``: first match, case-insensitive; leading blanks skipped."""
    key = name.lower()
    for n, v in message:
        if n.lower() == key:
            value = v if raw else v.lstrip("".join(chr(c) for c in range(33)))
            if value or not nonempty:
                return value
    return ""


def _response(kind: str, action_id: str, body: Pairs) -> Pairs:
    return [("Response", kind), *([("ActionID", action_id)] if action_id else []), *body]


def _error(action_id: str, text: str) -> Pairs:
    return _response("Error", action_id, [("Message", text)])


def _cookie_id(cookie: str | None) -> int:
    """``ast_http_manid_from_vars``: the last ``mansession_id`` of the Cookie header."""
    found = 0
    for part in (cookie or "").split(";"):
        name, eq, value = part.partition("=")
        if eq and name.strip().lower() == "mansession_id":
            digits = value.strip().strip('"')
            match = re.match(r"[0-9a-fA-F]{1,30}", digits)
            found = int(match[0], 16) if match else 0
    return found


def _event_mask(text: str, readperm: int) -> int:
    """``strings_to_mask``: digits, a true/false word, or a class list; ANDed with read."""
    text = text.strip()
    lowered = text.lower()
    if text.isdigit():
        mask = int(text)
    elif lowered in ("on", "yes", "true", "y", "t", "1"):
        mask = perms.ALL
    elif lowered in ("off", "no", "false", "n", "f", "0"):
        mask = 0
    else:
        mask = 0
        for name in text.split(","):
            mask |= perms.CLASSES.get(name.strip(), 0) or (perms.ALL if name.strip() == "all" else 0)
    return mask & readperm


def _timeout(text: str) -> float:
    """``sscanf("%30i")``: decimal, 0x hex or 0 octal; missing or bad → -1."""
    match = re.match(r"\s*([+-]?(?:0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*))", text or "")
    if not match:
        return -1
    value = int(match[1], 0) if not re.fullmatch(r"[+-]?0[0-7]+", match[1]) else int(match[1], 8)
    return float(value) if value >= -1 else -1


def _digest_fields(header: str | None) -> dict[str, str] | None:
    if not header or not header.lower().startswith("digest "):
        return None
    fields = {k.lower(): v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|[^,\s]+)', header)}
    needed = ("realm", "nonce", "username", "uri", "response")
    if any(k not in fields for k in needed):
        return None
    if "qop" in fields and ("cnonce" not in fields or "nc" not in fields):
        return None
    if fields.get("algorithm", "MD5").upper() != "MD5":
        return None
    return fields


def _digest_ok(fields: dict[str, str], user: User, method: str) -> bool:
    def md5(text: str) -> str:
        return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()

    ha1 = md5(f"{user.name}:asterisk:{user.secret}")
    ha2 = md5(f"{method}:{fields['uri']}")
    if "qop" in fields:
        expected = md5(f"{ha1}:{fields['nonce']}:{fields['nc']}:{fields['cnonce']}:auth:{ha2}")
    else:
        expected = md5(f"{ha1}:{fields['nonce']}:{ha2}")
    return expected == fields["response"].lower()


