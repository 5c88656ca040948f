"""The clients: :class:`AMIClient` for notebook cells, :class:`AsyncAMIClient` for live widgets.

Both move bytes (with httpx over HTTP, on one socket over TCP) and leave every AMI rule to
one shared :class:`~amikit.session.SessionCore`; they differ only in how they wait. ::

    with AMIClient("http://127.0.0.1:8088", "hello", "world") as ami:
        ami.ping()["Ping"]                      # 'Pong'
        ami.originate(Channel="PJSIP/SOFTPHONE_A", Context="sets", Exten="103",
                      Priority=1, Async=True)
        for event in ami.events():             # WaitEvent long-polling, forever
            print(event.name, event.get("Channel"))

``url`` is the server's base URL (scheme, host, port and any http.conf ``prefix``); the
client adds ``/rawman``, ``/mxml``, ``/arawman`` or ``/amxml``. Note that ``localhost`` and
``127.0.0.1`` are different cookie hosts to a browser, and different sessions to Asterisk.

``url`` may also be AMI's TCP port, ``tcp://127.0.0.1:5038`` (Asterisk ships with HTTP AMI
off; TCP needs no http.conf). Every method works the same: the client keeps one
connection, reads the banner (:attr:`AMIClient.banner`), matches replies to actions by
ActionID, and keeps the events the server pushes (up to ``max_events``, the oldest
dropped and counted in :attr:`AMIClient.dropped_events` and :attr:`AMIClient.gaps`) until
:meth:`AMIClient.wait_event` or :meth:`AMIClient.events` hands them out. Login is with
Secret, or with ``auth="md5"`` by Challenge and MD5 Key; ``events=`` is Login's
``Events`` mask (events on by default). A lost connection is opened again at the next
action, which logs in again and records a gap; :meth:`AMIClient.events` rides out a
restart with back-off first. :meth:`AMIClient.close` logs off. (See :mod:`amikit.tcpconn`
for why a reader thread.)

A second session for the same user (a poller beside the cells, a probe) is
:meth:`AMIClient.clone`; ``clone(asynchronous=True)`` gives the asyncio twin of a sync client.
The secret stays inside the client: nothing needs to read it back.

A hostile or broken server cannot hold a client for ever nor fill its memory: ``timeout``
is each request's overall deadline (a WaitEvent's is its own Timeout plus ``timeout``),
however slowly the bytes come, and ``max_reply_bytes`` (64 MiB) bounds a reply, counted
after gzip is undone. They end in :class:`~amikit.session.ReplyTimeout` and
:class:`~amikit.session.ReplyTooLarge`, both :class:`~amikit.errors.AMIError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, Generic, Literal, Self, TypeVar, overload

import httpx

from amikit.actions import ActionInfo, canonical_headers, parse_list_commands
from amikit.errors import AMIError, ConnectionLost, ProtocolError
from amikit.message import Message
from amikit.session import (
    DEFAULT_MAX_EVENTS,
    DEFAULT_MAX_REPLY_BYTES,
    Auth,
    Encoding,
    Flow,
    Gap,
    HTTPRequest,
    HTTPResponse,
    ReplyTimeout,
    ReplyTooLarge,
    SessionCore,
    Sleep,
    masked_url,
)
from amikit.tcpconn import AsyncTCPConnection, TCPConnection

__all__ = ["AMIClient", "AsyncAMIClient"]

T = TypeVar("T")
U = TypeVar("U")


def _then(flow: Flow[T], fn: Callable[[T], U]) -> Flow[U]:
    return fn((yield from flow))


def _no_cookie_jar() -> CookieJar:
    # The session cookie is the core's business (it must see when the server replaces
    # it), so httpx keeps none of its own. (A CookieJar, not httpx.Cookies: httpx copies
    # the latter into a jar with the default policy.)
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


class _Deadline(dict[str, float]):
    """httpx's per-phase timeouts, each answering with the time left to one overall deadline.

    httpcore looks its timeout up (``.get("read")`` …) as each phase (connect, send,
    headers, body) begins, so no phase starts with more time than is left; the body is
    also checked chunk by chunk (:class:`_Body`). A synchronous client cannot interrupt a
    blocking read, so a server that drips its *headers* one byte per read is stopped only
    when the headers end (the asynchronous client cancels it at the deadline). ::

        >>> d = _Deadline(10.0)
        >>> 9.0 < d.get("read", None) <= 10.0, d.get("nonsense", None)
        (True, None)
    """

    def __init__(self, seconds: float) -> None:
        super().__init__(connect=seconds, read=seconds, write=seconds, pool=seconds)
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        """Seconds until the deadline (negative once it has passed)."""
        return self.at - time.monotonic()

    def get(self, key: str, default: Any = None) -> Any:
        # never 0 or less: a zero socket timeout means "don't block", which reports a
        # would-block error instead of the timeout that it is
        return max(self.left(), 0.001) if key in self else default

    def __getitem__(self, key: str) -> float:
        super().__getitem__(key)  # a KeyError for names that are not httpx's
        return max(self.left(), 0.001)


class _Body:
    """A reply body read as it streams: refused once past its size or its deadline.

        >>> body = _Body(HTTPRequest("GET", "http://127.0.0.1:8088/rawman", {}, None, 10, 4),
        ...              _Deadline(10))
        >>> body.add(b"abcd"); body.add(b"e")
        Traceback (most recent call last):
        ...
        amikit.session.ReplyTooLarge: the reply from http://127.0.0.1:8088/rawman exceeded 4 bytes
    """

    def __init__(self, request: HTTPRequest, deadline: _Deadline) -> None:
        self._request = request
        self._deadline = deadline
        self._chunks: list[bytes] = []
        self._size = 0

    def add(self, chunk: bytes) -> None:
        """One more decoded chunk."""
        self._size += len(chunk)
        if self._size > self._request.max_bytes:
            raise ReplyTooLarge(f"the reply from {_shown(self._request)} exceeded "
                                f"{_size(self._request.max_bytes)}")
        self._chunks.append(chunk)
        if self._deadline.left() < 0:
            raise _late(self._request)

    def content(self) -> bytes:
        """The whole body."""
        return b"".join(self._chunks)


def _shown(request: HTTPRequest) -> str:
    return masked_url(request.url.split("?", 1)[0])


def _late(request: HTTPRequest) -> ReplyTimeout:
    return ReplyTimeout(f"no complete reply from {_shown(request)} within {request.timeout:g} s")


def _size(count: int) -> str:
    """``count`` bytes for a message: ``64 MiB``, ``1.5 KiB``, ``7 bytes``."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= scale:
            return f"{count / scale:g} {unit}"
    return f"{count} bytes"


