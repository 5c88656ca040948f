"""The manager side of the simulated Asterisk: sessions, authentication, actions, WaitEvent.

Modelled on ``generic_http_callback``, ``auth_http_callback``, ``process_message`` and
``action_waitevent`` in main/manager.c, and checked against the captures of a real
Asterisk 23.4.1. Its quirks are kept on purpose: every AMI result is HTTP 200; a request
without a valid cookie silently gets a new, unauthenticated session; unauthenticated
sessions live 5 s; a failed Login answers after about a second; a newer WaitEvent on the
same session kicks the older one out with an empty body. TCP connections
(:mod:`amikit.sim.tcpfront`) get their sessions from :meth:`Manager.open_stream` and run
their actions through the same :meth:`Manager.process`.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import random
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from amikit.sim import perms, wire
from amikit.sim.config import WRITETIMEOUT, SimConfig, User
from amikit.sim.events import Event, EventBus, EventQueue
from amikit.sim.manager_actions import ManagerActions
from amikit.sim.replies import error, header

__all__ = ["Backend", "Manager", "Reply", "Request"]

Pairs = list[tuple[str, str]]
Output = list["Pairs | Event"]

QUEUE_LIMIT = 20000  # events kept for a session that does not poll (oldest dropped first)
UNAUTH_LIFE = 5.0
NONCE_LIFE = 62.0
REAP_EVERY = 0.5  # seconds between purges triggered by requests (the simulator also reaps each second)


Handler = Callable[["Session", "Request", Pairs], Awaitable["Output | None"]]


class Backend(Protocol):
    """What the manager asks of the PBX behind it: its action handlers (by lower-case
    action name) and its call counts for CoreStatus."""

    handlers: dict[str, Handler]

    def call_counts(self) -> tuple[int, int]: ...


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
    #: a TCP session (managerid 0 in Asterisk): events are pushed, not polled, and it lives
    #: as long as its connection instead of expiring
    stream: bool = False

    @property
    def readperm(self) -> int:
        return self.user.read if self.user else 0

    @property
    def writeperm(self) -> int:
        return self.user.write if self.user else 0

    @property
    def writetimeout(self) -> float:
        """Seconds a TCP write may wait: 100 ms until Login (``build_mansession``), then the
        user's ``writetimeout`` (``authenticate`` copies it)."""
        return (self.user.writetimeout if self.user else WRITETIMEOUT) / 1000


