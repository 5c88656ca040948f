"""The manager's own actions: Login, Logoff, Challenge, Ping, Events, Filter, WaitEvent,
ListCommands, CoreSettings, CoreStatus and UserEvent, and the security events.

Modelled on ``action_login``, ``action_waitevent``, ``action_events``, ``action_filter``,
``action_listcommands``, ``action_coresettings``, ``action_corestatus``,
``action_userevent`` and the ``manager_log_*``/security event calls in main/manager.c. The
actions about channels and the dialplan belong to the PBX (:mod:`amikit.sim.pbx_actions`).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import time
from typing import TYPE_CHECKING

from amikit.protocol import is_false, is_true
from amikit.sim import perms
from amikit.sim.events import Event
from amikit.sim.replies import Pairs, error, header, is_number, response

if TYPE_CHECKING:
    from amikit.sim.manager import Manager, Output, Request, Session

__all__ = ["SYNOPSIS", "ManagerActions", "event_mask", "regex_is_bounded", "wait_timeout"]

FAILED_LOGIN_DELAY = 1.0
AMI_VERSION = "12.0.0"
ASTERISK_VERSION = "23.4.1"
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


class ManagerActions:
    """The actions every manager answers, whatever PBX is behind it."""

    def __init__(self, manager: Manager) -> None:
        self.manager = manager
        self.handlers = {
            "login": self.login, "logoff": self.logoff, "challenge": self.challenge_action,
            "ping": self.ping, "events": self.events, "filter": self.filter,
            "waitevent": self.waitevent, "listcommands": self.listcommands,
            "coresettings": self.coresettings, "corestatus": self.corestatus,
            "userevent": self.userevent,
        }

    async def login(self, session: Session, request: Request, msg: Pairs) -> Output:
        action_id = header(msg, "ActionID")
        if session.authenticated:
            return [response("Success", action_id, [("Message", "Already authenticated")])]
        username = header(msg, "Username")
        user = self.manager.config.users.get(username)
        ok = user is not None and (
            user.secret == header(msg, "Secret", raw=True) if header(msg, "AuthType").lower() != "md5"
            else session.challenge is not None and header(msg, "Key") == hashlib.md5(
                (session.challenge + user.secret).encode()).hexdigest())
        if not ok:
            self.security("InvalidPassword" if user else "InvalidAccountID", session, request, [])
            await asyncio.sleep(FAILED_LOGIN_DELAY)
            session.destroy = True
            return [error(action_id, "Authentication failed")]
        session.user, session.authenticated = user, True
        self.manager.subscribe(session)  # events flow from the login on, its own SuccessfulAuth too
        events = header(msg, "Events")
        if events:
            session.mask, session.mask_set = event_mask(events, user.read), True
        self.security("SuccessfulAuth", session, request, [("UsingPassword", "0")])
        reply = [response("Success", action_id, [("Message", "Authentication accepted")])]
        if session.mask & session.readperm & perms.SYSTEM:
            reply.append(self.fully_booted())
        return reply

    def fully_booted(self) -> Pairs:
        """``action_login``'s FullyBooted, written into the Login reply itself (so with no
        Timestamp) when the session's event mask (``send_events``) and its read permission
        both have ``system``, whatever the transport. A TCP session starts with every event
        on (captures 10_tcp_5038/03, 04); an HTTP one with none (``generic_http_callback``
        sets ``send_events = 0``), so there only a Login with ``Events: on`` (or a mask
        naming system) gets it; the HTTP captures log in without Events or with
        ``Events: off`` (01_login, 08_waitevent_semantics/e_...) and show none."""
        up = str(int(time.time() - self.manager.started_wall))
        return [("Event", "FullyBooted"), ("Privilege", perms.privilege(perms.SYSTEM)),
                ("Uptime", up), ("LastReload", up), ("Status", "Fully Booted")]

    async def logoff(self, session: Session, request: Request, msg: Pairs) -> Output:
        session.destroy = True
        return [response("Goodbye", header(msg, "ActionID"),
                          [("Message", "Thanks for all the fish.")])]

    async def challenge_action(self, session: Session, request: Request, msg: Pairs) -> Output:
        action_id = header(msg, "ActionID")
        if header(msg, "AuthType").lower() != "md5":
            return [error(action_id, "Must specify AuthType")]
        if session.challenge is None:
            # action_challenge: snprintf("%ld", ast_random()) into challenge[10], so 31 bits from
            # /dev/urandom cut to 9 digits; the key is a credential, never from the seeded generator
            session.challenge = str(secrets.randbits(31))[:9]
        return [response("Success", action_id, [("Challenge", session.challenge)])]

    async def ping(self, session: Session, request: Request, msg: Pairs) -> Output:
        return [response("Success", header(msg, "ActionID"),
                          [("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}")])]

    async def events(self, session: Session, request: Request, msg: Pairs) -> Output:
        action_id = header(msg, "ActionID")
        mask_text = header(msg, "EventMask")
        if not mask_text:
            return [error(action_id, "Invalid event mask")]
        session.mask, session.mask_set = event_mask(mask_text, session.readperm), True
        return [response("Success", action_id, [("Events", "On" if session.mask else "Off")])]

    async def filter(self, session: Session, request: Request, msg: Pairs) -> Output:
        action_id = header(msg, "ActionID")
        operation = header(msg, "Operation") or "Add"
        text = header(msg, "Filter")
        if operation.lower() != "add" or not text:
            return [error(action_id, "Filter Not Added")]
        exclude = text.startswith("!")
        try:
            pattern = re.compile(text[1:] if exclude else text)
        except re.error:
            return [error(action_id, "Filter Not Added")]
        if not regex_is_bounded(text[1:] if exclude else text):
            # manager_add_filter hands the pattern to regcomp, whose engine does not backtrack;
            # Python's does, so a pattern that can backtrack exponentially or with a high
            # polynomial degree would freeze every session: refuse it as regcomp refuses bad ones
            return [error(action_id, "Filter Not Added")]
        session.filters.append((not exclude, pattern))
        return [response("Success", action_id, [("Message", "Success")])]

    async def waitevent(self, session: Session, request: Request, msg: Pairs) -> Output | None:
        action_id = header(msg, "ActionID")
        if session.queue is None:  # digest sessions start queueing at their first WaitEvent
            self.manager.subscribe(session)
        timeout = wait_timeout(header(msg, "Timeout"))
        if not session.stream:
            # action_waitevent caps only an HTTP session's wait by its life, and only there
            # turns a zero event mask into all; a TCP WaitEvent with no Timeout waits on
            if not session.mask_set or session.mask == 0:
                session.mask = session.readperm
            cap = max(0.0, session.expires - self.manager.clock() - 10)
            if timeout < 0 or timeout > cap:
                timeout = cap
        if session.waiter is not None:
            session.waiter.set()  # the newer WaitEvent wins; the older returns at once
        me = asyncio.Event()
        session.waiter = me
        assert session.queue is not None
        deadline = self.manager.clock() + timeout if timeout >= 0 else None
        while not session.queue.events and not me.is_set() and not session.destroy:
            remaining = deadline - self.manager.clock() if deadline is not None else None
            if remaining is not None and remaining <= 0:
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
        events = [e for e in session.queue.drain() if self.wanted(session, e)]
        marker = [("Event", "WaitEventComplete")] + ([("ActionID", action_id)] if action_id else [])
        return [response("Success", action_id, [("Message", "Waiting for Event completed.")]),
                *events, marker]

    def wanted(self, session: Session, event: Event) -> bool:
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

    async def listcommands(self, session: Session, request: Request, msg: Pairs) -> Output:
        lines = []
        for name in sorted(SYNOPSIS, key=str.lower):
            klass = perms.ACTION_CLASSES.get(name.lower(), 0)
            if name.lower() not in self.manager.handlers() or (klass and not session.writeperm & klass):
                continue
            priv = perms.privilege(klass) if klass else "<none>"
            lines.append((name, f"{SYNOPSIS[name]}  (Priv: {priv})"))
        return [response("Success", header(msg, "ActionID"), lines)]

    async def coresettings(self, session: Session, request: Request, msg: Pairs) -> Output:
        return [response("Success", header(msg, "ActionID"), [
            ("AMIversion", AMI_VERSION), ("AsteriskVersion", ASTERISK_VERSION), ("SystemName", ""),
            ("CoreMaxCalls", "500"), ("CoreMaxLoadAvg", "0.000000"), ("CoreRunUser", "amikit"),
            ("CoreRunGroup", "amikit"), ("CoreMaxFilehandles", "0"),
            ("CoreRealTimeEnabled", "No"), ("CoreCDRenabled", "Yes"),
            ("CoreHTTPenabled", "Yes"), ("SoundsSearchCustomDir", "No")])]

    async def corestatus(self, session: Session, request: Request, msg: Pairs) -> Output:
        started = time.localtime(self.manager.started_wall)
        current, processed = self.manager.backend.call_counts() if self.manager.backend else (0, 0)
        return [response("Success", header(msg, "ActionID"), [
            ("CoreStartupDate", time.strftime("%Y-%m-%d", started)),
            ("CoreStartupTime", time.strftime("%H:%M:%S", started)),
            ("CoreReloadDate", time.strftime("%Y-%m-%d", started)),
            ("CoreReloadTime", time.strftime("%H:%M:%S", started)),
            ("CoreCurrentCalls", str(current)), ("CoreProcessedCalls", str(processed))])]

    async def userevent(self, session: Session, request: Request, msg: Pairs) -> Output:
        action_id = header(msg, "ActionID")
        name = header(msg, "UserEvent")
        if not name:
            return [error(action_id, "UserEvent header missing")]
        body = [(n, v) for n, v in msg
                if n.lower() not in ("action", "actionid", "userevent")]
        self.manager.bus.publish("UserEvent", perms.USER, [("UserEvent", name), *body])
        return [response("Success", action_id, [("Message", "Event Sent")])]

    # -- security events ---------------------------------------------------------------
    def security(self, name: str, session: Session, request: Request, extra: Pairs) -> None:
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}+0000"
        account = session.user.name if session.user else ""
        if name in ("InvalidPassword", "InvalidAccountID"):
            account = header([(n, v) for n, v in request.params], "Username")
        severity = "Informational" if name == "SuccessfulAuth" else "Error"
        version = "2" if name == "InvalidPassword" else "1"
        body = [("EventTV", stamp), ("Severity", severity), ("Service", "AMI"),
                ("EventVersion", version), ("AccountID", account),
                ("SessionID", f"0x{id(session):x}"),
                ("LocalAddress", f"IPV4/TCP/127.0.0.1/{request.local_port}"),
                ("RemoteAddress", f"IPV4/TCP/{request.remote[0]}/{request.remote[1]}"),
                *extra,
                ("SessionTV", stamp if name == "SuccessfulAuth" else "1970-01-01T00:00:00.000+0000")]
        self.manager.bus.publish(name, perms.SECURITY, body)


MAX_OPEN_REPEATS = 3


def regex_is_bounded(text: str) -> bool:
    """Whether a Filter pattern runs in bounded time under Python's backtracking ``re``.

    Refused: a repeat (``*``, ``+``, ``{m,}``, ``{m,n}`` with n > 1) around anything that itself
    repeats, alternates or refers back (``(a+)+``, ``(a|aa)*``, ``(x\\1)+``), which backtracks
    exponentially; backreferences and lookarounds anywhere; and more than ``MAX_OPEN_REPEATS``
    unbounded repeats in all (``.*.*.*.*x`` is O(n^k)).
    """
    from re import _parser as sre_parse  # type: ignore[attr-defined]

    try:
        tree = sre_parse.parse(text)
    except (re.error, RecursionError, OverflowError):
        return False
    constants = sre_parse  # opcodes are re-exported by the parser module
    repeats = (constants.MAX_REPEAT, constants.MIN_REPEAT, constants.POSSESSIVE_REPEAT)
    refused = (constants.GROUPREF, constants.GROUPREF_EXISTS, constants.ASSERT,
               constants.ASSERT_NOT)
    open_repeats = 0

    def walk(items: object, inside_repeat: bool) -> bool:
        nonlocal open_repeats
        for op, arg in items:  # type: ignore[attr-defined]
            if op in refused:
                return False
            if op in repeats:
                _low, high, sub = arg
                if high is sre_parse.MAXREPEAT:
                    open_repeats += 1
                if high is sre_parse.MAXREPEAT or high > 1:
                    if inside_repeat:
                        return False
                    if not walk(sub, True):
                        return False
                elif not walk(sub, inside_repeat):
                    return False
            elif op is constants.BRANCH:
                if inside_repeat:
                    return False
                if not all(walk(branch, inside_repeat) for branch in arg[1]):
                    return False
            elif op is constants.SUBPATTERN:
                if not walk(arg[-1], inside_repeat):
                    return False
            elif op is constants.ATOMIC_GROUP and not walk(arg, inside_repeat):
                return False
        return True

    return walk(tree, False) and open_repeats <= MAX_OPEN_REPEATS


def event_mask(text: str, readperm: int) -> int:
    """``strings_to_mask``: digits, a true/false word, or a class list; ANDed with read."""
    text = text.strip()
    if is_number(text):
        mask = int(text)
    elif is_false(text):  # ast_false before ast_true, as strings_to_mask asks
        mask = 0
    elif is_true(text):
        mask = perms.ALL
    else:
        mask = 0
        for name in text.split(","):
            mask |= perms.CLASSES.get(name.strip(), 0) or (perms.ALL if name.strip() == "all" else 0)
    return mask & readperm


def wait_timeout(text: str) -> float:
    """``sscanf("%30i")``: decimal, 0x hex or 0 octal; missing or bad → -1."""
    match = re.match(r"\s*([+-]?(?:0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*))", text or "")
    if not match:
        return -1
    value = int(match[1], 0) if not re.fullmatch(r"[+-]?0[0-7]+", match[1]) else int(match[1], 8)
    return float(value) if value >= -1 else -1
