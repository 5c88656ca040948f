"""The HTTP clients: :class:`AMIClient` for notebook cells, :class:`AsyncAMIClient` for live widgets.

Both move bytes with httpx and leave every AMI rule to one shared
:class:`~amikit.session.SessionCore`; they differ only in how they wait. ::

    with AMIClient("http://127.0.0.1:8088", "hello", "world") as ami:
        ami.ping()["Ping"]                      # 'Pong'
        ami.originate(Channel="PJSIP/SOFTPHONE_A", Context="sets", Exten="103",
                      Priority=1, Async=True)
        for event in ami.events():             # WaitEvent long-polling, forever
            print(event.name, event.get("Channel"))

``url`` is the server's base URL (scheme, host, port and any http.conf ``prefix``); the
client adds ``/rawman``, ``/mxml``, ``/arawman`` or ``/amxml``. Note that ``localhost`` and
``127.0.0.1`` are different cookie hosts to a browser, and different sessions to Asterisk.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, Generic, TypeVar

import httpx

from amikit.actions import ActionInfo, canonical_headers, parse_list_commands
from amikit.errors import AMIError, ConnectionLost
from amikit.message import Message
from amikit.session import (
    Auth,
    Encoding,
    Flow,
    Gap,
    HTTPRequest,
    HTTPResponse,
    SessionCore,
    Sleep,
)

__all__ = ["AMIClient", "AsyncAMIClient"]

T = TypeVar("T")
U = TypeVar("U")
C = TypeVar("C", bound="_Actions")


def _then(flow: Flow[T], fn: Callable[[T], U]) -> Flow[U]:
    return fn((yield from flow))


def _no_cookie_jar() -> CookieJar:
    # The session cookie is the core's business (it must see when the server replaces
    # it), so httpx keeps none of its own. (A CookieJar, not httpx.Cookies: httpx copies
    # the latter into a jar with the default policy.)
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


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
            step = self._flow.throw(error) if error is not None else self._flow.send(reply)  # type: ignore[arg-type]
        except StopIteration as done:
            self.value = done.value
            return None
        self._reply = self._error = None
        return step

    def answer(self, raw: httpx.Response) -> None:
        self._reply = HTTPResponse(raw.status_code,
                                   {k.lower(): v for k, v in raw.headers.items()}, raw.content)

    def fail(self, request: HTTPRequest, exc: httpx.TransportError) -> None:
        url = request.url.split("?", 1)[0]
        lost = ConnectionLost(f"cannot reach {url}: {type(exc).__name__}: {exc or 'no detail'}")
        lost.__cause__ = exc
        self._error = lost


class _Actions:
    """The actions of the book, written once for both clients.

    Each method hands a flow to ``self._run``: the sync client returns its result, the
    async client an awaitable of it. Keyword names are AMI header names, matched
    case-insensitively (``channel=`` is ``Channel``).
    """

    def __init__(
        self,
        url: str,
        username: str,
        secret: str,
        *,
        encoding: Encoding = "rawman",
        auth: Auth = "cookie",
        timeout: float = 10.0,
        transport: Any = None,
    ) -> None:
        self._core = SessionCore(url, username, secret, encoding=encoding, auth=auth,
                                 timeout=timeout)
        self._http = self._http_client(transport)

    @classmethod
    def from_env(cls: type[C], **kwargs: Any) -> C:
        """A client for ``AMIKIT_URL`` as ``AMIKIT_USER`` with ``AMIKIT_SECRET``."""
        missing = [v for v in ("AMIKIT_URL", "AMIKIT_USER", "AMIKIT_SECRET")
                   if not os.environ.get(v)]
        if missing:
            raise AMIError(f"set {', '.join(missing)} to connect from the environment")
        env = os.environ
        return cls(env["AMIKIT_URL"], env["AMIKIT_USER"], env["AMIKIT_SECRET"], **kwargs)

    def _http_client(self, transport: Any) -> Any:  # pragma: no cover - each client's own
        raise NotImplementedError

    def _run(self, flow: Flow[Any]) -> Any:  # pragma: no cover - each client's own
        raise NotImplementedError

    @property
    def url(self) -> str:
        """The base URL this client talks to."""
        return self._core.url

    @property
    def gaps(self) -> list[Gap]:
        """Moments where the server replaced the session and events may be missing."""
        return self._core.gaps

    @property
    def logged_in(self) -> bool:
        return self._core.logged_in

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._core!r}>"

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
        return self.action("Ping", **headers)

    def originate(self, **headers: Any) -> Message:
        """``Originate`` a call (the book's table of headers).

        Channel is required, with either Context+Exten+Priority or Application(+Data);
        optional Timeout (ms), CallerID, Account, Variable (list or dict), Codecs,
        EarlyMedia, Async, ChannelId, OtherChannelId. Without ``Async=True`` Asterisk
        answers only when the call is answered or times out::

            client.originate(Channel="PJSIP/SOFTPHONE_A", Context="sets", Exten="103",
                             Priority=1, Async=True)
        """
        return self.action("Originate", **headers)

    def redirect(self, **headers: Any) -> Message:
        """``Redirect`` a channel to Context/Exten/Priority; with ExtraChannel (and
        ExtraContext/ExtraExten/ExtraPriority) a second channel moves at the same time."""
        return self.action("Redirect", **headers)

    def hangup(self, channel: str | None = None, cause: int | None = None,
               **headers: Any) -> Message:
        """``Hangup`` a channel (a name, or ``/regex/`` for many) with an optional Cause."""
        given = canonical_headers("Hangup", headers)
        given.setdefault("Channel", channel)
        given.setdefault("Cause", cause)
        return self.action("Hangup", **given)

    def command(self, command: str, **headers: Any) -> list[str]:
        """Run a CLI ``Command`` and return its ``Output`` lines."""
        flow = self._core.action_flow("Command", {"Command": command, **headers})
        return self._run(_then(flow, lambda reply: reply.getall("Output")))

    def getvar(self, variable: str, channel: str | None = None) -> str:
        """The value of a variable or function (global when ``channel`` is None)."""
        flow = self._core.action_flow("Getvar", {"Variable": variable, "Channel": channel})
        return self._run(_then(flow, lambda reply: reply.get("Value", "")))

    def setvar(self, variable: str, value: str, channel: str | None = None) -> Message:
        """Set a variable or function (global when ``channel`` is None)."""
        return self.action("Setvar", Variable=variable, Value=value, Channel=channel)

    def core_show_channels(self) -> list[Message]:
        """The ``CoreShowChannel`` events of every active channel."""
        flow = self._core.action_flow("CoreShowChannels")
        return self._run(_then(flow, lambda reply: [e for e in reply.events
                                                    if e.name == "CoreShowChannel"]))

    def list_commands(self) -> dict[str, ActionInfo]:
        """The actions this user may run, by name, with synopsis and write classes."""
        return self._run(_then(self._core.action_flow("ListCommands"), parse_list_commands))

    def wait_event(self, timeout: float = 20.0) -> list[Message]:
        """One ``WaitEvent``: the events queued for this session, waiting up to ``timeout`` s.

        The ``WaitEventComplete`` marker is consumed. Asterisk caps the wait at its
        httptimeout minus 10 s. Raises :class:`~amikit.errors.ClientBusy` if a WaitEvent
        is already in flight on this client.
        """
        return self._run(self._core.wait_event_flow(timeout))


def _matches(event: Message, names: frozenset[str] | None) -> bool:
    return names is None or (event.name or "").lower() in names


def _names(names: Iterable[str] | None) -> frozenset[str] | None:
    return None if names is None else frozenset(n.lower() for n in names)


class AMIClient(_Actions):
    """A synchronous AMI-over-HTTP client, for notebook cells and scripts.

    Args:
        url: the server's base URL, e.g. ``http://127.0.0.1:8088``.
        username, secret: a manager.conf user.
        encoding: ``"rawman"`` (plain AMI text) or ``"mxml"`` (XML).
        auth: ``"cookie"`` (Login action, ``mansession_id`` cookie) or ``"digest"``
            (HTTP digest on ``/arawman`` or ``/amxml``, no Login action).
        timeout: seconds to wait for an ordinary reply.
        transport: an httpx transport (tests pass ``httpx.MockTransport``).

    A context manager: logs in on enter, logs off on exit. Used without ``with`` it logs in
    at the first action. ::

        with AMIClient("http://127.0.0.1:8088", "hello", "world") as ami:
            ami.ping()["Ping"]          # 'Pong'
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
            try:
                steps.answer(self._http.request(step.method, step.url, headers=step.headers,
                                                content=step.content, timeout=step.timeout))
            except httpx.TransportError as exc:
                steps.fail(step, exc)
        return steps.value

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
        """Close the HTTP connections (does not log off)."""
        self._http.close()

    def __enter__(self) -> AMIClient:
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


class AsyncAMIClient(_Actions):
    """The same client for asyncio (live widgets): every method returns an awaitable.

    ::

        async with AsyncAMIClient("http://127.0.0.1:8088", "hello", "world") as ami:
            reply = await ami.ping()
            async for event in ami.events():
                ...
    """

    def _http_client(self, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=transport, cookies=_no_cookie_jar(),
                                 headers={"User-Agent": "amikit"})

    def _run(self, flow: Flow[T]) -> Awaitable[T]:  # type: ignore[override]
        return self._drive(flow)

    async def _drive(self, flow: Flow[T]) -> T:
        steps = _Steps(flow)
        while (step := steps.next()) is not None:
            if isinstance(step, Sleep):
                await asyncio.sleep(step.seconds)
                continue
            try:
                steps.answer(await self._http.request(step.method, step.url, headers=step.headers,
                                                      content=step.content, timeout=step.timeout))
            except httpx.TransportError as exc:
                steps.fail(step, exc)
        return steps.value

    async def events(self, timeout: float = 20.0, *, names: Iterable[str] | None = None,
                     pause: float = 0.5, give_up_after: float = 30.0) -> AsyncIterator[Message]:
        """Poll WaitEvent for ever (see :meth:`AMIClient.events`)."""
        wanted = _names(names)
        while True:
            batch = await self._drive(self._core.poll_flow(timeout, pause=pause,
                                                           give_up_after=give_up_after))
            for event in batch:
                if _matches(event, wanted):
                    yield event

    async def close(self) -> None:
        """Close the HTTP connections (does not log off)."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncAMIClient:
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