class Manager:
    """Sessions and actions. ``pbx`` answers the actions about channels and the dialplan."""

    def __init__(self, config: SimConfig, bus: EventBus, rng: random.Random,
                 clock: Callable[[], float] = time.monotonic, *,
                 backend: Backend | None = None) -> None:
        self.config = config
        self.bus = bus
        self.rng = rng
        self.clock = clock
        self.sessions: dict[int, Session] = {}
        self.digest_sessions: dict[tuple[str, str], Session] = {}
        self.streams: set[Session] = set()
        self.nonces: dict[str, float] = {}
        self.backend = backend
        self.actions = ManagerActions(self)
        #: called whenever a session starts receiving events (a login, a digest session's
        #: first WaitEvent): a replay waits for the first one
        self.on_subscribe: list[Callable[[], None]] = []
        self.started_wall = time.time()
        self._ids = itertools.count(1)
        self._last_reap = float("-inf")

    # -- HTTP entry points -------------------------------------------------------------
    async def handle(self, request: Request) -> Reply:
        # purge_sessions runs over every session; doing that on every request made each
        # request O(sessions), so a flood of cookie-less requests slowed everyone down
        if self.clock() - self._last_reap >= REAP_EVERY:
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
        # build_mansession draws mansession_id from ast_random() (/dev/urandom): a cookie is a
        # credential, so it comes from secrets, never from the seeded PBX generator
        while True:
            sid = secrets.randbits(32)
            if sid and sid not in self.sessions:
                return sid

    def _session_from_cookie(self, cookie: str | None) -> Session:
        sid = _cookie_id(cookie)
        session = self.sessions.get(sid) if sid else None
        now = self.clock()
        if session is not None and not session.destroy and session.expires >= now:
            return session
        # not subscribed yet: an unauthenticated session cannot read events (readperm 0), so it
        # joins the event bus when it logs in (or at its first WaitEvent); a flood of
        # cookie-less requests then costs nothing per published event
        session = Session(self._new_id(), now, now + UNAUTH_LIFE)
        self.sessions[session.id] = session
        return session

    def open_stream(self) -> Session:
        """A session for a TCP connection (``session_do``'s ``build_mansession``): no cookie,
        never reaped, and every event class wanted until Login or Events says otherwise
        (``send_events = -1``)."""
        now = self.clock()
        session = Session(self._new_id(), now, float("inf"), mask=perms.ALL, mask_set=True,
                          stream=True)
        self.streams.add(session)
        return session

    def close_stream(self, session: Session) -> None:
        """Forget a TCP session whose connection has ended (``session_destroy``)."""
        self.streams.discard(session)
        session.destroy = True
        self._unsubscribe(session)

    def subscribe(self, session: Session) -> None:
        """Give the session its event queue (once)."""
        if session.queue is not None:
            return
        session.queue = EventQueue(QUEUE_LIMIT, session.wake.set, f"session {session.id:08x}")
        self.bus.queues.add(session.queue)
        for listener in self.on_subscribe:
            listener()

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
        self._last_reap = now
        for table in (self.sessions, self.digest_sessions):
            for key, session in list(table.items()):
                if session.inuse == 0 and (session.expires < now or session.destroy):
                    del table[key]
                    self._unsubscribe(session)
        # a nonce past its life only ever earns a stale=true challenge (auth_http_callback),
        # which an unknown nonce earns too: forget it instead of keeping every nonce issued
        for nonce, issued in list(self.nonces.items()):
            if now - issued > NONCE_LIFE:
                del self.nonces[nonce]

    @property
    def dropped_events(self) -> int:
        """Events dropped from the queues of sessions that stopped polling."""
        return sum(s.queue.dropped for s in [*self.sessions.values(),
                                              *self.digest_sessions.values(), *self.streams]
                   if s.queue)

    # -- digest ----------------------------------------------------------------------------
    def _nonce(self) -> str:
        # auth_http_callback: snprintf("%08lx", ast_random()), i.e. 31 random bits from
        # /dev/urandom; secrets, not the seeded generator, so nonces cannot be predicted
        nonce = f"{secrets.randbits(31):08x}"
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
        if "qop" not in fields:
            # RFC 2069 (no qop) has no nonce count, so a captured response could be replayed
            # for the nonce's whole life; here each such nonce answers one request only
            self.nonces.pop(nonce, None)
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
        action = header(message, "Action", nonempty=True)
        action_id = header(message, "ActionID")
        if not action:
            self.actions.security("RequestBadFormat", session, request, [("RequestType", "Action: NONE")])
            return [error(action_id, "Missing action in request")]
        name = action.lower()
        if not session.authenticated and name not in ("login", "logoff", "challenge"):
            self.actions.security("RequestNotAllowed", session, request,
                           [("RequestType", f"Action: {action}")])
            return [error(action_id, "Permission denied")]
        handler = self.handlers().get(name)
        unsimulated = perms.UNSIMULATED_CLASSES.get(name, 0)
        if handler is None and unsimulated and not session.writeperm & unsimulated:
            return [error(action_id, "Permission denied")]
        if handler is None:
            self.actions.security("RequestBadFormat", session, request,
                           [("RequestType", f"Action: {action}")])
            return [error(action_id, f"Invalid/unknown command: {action}. Use Action: "
                                      "ListCommands to show available commands.")]
        klass = perms.ACTION_CLASSES.get(name, 0)
        if klass and not session.writeperm & klass:
            return [error(action_id, "Permission denied")]
        return await handler(session, request, message)

    def handlers(self) -> dict[str, Handler]:
        """Every action this manager answers, by lower-case name."""
        return {**self.actions.handlers, **(self.backend.handlers if self.backend else {})}

# -- small pure helpers ------------------------------------------------------------------
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


