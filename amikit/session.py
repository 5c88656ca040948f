"""An AMI session with no I/O: what to send, and what a reply means (over HTTP or TCP).

Both clients (:class:`amikit.AMIClient` for cells, :class:`amikit.AsyncAMIClient` for live
widgets) drive the same :class:`SessionCore`. Its operations are *flows*: generators that
yield an :class:`HTTPRequest` (or a :class:`Sleep`) and are sent back an
:class:`HTTPResponse`; a transport failure is thrown into them as
:class:`~amikit.errors.ConnectionLost`. A flow's return value is the result. So the rules
live once, here, and each client only moves bytes:

* cookie sessions log in with the Login action and carry ``mansession_id``; digest
  sessions answer Asterisk's challenge and need no Login;
* **re-login**: ``Permission denied`` *with a new* ``mansession_id`` means the server
  dropped the session (idle longer than httptimeout, a restart): log in once more, repeat
  the request, record a :class:`Gap`. With the cookie unchanged it is a real permission
  error: :class:`~amikit.errors.PermissionDenied`, never a loop;
* a new digest nonce after the first also starts a new server session: a :class:`Gap`;
* list actions (``EventList: start``) are collected to their ``EventList: Complete``
  event by rule, and ``ListItems`` is checked;
* one WaitEvent in flight per session; polling pauses after an empty answer and backs off
  when the server is down or answers 5xx, then gives up with
  :class:`~amikit.errors.ConnectionLost`;
* over TCP (``tcp://host:port``) the same flows run: each request carries its action as
  header ``pairs``, which the client's TCP transport writes on its one connection
  (:mod:`amikit.tcplink` correlates the reply and answers WaitEvent from the events the
  server pushed). The connection's number plays the cookie's part, so the re-login rule
  above also covers a connection that was lost and opened anew; Login is with ``Secret``
  or, with ``auth="md5"``, Challenge then ``AuthType: MD5`` and ``Key``;
* every request carries its overall deadline (``timeout``; a WaitEvent's own Timeout plus
  that) and the most reply bytes to accept (``max_reply_bytes``, decoded): a server that
  drips, or sends without end, ends in :class:`ReplyTimeout` or :class:`ReplyTooLarge`.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

from amikit import actions
from amikit.digest import DigestChallenge, authorization, parse_challenge
from amikit.errors import (
    ActionFailed,
    AuthenticationError,
    ClientBusy,
    ConnectionLost,
    HTTPStatusError,
    InvalidAction,
    InvalidSetting,
    PermissionDenied,
    ProtocolError,
    SessionExpired,
)
from amikit.message import SECRET_HEADERS, Message
from amikit.protocol import action_headers, is_true, parse_mxml, parse_rawman

__all__ = ["AUTHS", "CONNECTION_HEADER", "DEFAULT_MAX_EVENTS", "DEFAULT_MAX_REPLY_BYTES",
           "DROPPED_HEADER", "Gap", "HTTPRequest", "HTTPResponse", "ReplyTimeout",
           "ReplyTooLarge", "SessionCore", "Sleep", "masked_url"]

log = logging.getLogger("amikit.session")

Encoding = Literal["rawman", "mxml"]
#: cookie and digest are HTTP's ways in; plain (Login with Secret) and md5 (Challenge, then
#: Login with its Key) are TCP's.
Auth = Literal["cookie", "digest", "plain", "md5"]
T = TypeVar("T")

#: Asterisk refuses a request line over 4096 bytes and a body over 40960 (main/http.c).
MAX_REQUEST_LINE = 4096
MAX_BODY = 40960
_COOKIE = "mansession_id"
_NO_SESSION_ACTIONS = frozenset({"login", "logoff", "challenge"})
_PERMISSION_DENIED = "permission denied"
#: The most reply bytes (after gzip or deflate are undone) a client reads by default.
DEFAULT_MAX_REPLY_BYTES = 64 * 1024 * 1024
#: The most pushed events a TCP client holds unread; older ones are dropped (and counted).
DEFAULT_MAX_EVENTS = 10_000
#: Headers of a TCP transport's synthetic responses: which connection answered (it plays
#: the part of HTTP's session cookie) and how many events were dropped unread since the
#: last WaitEvent.
CONNECTION_HEADER = "x-amikit-connection"
DROPPED_HEADER = "x-amikit-dropped"
#: The ways to log in for each URL scheme, the default first (``auth=`` of the clients).
AUTHS: Mapping[str, tuple[Auth, ...]] = MappingProxyType({
    "http": ("cookie", "digest"), "https": ("cookie", "digest"), "tcp": ("plain", "md5")})


class ReplyTooLarge(ProtocolError):
    """The server's reply grew past the client's ``max_reply_bytes`` (counted decoded).

        >>> str(ReplyTooLarge("the reply from http://127.0.0.1:8088/rawman exceeded 64 MiB"))
        'the reply from http://127.0.0.1:8088/rawman exceeded 64 MiB'
    """


class ReplyTimeout(ConnectionLost):
    """No complete reply within the request's overall deadline (a dripping or stalled server).

    A :class:`~amikit.errors.ConnectionLost`, so polling backs off and retries as for a
    server that cannot be reached.

        >>> isinstance(ReplyTimeout("no complete reply within 10 s"), ConnectionLost)
        True
    """


def masked_url(url: str) -> str:
    """``url`` with the password of any ``user:password@`` replaced by ``***``.

        >>> masked_url("http://admin:s3cret@127.0.0.1:8088/rawman")
        'http://admin:***@127.0.0.1:8088/rawman'
        >>> masked_url("http://127.0.0.1:8088")
        'http://127.0.0.1:8088'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user, _, host = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{user.partition(':')[0]}:***@{host}"))