class _Steps(Generic[T]):
    """Walks a flow for a driver: hands it each reply (or transport failure) in turn.

    The two clients differ only in how they send and sleep; this is the rest.
    """

    def __init__(self, flow: Flow[T]) -> None:
        self._flow = flow
        self._reply: HTTPResponse | None = None
        self._error: BaseException | None = None
        self.value: T

    def next(self) -> HTTPRequest | Sleep | None:
        """The flow's next step, or None when it has finished (its result in ``value``)."""
        try:
            error, reply = self._error, self._reply
            step = self._flow.throw(error) if error is not None else self._flow.send(reply)
        except StopIteration as done:
            self.value = done.value
            return None
        self._reply = self._error = None
        return step

    def answer(self, raw: httpx.Response, body: bytes) -> None:
        self._reply = HTTPResponse(raw.status_code,
                                   {k.lower(): v for k, v in raw.headers.items()}, body)

    def give(self, response: HTTPResponse) -> None:
        """Hand the flow a response made without httpx (a TCP transport's)."""
        self._reply = response

    @contextlib.contextmanager
    def failing(self, request: HTTPRequest) -> Iterator[None]:
        """An AMIError raised in the body (a TCP exchange's) goes to the flow instead."""
        try:
            yield
        except AMIError as exc:
            self.fail(request, exc)

    def fail(self, request: HTTPRequest, exc: Exception) -> None:
        """Hand the flow an AMIError for what went wrong (httpx's own errors translated)."""
        if isinstance(exc, AMIError):
            self._error = exc
            return
        error: AMIError
        if isinstance(exc, httpx.TimeoutException):
            # every phase waits at most the time left, so any timeout is the deadline's
            error = _late(request)
        elif isinstance(exc, httpx.DecodingError):  # the server's bytes are bad, not lost
            error = ProtocolError(f"the reply from {_shown(request)} could not be decoded: {exc}")
        elif "Asterisk Call Manager" in str(exc):  # a banner where a status line should be
            error = ProtocolError(
                f"{_shown(request)} is AMI's TCP port, not its HTTP one: use a tcp:// URL "
                f"for it (e.g. tcp://host:5038), or the http.conf port (8088) for HTTP")
        else:
            error = ConnectionLost(
                f"cannot reach {_shown(request)}: {type(exc).__name__}: {exc or 'no detail'}")
        error.__cause__ = exc
        self._error = error