@dataclass(frozen=True)
class HTTPRequest:
    """One request a flow wants sent. ``content`` set means a POST form.

    ``pairs`` is the action itself (``Action`` first), so a TCP transport writes it as it
    is and nobody re-parses a query string. It and ``content`` may hold a Secret or Key,
    so the repr leaves both out.
    """

    method: str
    url: str
    headers: dict[str, str]
    content: bytes | None = field(repr=False)
    timeout: float  # the overall deadline, in seconds, for the whole exchange
    max_bytes: int = DEFAULT_MAX_REPLY_BYTES  # the most body bytes to read, decoded
    pairs: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    @property
    def action(self) -> str:
        """The action's name (``""`` for a request built without pairs).

            >>> HTTPRequest("AMI", "tcp://127.0.0.1:5038", {}, None, 10,
            ...             pairs=(("Action", "Ping"),)).action
            'Ping'
        """
        return self.pairs[0][1] if self.pairs else ""


@dataclass(frozen=True)
class HTTPResponse:
    """What came back: status, headers (lower-case names) and the body bytes.

    A TCP transport has parsed the messages already (the reply, then a list's items) and
    hands them over in ``messages``, so they are not rendered and parsed a second time.
    """

    status: int
    headers: Mapping[str, str]
    body: bytes
    messages: tuple[Message, ...] | None = None


@dataclass(frozen=True)
class Sleep:
    """A flow asks its driver to wait this long before going on."""

    seconds: float


@dataclass(frozen=True)
class Gap:
    """A moment where events may have been missed: the server session was replaced."""

    at: float  # epoch seconds
    reason: str


Flow = Generator[HTTPRequest | Sleep, Any, T]


@dataclass
class _State:
    cookie: str | None = None
    logged_in: bool = False
    challenge: DigestChallenge | None = None
    nc: int = 0
    waiting: bool = False
    gaps: list[Gap] = field(default_factory=list)


class SessionCore:
    """The rules of one AMI session over HTTP or TCP, as flows (see the module docstring).

    ``url`` is the server's base URL (scheme, host, port, any http.conf ``prefix``; e.g.
    ``http://127.0.0.1:8088``) or AMI's TCP port, ``tcp://127.0.0.1:5038``. ``auth`` is
    ``"cookie"`` (the default over HTTP) or ``"digest"``; over TCP ``"plain"`` (the default:
    Login with Secret) or ``"md5"``. ``events`` is the Login's ``Events`` header (an event
    mask such as ``"call,system"``, ``"off"``, or a bool); None sends none, so the user's
    read classes decide, which over TCP means events are pushed. ``max_events`` bounds the
    pushed events a TCP client holds unread. ``clock`` and ``wall`` are injectable for tests.

        >>> SessionCore("tcp://127.0.0.1:5038", "hello", "world", auth="md5")
        tcp://127.0.0.1:5038 user='hello' md5 auth, not logged in
    """

    def __init__(
        self,
        url: str,
        username: str,
        secret: str,
        *,
        encoding: Encoding = "rawman",
        auth: Auth | None = None,
        timeout: float = 10.0,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
        events: str | bool | None = None,
        max_events: int = DEFAULT_MAX_EVENTS,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in AUTHS or not parts.netloc:
            raise InvalidSetting(f"url must be a base URL like http://127.0.0.1:8088 or AMI's "
                                 f"TCP port like tcp://127.0.0.1:5038, not {masked_url(url)!r}")
        if parts.query or parts.fragment:
            raise InvalidSetting(f"url must have no query or fragment: {masked_url(url)!r}")
        #: True for AMI over TCP (``tcp://``), False for HTTP
        self.tcp = parts.scheme == "tcp"
        #: ``(host, port)`` of AMI's TCP port (None over HTTP)
        self.address: tuple[str, int] | None = None
        if self.tcp:
            _check_tcp_url(url)
            self.address = (parts.hostname or "", parts.port or 0)
        auth = auth if auth is not None else AUTHS[parts.scheme][0]
        if auth not in AUTHS[parts.scheme]:
            choices = " or ".join(repr(a) for a in AUTHS[parts.scheme])
            raise InvalidSetting(f"auth for {parts.scheme}:// must be {choices}, not {auth!r}")
        if encoding not in ("rawman", "mxml"):
            raise InvalidSetting(f"encoding must be 'rawman' or 'mxml', not {encoding!r}")
        if self.tcp and encoding != "rawman":
            raise InvalidSetting("over TCP AMI speaks plain text: encoding must be 'rawman'")
        if isinstance(max_events, bool) or not isinstance(max_events, int) or max_events < 1:
            raise InvalidSetting(f"max_events must be a positive whole number, not {max_events!r}")
        if isinstance(max_reply_bytes, bool) or not isinstance(max_reply_bytes, int) \
                or max_reply_bytes < 1:
            raise InvalidSetting(f"max_reply_bytes must be a positive whole number, not "
                                 f"{max_reply_bytes!r}")
        self.url = url.rstrip("/")
        self.username = username
        self._secret = secret
        self.encoding: Encoding = encoding
        self.auth: Auth = auth
        self.timeout = timeout
        self.max_reply_bytes = max_reply_bytes
        #: the Login's ``Events`` header (None: not sent)
        self.events = events
        self.max_events = max_events
        self._clock = clock
        self._wall = wall
        #: the URL requests go to (``…/rawman``, ``…/amxml`` …; over TCP the URL itself)
        self.endpoint = self.url if self.tcp else (
            self.url + ("/a" if auth == "digest" else "/") + encoding)
        self._path = urlsplit(self.endpoint).path
        # what messages and reprs show: a password in the URL stays out of them and so
        # out of logs and tracebacks
        self._shown = masked_url(self.endpoint)
        self._ids = itertools.count(1)
        self._id_prefix = f"amikit-{os.getpid():x}-{secrets.token_hex(2)}"
        self._lock = threading.Lock()
        self._state = _State()

    # -- public state ----------------------------------------------------------------
    @property
    def logged_in(self) -> bool:
        return self._state.logged_in

    @property
    def gaps(self) -> list[Gap]:
        """Moments where the server session was replaced and events may be missing."""
        return self._state.gaps

    def __repr__(self) -> str:
        state = "logged in" if self._state.logged_in else "not logged in"
        return f"{self._shown} user={self.username!r} {self.auth} auth, {state}"

    def clone(self, *, encoding: Encoding | None = None, auth: Auth | None = None,
              timeout: float | None = None) -> SessionCore:
        """A new session with the same URL, user and secret: not logged in, no gaps.

        Encoding, auth and timeout stay the same unless given (events and max_events
        stay). The secret is handed over without ever leaving the object, so callers need
        not (and cannot) read it.

            >>> core = SessionCore("http://127.0.0.1:8088", "hello", "world")
            >>> core.clone(auth="digest")
            http://127.0.0.1:8088/arawman user='hello' digest auth, not logged in
        """
        return SessionCore(self.url, self.username, self._secret,
                           encoding=self.encoding if encoding is None else encoding,
                           auth=self.auth if auth is None else auth,
                           timeout=self.timeout if timeout is None else timeout,
                           max_reply_bytes=self.max_reply_bytes, events=self.events,
                           max_events=self.max_events, clock=self._clock, wall=self._wall)

    # -- flows -----------------------------------------------------------------------
    def login_flow(self) -> Flow[Message]:
        """Log in: the Login action (cookie, plain), a Challenge then Login with the MD5 Key
        (md5), or a first authenticated Ping (digest)."""
        if self.auth == "digest":
            reply = _given("Ping", (yield from self._exchange("Ping", {}, timeout=self.timeout)))
            self._state.logged_in = True
            return self._checked("Ping", reply)
        # a fresh session: a stale cookie would only be replaced by the server anyway
        self._state.cookie = None
        credentials: dict[str, Any] = {"Secret": self._secret}
        if self.auth == "md5":
            credentials = {"AuthType": "MD5", "Key": (yield from self._md5_key())}
        events = {"Events": ("on" if self.events else "off") if isinstance(self.events, bool)
                  else self.events}
        reply = _given("Login", (yield from self._exchange(
            "Login", {"Username": self.username, **credentials, **events}, timeout=self.timeout
        )))
        if not reply.ok:
            self._state.logged_in = False
            raise AuthenticationError(
                f"Login refused for user {self.username!r} at {self._shown}: "
                f"{reply.get('Message', 'no reason given')}"
            )
        self._state.logged_in = True
        return reply

    def _md5_key(self) -> Flow[str]:
        """Ask for a Challenge; the Key is the lower-case hex MD5 of challenge + secret
        (``action_login`` compares it with strcmp, so the case matters)."""
        reply = _given("Challenge", (yield from self._exchange(
            "Challenge", {"AuthType": "MD5"}, timeout=self.timeout)))
        challenge = reply.get("Challenge")
        if not reply.ok or not challenge:
            raise AuthenticationError(
                f"no MD5 challenge from {self._shown}: {reply.get('Message', 'no reason given')}")
        return hashlib.md5((challenge + self._secret).encode(), usedforsecurity=False).hexdigest()

    def logoff_flow(self) -> Flow[Message]:
        """Log off and forget the session."""
        try:
            reply = _given("Logoff", (yield from self._exchange("Logoff", {}, timeout=self.timeout)))
        finally:
            self._state.logged_in = False
            self._state.cookie = None
            self._state.challenge = None
        return reply

    def action_flow(
        self, name: str, headers: Mapping[str, Any] | None = None, *, check: bool = True
    ) -> Flow[Message]:
        """Send one action and return its reply (list items in ``reply.events``).

        Raises :class:`~amikit.errors.ActionFailed` on ``Response: Error`` when ``check``.
        """
        headers = actions.canonical_headers(name, dict(headers or {}))
        actions.check_required(name, headers)
        lowered = name.lower()
        if lowered == "waitevent":
            reply = yield from self._wait_flow(_seconds(headers.get("Timeout"), 20.0), headers)
            if reply is None:
                return Message(defects=["WaitEvent kicked out by a newer WaitEvent (empty body)"])
            return self._checked(name, reply) if check else reply
        if lowered == "login":
            return (yield from self.login_flow())
        if lowered == "logoff":
            return (yield from self.logoff_flow())
        reply = _given(name, (yield from self._with_session(name, headers,
                                                             self._action_timeout(headers))))
        return self._checked(name, reply) if check else reply

    def wait_event_flow(self, timeout: float = 20.0) -> Flow[list[Message]]:
        """One WaitEvent: the events it returns, ``[]`` when it timed out or was kicked out."""
        reply = yield from self._wait_flow(timeout, {})
        if reply is None:  # kicked out by a newer WaitEvent on the same session
            return []
        events = self._checked("WaitEvent", reply).events
        now = self._wall()
        for event in events:
            if event.received_at is None:  # a TCP transport stamped it as it arrived
                event.received_at = now
        return events

    def _wait_flow(self, timeout: float, headers: Mapping[str, Any]) -> Flow[Message | None]:
        with self._lock:
            if self._state.waiting:
                raise ClientBusy(
                    "a WaitEvent is already in flight on this session; Asterisk keeps one "
                    "waiter per session (open a second client for a second poller)"
                )
            self._state.waiting = True
        try:
            return (yield from self._with_session(
                "WaitEvent", {**headers, "Timeout": int(timeout)}, timeout + self.timeout
            ))
        finally:
            self._state.waiting = False

    def poll_flow(
        self, timeout: float = 20.0, *, pause: float = 0.5, give_up_after: float = 30.0
    ) -> Flow[list[Message]]:
        """A WaitEvent that never spins and rides out a server that is briefly down.

        An empty answer that came back at once is followed by ``pause`` seconds of rest.
        When the server cannot be reached, or answers with a 5xx status (a proxy whose
        Asterisk is restarting, an overloaded server), retries back off (0.5 s, 1 s, 2 s …
        8 s) for up to ``give_up_after`` seconds, then :class:`~amikit.errors.ConnectionLost`;
        a :class:`Gap` records the outage once the server answers again.
        """
        failures = 0
        down_since: float | None = None
        trouble = "unreachable"
        while True:
            started = self._clock()
            try:
                events = yield from self.wait_event_flow(timeout)
            except (ConnectionLost, HTTPStatusError) as exc:
                # a 5xx is the server's trouble, not a wrong URL (4xx): as passing as a
                # refused connection, so it is ridden out the same way
                if isinstance(exc, HTTPStatusError) and exc.status_code < 500:
                    raise
                if isinstance(exc, HTTPStatusError):
                    trouble = f"answering HTTP {exc.status_code}"
                now = self._clock()
                down_since = now if down_since is None else down_since
                if now - down_since >= give_up_after:
                    raise ConnectionLost(
                        f"{self._shown} {trouble} for {now - down_since:.0f} s; gave up "
                        f"polling ({exc})"
                    ) from exc
                yield Sleep(min(0.5 * 2**failures, 8.0))
                failures += 1
                continue
            if down_since is not None:
                self._gap(f"server {trouble} for {self._clock() - down_since:.1f} s")
            if not events and self._clock() - started < pause:
                yield Sleep(pause)
            return events

    # -- the rules -------------------------------------------------------------------
    def _with_session(
        self, name: str, headers: Mapping[str, Any], timeout: float
    ) -> Flow[Message | None]:
        """Send an action inside a logged-in session, logging in again once if it was lost."""
        if self.auth == "digest":
            return (yield from self._exchange(name, headers, timeout=timeout))
        if not self._state.logged_in and name.lower() not in _NO_SESSION_ACTIONS:
            yield from self.login_flow()
        sent_cookie = self._state.cookie
        reply = yield from self._exchange(name, headers, timeout=timeout)
        if reply is None or not _is_permission_denied(reply) or self._state.cookie == sent_cookie:
            return reply  # with the cookie unchanged, Permission denied is a real one
        if self.tcp:
            self._gap("connection lost (a new connection answered Permission denied); logged "
                      "in again: events of the time in between are missing")
        else:
            self._gap(f"session lost (Permission denied with a new {_COOKIE}); logged in again")
        log.info("session at %s was lost; logging in again", self._shown)
        yield from self.login_flow()
        login_cookie = self._state.cookie
        again = yield from self._exchange(name, headers, timeout=timeout)
        if again is not None and _is_permission_denied(again) and self._state.cookie != login_cookie:
            raise SessionExpired(f"{self._shown} dropped the session again right after Login")
        return again

    def _exchange(
        self, name: str, headers: Mapping[str, Any], *, timeout: float
    ) -> Flow[Message | None]:
        """One request and its parsed reply; digest challenges answered on the way."""
        pairs = action_headers(name, headers)
        if not any(h.lower() == "actionid" for h, _ in pairs):
            pairs.insert(1, ("ActionID", f"{self._id_prefix}-{next(self._ids)}"))
        for _ in range(3):
            request = self._request(pairs, timeout)
            response = yield request
            if response.status == 401 and self.auth == "digest":
                self._take_challenge(response, answered="Authorization" in request.headers)
                continue
            return self._read(name, response)
        raise AuthenticationError(f"digest authentication at {self._shown} kept failing")

    def _request(self, pairs: list[tuple[str, str]], timeout: float) -> HTTPRequest:
        if self.tcp:
            return HTTPRequest("AMI", self.endpoint, {}, None, timeout, self.max_reply_bytes,
                               pairs=tuple(pairs))
        query = urlencode(pairs)
        headers: dict[str, str] = {}
        if self.auth == "cookie" and self._state.cookie is not None:
            headers["Cookie"] = f'{_COOKIE}="{self._state.cookie}"'
        target = f"{self._path}?{query}"
        # GET as the book does; a POST form when the request line would be too long for
        # Asterisk (a POST's query string is ignored, so everything goes in the body) or
        # when it carries a secret, which a URL would leave in every log on the way.
        # (SECRET_HEADERS: the headers a repr masks are the ones a URL must not carry)
        secret = any(name.lower() in SECRET_HEADERS for name, _ in pairs)
        if not secret and len(f"GET {target} HTTP/1.1\r\n".encode()) <= MAX_REQUEST_LINE:
            method, url, content, uri = "GET", self.endpoint + "?" + query, None, target
        else:
            content = query.encode()
            if len(content) > MAX_BODY:
                raise InvalidAction(
                    f"action {pairs[0][1]!r} is {len(content)} bytes encoded; Asterisk "
                    f"accepts at most {MAX_BODY}"
                )
            method, url, uri = "POST", self.endpoint, self._path
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.auth == "digest" and self._state.challenge is not None:
            with self._lock:
                self._state.nc += 1
                nc = self._state.nc
            headers["Authorization"] = authorization(
                self._state.challenge, self.username, self._secret, method, uri,
                nc=nc, cnonce=secrets.token_hex(8),
            )
        return HTTPRequest(method, url, headers, content, timeout, self.max_reply_bytes,
                           pairs=tuple(pairs))

    def _take_challenge(self, response: HTTPResponse, *, answered: bool) -> None:
        header = response.headers.get("www-authenticate")
        if header is None:
            raise HTTPStatusError(f"{self._shown} answered 401 without a challenge", status_code=401)
        challenge = parse_challenge(header)
        if answered and not challenge.stale:
            raise AuthenticationError(
                f"digest authentication refused for user {self.username!r} at {self._shown}"
            )
        if self._state.challenge is not None:
            self._gap("new digest nonce: the server started a new session")
        self._state.challenge = challenge
        self._state.nc = 0

    def _read(self, name: str, response: HTTPResponse) -> Message | None:
        if response.status != 200:
            raise HTTPStatusError(_status_text(self._shown, response.status),
                                  status_code=response.status)
        cookie = (response.headers.get(CONNECTION_HEADER) if self.tcp
                  else _cookie_from(response.headers.get("set-cookie")))
        if cookie is not None:
            self._state.cookie = cookie
        dropped = response.headers.get(DROPPED_HEADER, "0") if self.tcp else "0"
        if dropped != "0":
            self._gap(f"{dropped} events dropped unread: more came than the client holds "
                      f"(max_events={self.max_events}); read them more often or raise it")
        if response.messages is not None:
            return _collect(name, list(response.messages))
        if not response.body:
            if name.lower() == "waitevent":
                return None
            raise ProtocolError(f"empty reply to {name} from {self._shown}")
        parse = parse_rawman if self.encoding == "rawman" else parse_mxml
        try:
            messages = parse(response.body)
        except ProtocolError as exc:
            raise ProtocolError(f"reply to {name} from {self._shown}: {exc}",
                                messages=exc.messages) from None
        return _collect(name, messages)

    def _checked(self, name: str, reply: Message) -> Message:
        if reply.get("Response", "").lower() != "error":
            return reply
        text = reply.get("Message", "no message")
        kind = PermissionDenied if text.lower() == _PERMISSION_DENIED else ActionFailed
        raise kind(name, text, reply=reply)

    def _action_timeout(self, headers: Mapping[str, Any]) -> float:
        # A synchronous Originate blocks the HTTP request until answer or its Timeout.
        if "Timeout" in headers and not is_true(headers.get("Async")):
            return self.timeout + _seconds(headers["Timeout"], 30000.0) / 1000
        return self.timeout

    def _gap(self, reason: str) -> None:
        self._state.gaps.append(Gap(self._wall(), reason))


# -- pure helpers ------------------------------------------------------------------------
def _collect(name: str, messages: list[Message]) -> Message:
    """The reply, with the events that follow it in the body collected into ``reply.events``.

    A list (``EventList: start``) runs to the event with ``EventList: Complete``, whose
    ``ListItems`` must match; a WaitEvent runs to ``WaitEventComplete``.
    """
    if not messages or not messages[0].is_response:
        first = messages[0].headers[:3] if messages else []
        raise ProtocolError(f"reply to {name} does not start with a Response header: {first}")
    reply, rest = messages[0], messages[1:]
    if (reply.get("EventList") or "").lower() == "start":
        for i, event in enumerate(rest):
            if (event.get("EventList") or "").lower() == "complete":
                reply.events = rest[:i]
                _check_list_items(name, event, i)
                reply.events.append(event)
                return reply
        raise ProtocolError(f"{name} list not complete: no event with EventList: Complete "
                            f"after {len(rest)} items", messages=messages)
    if name.lower() == "waitevent" and reply.ok:
        if not rest or rest[-1].name != "WaitEventComplete":
            raise ProtocolError("WaitEvent reply does not end with WaitEventComplete",
                                messages=messages)
        reply.events = rest[:-1]
    elif rest:
        reply.events = rest
    return reply


def _check_list_items(name: str, complete: Message, count: int) -> None:
    stated = complete.get("ListItems")
    if stated is not None and stated.strip().isdigit() and int(stated) != count:
        raise ProtocolError(f"{name} list: {complete.name} says ListItems {stated}, "
                            f"{count} items arrived")


def _check_tcp_url(url: str) -> None:
    """``tcp://host:port``: the port is required (there is no path to add one to).

        >>> _check_tcp_url("tcp://127.0.0.1:5038/rawman")
        Traceback (most recent call last):
        ...
        amikit.errors.InvalidSetting: a TCP URL is tcp://host:port with no path, not 'tcp://127.0.0.1:5038/rawman'
    """
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.path not in ("", "/") or parts.username is not None:
        raise InvalidSetting(f"a TCP URL is tcp://host:port with no path, not {masked_url(url)!r}")
    if port is None or not parts.hostname:
        raise InvalidSetting(f"a TCP URL needs a host and a port (AMI's is 5038 by default): "
                             f"tcp://127.0.0.1:5038, not {masked_url(url)!r}")


def _given(name: str, reply: Message | None) -> Message:
    """The reply of an action other than WaitEvent (only a WaitEvent may come back empty)."""
    if reply is None:  # _read refuses an empty body for the others; kept for the type
        raise ProtocolError(f"empty reply to {name}")
    return reply


def _is_permission_denied(reply: Message) -> bool:
    return (reply.get("Response", "").lower() == "error"
            and reply.get("Message", "").lower() == _PERMISSION_DENIED)


def _cookie_from(set_cookie: str | None) -> str | None:
    if not set_cookie:
        return None
    for part in set_cookie.split(";"):
        name, eq, value = part.strip().partition("=")
        if eq and name.strip().lower() == _COOKIE:
            return value.strip().strip('"')
    return None


def _seconds(value: Any, default: float) -> float:
    """A Timeout header's number (``default`` when absent)."""
    if value is None or value == "":
        return default
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        raise InvalidAction(f"Timeout must be a number, not {value!r}", header="Timeout") from None


def _status_text(endpoint: str, status: int) -> str:
    if status == 404:
        return (f"{endpoint} answered 404 Not Found: HTTP AMI is not enabled there, or the URL "
                "or its prefix is wrong. On the server: manager.conf [general] enabled=yes and "
                "webenabled=yes; http.conf [general] enabled=yes (and check prefix=)")
    if status == 403:
        return f"{endpoint} answered 403 Forbidden: an http.conf ACL refuses this address"
    return f"{endpoint} answered HTTP {status}; AMI itself always answers 200"