class _Client:
    """What both clients share: construction, state, :meth:`clone`, and each action's flow.

    The public action methods are written out in each client (plain in :class:`AMIClient`,
    ``async`` in :class:`AsyncAMIClient`) so that their types say what they return; each
    is one line that runs a flow built here, so the rules are still written once.
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
        transport: Any = None,
    ) -> None:
        self._setup(SessionCore(url, username, secret, encoding=encoding, auth=auth,
                                timeout=timeout, max_reply_bytes=max_reply_bytes,
                                events=events, max_events=max_events), transport)

    def _setup(self, core: SessionCore, transport: Any) -> None:
        if core.tcp and transport is not None:
            raise ValueError("transport= is an httpx transport, for HTTP URLs only")
        self._core = core
        self._transport = transport
        self._http = self._http_client(transport)
        self._tcp: Any = None
        if core.address is not None:
            host, port = core.address
            kind = AsyncTCPConnection if isinstance(self, AsyncAMIClient) else TCPConnection
            self._tcp = kind(host, port, shown=core.endpoint, max_events=core.max_events,
                             max_message=core.max_reply_bytes,
                             max_reply_bytes=core.max_reply_bytes)
            # a client dropped without close() must not leave its reader (thread or task)
            # reading, and the server's session open, until the process ends; the async
            # one's task is cancelled if its loop still runs
            weakref.finalize(self, self._tcp.close if kind is TCPConnection
                             else self._tcp.close_soon)

    @classmethod
    def from_env(cls, **kwargs: Any) -> Self:
        """A client for ``AMIKIT_URL`` as ``AMIKIT_USER`` with ``AMIKIT_SECRET``."""
        missing = [v for v in ("AMIKIT_URL", "AMIKIT_USER", "AMIKIT_SECRET")
                   if not os.environ.get(v)]
        if missing:
            raise AMIError(f"set {', '.join(missing)} to connect from the environment")
        env = os.environ
        return cls(env["AMIKIT_URL"], env["AMIKIT_USER"], env["AMIKIT_SECRET"], **kwargs)

    def _http_client(self, transport: Any) -> Any:  # pragma: no cover - each client's own
        raise NotImplementedError

    # -- what it talks to --------------------------------------------------------------
    @property
    def url(self) -> str:
        """The base URL this client talks to."""
        return self._core.url

    @property
    def endpoint(self) -> str:
        """The URL requests go to: :attr:`url` plus ``/rawman``, ``/mxml``, ``/arawman`` …"""
        return self._core.endpoint

    @property
    def username(self) -> str:
        """The manager.conf user this client logs in as (the secret is never readable)."""
        return self._core.username

    @property
    def encoding(self) -> Encoding:
        """``"rawman"`` or ``"mxml"`` (always ``"rawman"`` over TCP)."""
        return self._core.encoding

    @property
    def auth(self) -> Auth:
        """``"cookie"`` or ``"digest"`` over HTTP; ``"plain"`` or ``"md5"`` over TCP."""
        return self._core.auth

    @property
    def transport_kind(self) -> Literal["http", "tcp"]:
        """``"tcp"`` for a ``tcp://`` URL (events pushed on one connection), else ``"http"``."""
        return "tcp" if self._core.tcp else "http"

    @property
    def banner(self) -> str | None:
        """Over TCP, the server's first line (``Asterisk Call Manager/12.0.0``) once
        connected; None over HTTP, which has no banner."""
        return self._tcp.banner if self._tcp is not None else None

    @property
    def dropped_events(self) -> int:
        """Over TCP, the pushed events dropped unread because ``max_events`` were waiting
        (each drop is also in :attr:`gaps`); always 0 over HTTP, where Asterisk queues."""
        return self._tcp.dropped_events if self._tcp is not None else 0

    @property
    def timeout(self) -> float:
        """Seconds to wait for an ordinary reply."""
        return self._core.timeout

    @property
    def max_reply_bytes(self) -> int:
        """The most bytes of one reply the client reads (after gzip); more is an error."""
        return self._core.max_reply_bytes

    @property
    def gaps(self) -> list[Gap]:
        """Moments where the server replaced the session and events may be missing."""
        return self._core.gaps

    @property
    def logged_in(self) -> bool:
        """Whether this client's session is logged in (as far as the client knows; over
        TCP the session ends with its connection)."""
        return self._core.logged_in and (self._tcp is None or self._tcp.connected)

    @property
    def _log_off_before_closing(self) -> bool:
        """Over TCP, a logged-in client logs off before hanging up, as Asterisk expects."""
        return self._tcp is not None and self.logged_in

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._core!r}>"

    # -- a second session ----------------------------------------------------------------
    @overload
    def clone(self, *, asynchronous: None = None, encoding: Encoding | None = None,
              auth: Auth | None = None, timeout: float | None = None,
              transport: Any = ...) -> Self: ...
    @overload
    def clone(self, *, asynchronous: Literal[True], encoding: Encoding | None = None,
              auth: Auth | None = None, timeout: float | None = None,
              transport: Any = ...) -> AsyncAMIClient: ...
    @overload
    def clone(self, *, asynchronous: Literal[False], encoding: Encoding | None = None,
              auth: Auth | None = None, timeout: float | None = None,
              transport: Any = ...) -> AMIClient: ...

    def clone(self, *, asynchronous: bool | None = None, encoding: Encoding | None = None,
              auth: Auth | None = None, timeout: float | None = None,
              transport: Any = ...) -> _Client:
        """A second, not yet logged-in session: same URL, user, secret, encoding, auth, timeout.

        It is a client of the same kind, or with ``asynchronous=True`` an
        :class:`AsyncAMIClient` (``False``: an :class:`AMIClient`), e.g. for a poller that
        runs beside the cells. ``encoding``, ``auth`` and ``timeout`` change those options
        for the new session only. A transport given to this client is used by the clone
        too when it serves the clone's kind (``httpx.MockTransport`` serves both);
        otherwise pass ``transport=`` (``None``: httpx's default). The two sessions are
        independent: each has its own cookie, WaitEvent and gaps, and each is closed on
        its own. ::

            >>> ami = AMIClient("http://127.0.0.1:8088", "hello", "world")
            >>> ami.clone(asynchronous=True, encoding="mxml")
            <AsyncAMIClient http://127.0.0.1:8088/mxml user='hello' cookie auth, not logged in>
        """
        kind: type[AMIClient | AsyncAMIClient]
        if asynchronous is None:
            kind = AsyncAMIClient if isinstance(self, AsyncAMIClient) else AMIClient
        else:
            kind = AsyncAMIClient if asynchronous else AMIClient
        if transport is ...:
            transport = self._transport
            serves = httpx.AsyncBaseTransport if kind is AsyncAMIClient else httpx.BaseTransport
            if transport is not None and not isinstance(transport, serves):
                raise TypeError(
                    f"this client's transport ({type(transport).__name__}) cannot serve an "
                    f"{kind.__name__}: pass clone(transport=...) (None for httpx's default)")
        twin = kind.__new__(kind)
        twin._setup(self._core.clone(encoding=encoding, auth=auth, timeout=timeout), transport)
        return twin

    # -- the flow behind each action, for both clients -----------------------------------
    def _hangup_flow(self, channel: str | None, cause: int | None,
                     headers: dict[str, Any]) -> Flow[Message]:
        given = canonical_headers("Hangup", headers)
        given.setdefault("Channel", channel)
        given.setdefault("Cause", cause)
        return self._core.action_flow("Hangup", given)

    def _command_flow(self, command: str, headers: dict[str, Any]) -> Flow[list[str]]:
        flow = self._core.action_flow("Command", {"Command": command, **headers})
        return _then(flow, lambda reply: reply.getall("Output"))

    def _getvar_flow(self, variable: str, channel: str | None) -> Flow[str]:
        flow = self._core.action_flow("Getvar", {"Variable": variable, "Channel": channel})
        return _then(flow, lambda reply: reply.get("Value", ""))

    def _setvar_flow(self, variable: str, value: str, channel: str | None) -> Flow[Message]:
        return self._core.action_flow("Setvar", {"Variable": variable, "Value": value,
                                                 "Channel": channel})

    def _core_show_channels_flow(self) -> Flow[list[Message]]:
        flow = self._core.action_flow("CoreShowChannels")
        return _then(flow, lambda reply: [e for e in reply.events if e.name == "CoreShowChannel"])

    def _list_commands_flow(self) -> Flow[dict[str, ActionInfo]]:
        return _then(self._core.action_flow("ListCommands"), parse_list_commands)


def _matches(event: Message, names: frozenset[str] | None) -> bool:
    return names is None or (event.name or "").lower() in names


def _names(names: Iterable[str] | None) -> frozenset[str] | None:
    return None if names is None else frozenset(n.lower() for n in names)


class AMIClient(_Client):
    """A synchronous AMI client (over HTTP or TCP), for notebook cells and scripts.

    Args:
        url: the server's base URL, e.g. ``http://127.0.0.1:8088``, or its TCP port,
            ``tcp://127.0.0.1:5038``.
        username, secret: a manager.conf user.
        encoding: ``"rawman"`` (plain AMI text) or ``"mxml"`` (XML; HTTP only).
        auth: over HTTP ``"cookie"`` (the default: Login action, ``mansession_id`` cookie)
            or ``"digest"`` (HTTP digest on ``/arawman`` or ``/amxml``, no Login action);
            over TCP ``"plain"`` (the default: Login with Secret) or ``"md5"`` (Challenge,
            then Login with the MD5 Key; the secret never crosses the wire).
        timeout: each request's overall deadline in seconds, however slowly the reply
            comes (a WaitEvent's is its own Timeout plus this; a synchronous Originate's
            its Timeout plus this): past it, :class:`~amikit.session.ReplyTimeout`.
        max_reply_bytes: the most bytes of one reply to read, counted after gzip or
            deflate are undone (default 64 MiB): more is
            :class:`~amikit.session.ReplyTooLarge`.
        events: Login's ``Events`` header: an event mask (``"call,system"``), ``"off"``, or
            a bool; None (the default) sends none, so the user's read classes decide.
        max_events: over TCP, the most pushed events held until read (default 10 000);
            older ones are dropped, counted in :attr:`dropped_events` and :attr:`gaps`.
        transport: an httpx transport (tests pass ``httpx.MockTransport``); HTTP only.

    A context manager: logs in on enter, logs off on exit. Used without ``with`` it logs in
    at the first action. Keyword names of the action methods are AMI header names, matched
    case-insensitively (``channel=`` is ``Channel``). ::

        with AMIClient("http://127.0.0.1:8088", "hello", "world") as ami:
            ami.ping()["Ping"]          # 'Pong'

    :meth:`clone` opens a second session for the same user.
    """

    def _http_client(self, transport: httpx.BaseTransport | None) -> httpx.Client:
        return httpx.Client(transport=transport, cookies=_no_cookie_jar(),
                            headers={"User-Agent": "amikit"})

    def _run(self, flow: Flow[T]) -> T:
        steps = _Steps(flow)
        while (step := steps.next()) is not None:
            if isinstance(step, Sleep):
                time.sleep(step.seconds)
                continue
            if self._tcp is not None:
                with steps.failing(step):
                    steps.give(self._tcp.exchange(step))
                continue
            deadline = _Deadline(step.timeout)
            request = self._http.build_request(step.method, step.url, headers=step.headers,
                                               content=step.content,
                                               extensions={"timeout": deadline})
            try:
                raw = self._http.send(request, stream=True)
                try:
                    body = _Body(step, deadline)
                    for chunk in raw.iter_bytes():
                        body.add(chunk)
                finally:
                    raw.close()  # also mid-body: the rest is never read
                steps.answer(raw, body.content())
            except (httpx.TransportError, httpx.DecodingError, ReplyTooLarge, ReplyTimeout) as exc:
                steps.fail(step, exc)
        return steps.value

    def login(self) -> Message:
        """Log in (cookie: the Login action; digest: a first authenticated Ping)."""
        return self._run(self._core.login_flow())

    def logoff(self) -> Message:
        """Log off: the server ends the session (``Response: Goodbye``)."""
        return self._run(self._core.logoff_flow())

    def action(self, name: str, /, *, check: bool = True, **headers: Any) -> Message:
        """Send any action and return its reply.

        An ActionID is added when none is given. A list action's items are in
        ``reply.events`` (its ``…Complete`` event last). ``Response: Error`` raises
        :class:`~amikit.errors.ActionFailed` (its text includes the server's Message)
        unless ``check=False``. A header value may be a list (repeated header) or, for
        Variable, a dict::

            client.action("Originate", Channel="Local/101@sets", Application="Wait",
                          Data="5", Variable={"A": "1", "B": "2"})
        """
        return self._run(self._core.action_flow(name, headers, check=check))

    def ping(self, **headers: Any) -> Message:
        """``Ping``: the reply has ``Ping: Pong`` and the server's ``Timestamp``."""
        return self._run(self._core.action_flow("Ping", headers))

    def originate(self, **headers: Any) -> Message:
        """``Originate`` a call (the book's table of headers).

        Channel is required, with either Context+Exten+Priority or Application(+Data);
        optional Timeout (ms), CallerID, Account, Variable (list or dict), Codecs,
        EarlyMedia, Async, ChannelId, OtherChannelId. Without ``Async=True`` Asterisk
        answers only when the call is answered or times out::

            client.originate(Channel="PJSIP/SOFTPHONE_A", Context="sets", Exten="103",
                             Priority=1, Async=True)
        """
        return self._run(self._core.action_flow("Originate", headers))

    def redirect(self, **headers: Any) -> Message:
        """``Redirect`` a channel to Context/Exten/Priority; with ExtraChannel (and
        ExtraContext/ExtraExten/ExtraPriority) a second channel moves at the same time."""
        return self._run(self._core.action_flow("Redirect", headers))

    def hangup(self, channel: str | None = None, cause: int | None = None,
               **headers: Any) -> Message:
        """``Hangup`` a channel (a name, or ``/regex/`` for many) with an optional Cause."""
        return self._run(self._hangup_flow(channel, cause, headers))

    def command(self, command: str, **headers: Any) -> list[str]:
        """Run a CLI ``Command`` and return its ``Output`` lines."""
        return self._run(self._command_flow(command, headers))

    def getvar(self, variable: str, channel: str | None = None) -> str:
        """The value of a variable or function (global when ``channel`` is None)."""
        return self._run(self._getvar_flow(variable, channel))

    def setvar(self, variable: str, value: str, channel: str | None = None) -> Message:
        """Set a variable or function (global when ``channel`` is None)."""
        return self._run(self._setvar_flow(variable, value, channel))

    def core_show_channels(self) -> list[Message]:
        """The ``CoreShowChannel`` events of every active channel."""
        return self._run(self._core_show_channels_flow())

    def list_commands(self) -> dict[str, ActionInfo]:
        """The actions this user may run, by name, with synopsis and write classes."""
        return self._run(self._list_commands_flow())

    def wait_event(self, timeout: float = 20.0) -> list[Message]:
        """One ``WaitEvent``: the events queued for this session, waiting up to ``timeout`` s.

        The ``WaitEventComplete`` marker is consumed. Asterisk caps the wait at its
        httptimeout minus 10 s. Raises :class:`~amikit.errors.ClientBusy` if a WaitEvent
        is already in flight on this client.
        """
        return self._run(self._core.wait_event_flow(timeout))

    def events(self, timeout: float = 20.0, *, names: Iterable[str] | None = None,
               pause: float = 0.5, give_up_after: float = 30.0) -> Iterator[Message]:
        """Poll WaitEvent for ever, yielding each event (only ``names`` when given).

        Never spins (an empty answer that came back at once is followed by ``pause`` s),
        logs in again when the session expires (see :attr:`gaps`), and backs off when the
        server is down, raising :class:`~amikit.errors.ConnectionLost` after
        ``give_up_after`` s. Stop with ``break`` or ``itertools.islice``.
        """
        wanted = _names(names)
        while True:
            for event in self._run(self._core.poll_flow(timeout, pause=pause,
                                                        give_up_after=give_up_after)):
                if _matches(event, wanted):
                    yield event

    def close(self) -> None:
        """Close the HTTP connections (does not log off: the server expires the session).

        Over TCP, log off first if logged in (as Asterisk expects before a hang-up), then
        close the connection.
        """
        if self._tcp is not None:
            try:
                if self._log_off_before_closing:
                    self.logoff()
            except AMIError:
                pass  # the connection is going anyway
            finally:
                self._tcp.close()
        self._http.close()

    def __enter__(self) -> Self:
        self.login()
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self.logged_in:
                self.logoff()
        except AMIError:
            pass  # the server may be gone; it expires the session after httptimeout
        finally:
            self.close()


class AsyncAMIClient(_Client):
    """The same client for asyncio (live widgets): every action method is a coroutine.

    It takes the arguments of :class:`AMIClient`, and its methods are the same, each
    documented there. ::

        async with AsyncAMIClient("http://127.0.0.1:8088", "hello", "world") as ami:
            reply = await ami.ping()
            async for event in ami.events():
                ...
    """

    def _http_client(self, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=transport, cookies=_no_cookie_jar(),
                                 headers={"User-Agent": "amikit"})

    async def _run(self, flow: Flow[T]) -> T:
        steps = _Steps(flow)
        while (step := steps.next()) is not None:
            if isinstance(step, Sleep):
                await asyncio.sleep(step.seconds)
                continue
            if self._tcp is not None:
                with steps.failing(step):
                    steps.give(await self._tcp.exchange(step))
                continue
            deadline = _Deadline(step.timeout)
            request = self._http.build_request(step.method, step.url, headers=step.headers,
                                               content=step.content,
                                               extensions={"timeout": deadline})
            try:
                # asyncio can cancel a read at any moment, so here the deadline is exact,
                # also for a server that drips its headers
                async with asyncio.timeout(step.timeout):
                    raw = await self._http.send(request, stream=True)
                    try:
                        body = _Body(step, deadline)
                        async for chunk in raw.aiter_bytes():
                            body.add(chunk)
                    finally:
                        await raw.aclose()  # also mid-body: the rest is never read
                steps.answer(raw, body.content())
            except TimeoutError:
                steps.fail(step, _late(step))
            except (httpx.TransportError, httpx.DecodingError, ReplyTooLarge, ReplyTimeout) as exc:
                steps.fail(step, exc)
        return steps.value

    async def login(self) -> Message:
        """:meth:`AMIClient.login`, awaited."""
        return await self._run(self._core.login_flow())

    async def logoff(self) -> Message:
        """:meth:`AMIClient.logoff`, awaited."""
        return await self._run(self._core.logoff_flow())

    async def action(self, name: str, /, *, check: bool = True, **headers: Any) -> Message:
        """:meth:`AMIClient.action`, awaited."""
        return await self._run(self._core.action_flow(name, headers, check=check))

    async def ping(self, **headers: Any) -> Message:
        """:meth:`AMIClient.ping`, awaited."""
        return await self._run(self._core.action_flow("Ping", headers))

    async def originate(self, **headers: Any) -> Message:
        """:meth:`AMIClient.originate`, awaited."""
        return await self._run(self._core.action_flow("Originate", headers))

    async def redirect(self, **headers: Any) -> Message:
        """:meth:`AMIClient.redirect`, awaited."""
        return await self._run(self._core.action_flow("Redirect", headers))

    async def hangup(self, channel: str | None = None, cause: int | None = None,
                     **headers: Any) -> Message:
        """:meth:`AMIClient.hangup`, awaited."""
        return await self._run(self._hangup_flow(channel, cause, headers))

    async def command(self, command: str, **headers: Any) -> list[str]:
        """:meth:`AMIClient.command`, awaited."""
        return await self._run(self._command_flow(command, headers))

    async def getvar(self, variable: str, channel: str | None = None) -> str:
        """:meth:`AMIClient.getvar`, awaited."""
        return await self._run(self._getvar_flow(variable, channel))

    async def setvar(self, variable: str, value: str, channel: str | None = None) -> Message:
        """:meth:`AMIClient.setvar`, awaited."""
        return await self._run(self._setvar_flow(variable, value, channel))

    async def core_show_channels(self) -> list[Message]:
        """:meth:`AMIClient.core_show_channels`, awaited."""
        return await self._run(self._core_show_channels_flow())

    async def list_commands(self) -> dict[str, ActionInfo]:
        """:meth:`AMIClient.list_commands`, awaited."""
        return await self._run(self._list_commands_flow())

    async def wait_event(self, timeout: float = 20.0) -> list[Message]:
        """:meth:`AMIClient.wait_event`, awaited."""
        return await self._run(self._core.wait_event_flow(timeout))

    async def events(self, timeout: float = 20.0, *, names: Iterable[str] | None = None,
                     pause: float = 0.5, give_up_after: float = 30.0) -> AsyncIterator[Message]:
        """Poll WaitEvent for ever (see :meth:`AMIClient.events`)."""
        wanted = _names(names)
        while True:
            batch = await self._run(self._core.poll_flow(timeout, pause=pause,
                                                         give_up_after=give_up_after))
            for event in batch:
                if _matches(event, wanted):
                    yield event

    async def close(self) -> None:
        """:meth:`AMIClient.close`, awaited."""
        if self._tcp is not None:
            try:
                if self._log_off_before_closing:
                    await self.logoff()
            except AMIError:
                pass
            finally:
                await self._tcp.close()
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        await self.login()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            if self.logged_in:
                await self.logoff()
        except AMIError:
            pass
        finally:
            await self.close()
