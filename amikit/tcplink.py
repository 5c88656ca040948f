"""AMI over TCP with no I/O: one connection's bytes in; its banner, replies and events out.

Over TCP the server pushes events between its replies, answers the actions of one
connection in the order they came, and writes one reply in as many segments as it likes.
A :class:`TCPLink` is one connection's bookkeeping: feed it whatever bytes arrived
(:meth:`TCPLink.receive`) and it reads the banner and the messages with the shared
:class:`~amikit.protocol.StreamReader`, hands each reply to the request that waits for
it (by ``ActionID``, which the session always sets; a reply without one goes to the oldest
request), collects a list action's items up to its ``EventList: Complete`` event, and
keeps every other event in a bounded buffer, counting what it had to drop.

A request whose requester gave up (:meth:`Exchange.abandon`) keeps its place, so that its
late reply is not taken for the next one's; the reply is dropped when it comes, and so are
its list items, which never reach the event buffer. A list whose items outgrow
``max_reply_bytes`` fails with :class:`~amikit.session.ReplyTooLarge`, as over HTTP, and
its remaining items are dropped as they come. A request that got no reply in time closes
the link (:class:`~amikit.session.ReplyTimeout`): the replies no longer match the requests
in order, so the driver opens a new connection for the next one.

An :class:`Exchange` answers one of :class:`~amikit.session.SessionCore`'s requests over a
link, so the session's flows run unchanged over TCP: the action's bytes to write, then a
synthetic ``200`` response carrying the parsed messages. A ``WaitEvent`` is not sent: it is
answered from the buffer, as soon as there is an event or when its ``Timeout`` has passed
(on a link that has not logged in it does go to the server, which refuses it as it would
any action). The socket and the waiting are the client's (:mod:`amikit.tcpconn`).

    >>> link = TCPLink()
    >>> ping = Exchange(link, HTTPRequest("AMI", "tcp://127.0.0.1:5038", {}, None, 10,
    ...                                   pairs=(("Action", "Ping"), ("ActionID", "p1"))))
    >>> ping.data
    b'Action: Ping\\r\\nActionID: p1\\r\\n\\r\\n'
    >>> link.receive(b"Asterisk Call Manager/12.0.0\\r\\nResponse: Success\\r\\nActionID: p1\\r\\n")
    >>> ping.ready()
    False
    >>> link.receive(b"Ping: Pong\\r\\n\\r\\nEvent: FullyBooted\\r\\n\\r\\n")
    >>> ping.ready(), link.banner, [m["Ping"] for m in ping.response().messages or ()]
    (True, 'Asterisk Call Manager/12.0.0', ['Pong'])
    >>> [e.name for e in link.take_events()]
    ['FullyBooted']
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field

from amikit.errors import ConnectionLost, ProtocolError
from amikit.message import Message
from amikit.protocol import MAX_MESSAGE, StreamReader, encode_message
from amikit.session import (
    CONNECTION_HEADER,
    DEFAULT_MAX_EVENTS,
    DEFAULT_MAX_REPLY_BYTES,
    DROPPED_HEADER,
    HTTPRequest,
    HTTPResponse,
    ReplyTimeout,
    ReplyTooLarge,
)

__all__ = ["MAX_ABANDONED", "PROBE_ID", "Exchange", "TCPLink"]

log = logging.getLogger("amikit.tcplink")

_BANNER_START = b"Asterisk Call Manager"
#: The most given-up requests a link remembers while their replies are awaited; past it
#: the oldest is forgotten (its late reply is then logged and dropped as unmatched).
MAX_ABANDONED = 256
#: ActionID prefix of the link's own keep-alive Pings (see :meth:`Exchange.probe`)
PROBE_ID = "amikit-probe-"


@dataclass(eq=False)
class _Pending:
    """An action written on the link, waiting for its reply (and a list's items)."""

    action: str  # lower-case
    action_id: str | None
    name: str = ""  # the action's name as written
    messages: list[Message] = field(default_factory=list)
    collecting: bool = False  # the reply said EventList: start; items are coming
    done: bool = False
    abandoned: bool = False  # its requester gave up: the late reply is dropped
    size: int = 0  # the bytes of its messages so far (a list's, as a whole)
    error: ReplyTooLarge | None = None


class TCPLink:
    """One TCP connection's state: banner, requests awaiting replies, buffered events.

    ``number`` tells connections of one client apart (a new number means a new server
    session: it is what the session sees as its cookie). At most ``max_events`` unread
    events are held; older ones are dropped and counted in :attr:`dropped`.
    """

    def __init__(self, number: int = 1, *, max_events: int = DEFAULT_MAX_EVENTS,
                 max_message: int = MAX_MESSAGE,
                 max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES) -> None:
        self.number = number
        self.max_events = max_events
        self.max_reply_bytes = max_reply_bytes
        self._reader = StreamReader(max_message=max_message)
        self._pending: list[_Pending] = []  # in the order written
        self.events: deque[Message] = deque()
        #: events dropped unread on this link, in all
        self.dropped = 0
        self._dropped_unreported = 0
        #: a Login on this link succeeded (and no Logoff since)
        self.authenticated = False
        #: why the connection ended (None while it is open)
        self.closed: str | None = None
        self._head = b""  # the first bytes, until the banner line has been judged
        #: the server's first line when it was not a banner (the port is not AMI's)
        self.first_line: str | None = None
        #: the ``now`` of the last :meth:`receive` (None before any bytes came)
        self.heard_at: float | None = None
        self._probes = 0

    @property
    def banner(self) -> str | None:
        """The server's first line, e.g. ``Asterisk Call Manager/12.0.0`` (None before)."""
        return self._reader.banner

    @property
    def greeted(self) -> bool:
        """The banner has arrived (an AMI server is at the other end)."""
        return self._reader.banner is not None

    # -- what goes out -----------------------------------------------------------------
    def send(self, pairs: tuple[tuple[str, str], ...]) -> tuple[bytes, _Pending]:
        """The bytes of the action ``pairs`` and the record that will receive its reply.

        The caller writes the bytes in the order of its calls to ``send``: replies
        without an ActionID are matched in that order.
        """
        if not pairs or pairs[0][0].lower() != "action":
            raise ValueError(f"an action's pairs start with Action, not {pairs[:1]!r}")
        data = encode_message(Message(list(pairs)))
        action_id = next((v for n, v in pairs if n.lower() == "actionid"), None)
        pending = _Pending(pairs[0][1].lower(), action_id, pairs[0][1])
        self._pending.append(pending)
        return data, pending

    # -- what comes in -----------------------------------------------------------------
    def receive(self, data: bytes, now: float | None = None) -> None:
        """Take bytes as they arrived; events are stamped ``received_at = now``.

        Raises :class:`~amikit.errors.ProtocolError` when the server is not AMI (its first
        line is no banner) or a message outgrows ``max_message``.
        """
        if now is not None:
            self.heard_at = now
        if not self.greeted:
            self._head = (self._head + data)[:256]
            if b"\n" in self._head and not self._head.startswith(_BANNER_START):
                line = self._head.split(b"\n", 1)[0][:80]
                self.first_line = line.decode("utf-8", "replace").rstrip("\r")
                raise ProtocolError(f"the server's first line is {line!r}, not an AMI banner "
                                    "(Asterisk Call Manager/…): is this AMI's TCP port?")
        for message in self._reader.feed(data):
            if message.is_event:  # OriginateResponse has a Response header too
                message.received_at = now
                self._event(message)
            elif message.is_response:
                self._reply(message)
            else:
                log.warning("a message that is neither reply nor event: %r", message)

    def close(self, reason: str) -> None:
        """The connection ended; every request still waiting fails with ``reason``."""
        if self.closed is None:
            self.closed = reason
        self.authenticated = False
        self._pending.clear()  # no reply will come on this connection

    @property
    def waiting(self) -> int:
        """Requests written on the link whose replies have not all come (given-up ones too)."""
        return len(self._pending)

    def take_events(self) -> list[Message]:
        """The buffered events, oldest first; the buffer is emptied."""
        events = list(self.events)
        self.events.clear()
        return events

    def take_dropped(self) -> int:
        """Events dropped since the last call."""
        count, self._dropped_unreported = self._dropped_unreported, 0
        return count

    def send_probe(self) -> tuple[bytes, _Pending]:
        """A keep-alive Ping of the link's own (its ActionID starts with ``PROBE_ID``)."""
        self._probes += 1
        return self.send((("Action", "Ping"), ("ActionID", f"{PROBE_ID}{self._probes}")))

    def carry_dropped(self, count: int) -> None:
        """Count ``count`` drops (of an earlier link, not yet reported) as this link's own
        unreported ones, so the next response reports them."""
        self._dropped_unreported += count

    def abandon(self, pending: _Pending) -> None:
        """Its requester gave up: drop the reply (and a list's items) when they come."""
        if pending.done and pending not in self._pending:
            return
        pending.abandoned = True
        pending.messages.clear()
        given_up = [p for p in self._pending if p.abandoned]
        if len(given_up) > MAX_ABANDONED:
            self._pending.remove(given_up[0])

    def _reply(self, reply: Message) -> None:
        pending = self._match(reply.action_id)
        if pending is None:
            log.warning("a reply no request waits for (ActionID %r); dropped", reply.action_id)
            return
        self._keep(pending, reply)
        if pending.action == "login" and reply.ok:
            self.authenticated = True
        elif pending.action == "logoff":
            self.authenticated = False
        if reply.ok and (reply.get("EventList") or "").lower() == "start":
            pending.collecting = True
        else:
            self._finish(pending)

    def _match(self, action_id: str | None) -> _Pending | None:
        awaiting = [p for p in self._pending if not p.collecting]
        if action_id is not None:
            for pending in awaiting:
                if pending.action_id == action_id:
                    return pending
            return None
        # no ActionID: Asterisk answers one connection's actions in order
        return next((p for p in awaiting if p.action_id is None), awaiting[0] if awaiting else None)

    def _event(self, event: Message) -> None:
        action_id = event.action_id
        if action_id is not None:
            for pending in self._pending:
                if pending.collecting and pending.action_id == action_id:
                    self._keep(pending, event)
                    if (event.get("EventList") or "").lower() == "complete":
                        self._finish(pending)
                    return
        if len(self.events) >= self.max_events:
            self.events.popleft()
            self.dropped += 1
            self._dropped_unreported += 1
        self.events.append(event)

    def _keep(self, pending: _Pending, message: Message) -> None:
        """Add a reply or list item to ``pending``, unless it was given up or grew too large."""
        if pending.abandoned:
            return
        pending.size += _size(message)
        if pending.size > self.max_reply_bytes:
            pending.error = ReplyTooLarge(
                f"the reply to {pending.name} grew past {self.max_reply_bytes} bytes "
                f"(max_reply_bytes) after {len(pending.messages)} messages")
            pending.done = True  # its requester hears now; the rest is dropped as it comes
            pending.abandoned = True
            pending.messages.clear()
            return
        pending.messages.append(message)

    def _finish(self, pending: _Pending) -> None:
        pending.done = True
        if pending.abandoned:
            log.debug("the late reply to a given-up %s was dropped", pending.name)
        self._pending.remove(pending)


class Exchange:
    """One :class:`~amikit.session.HTTPRequest` answered over a :class:`TCPLink`.

    Write :attr:`data` (nothing for a WaitEvent answered from the buffer), wait until
    :meth:`ready` or :attr:`patience` seconds have passed, then take :meth:`response`.
    A requester that gives up without taking the response (a cancelled task) calls
    :meth:`abandon`.

    A WaitEvent answered from the buffer cannot tell a quiet server from a dead one (a
    connection whose far end vanished without a FIN). When it found no event and the
    link has heard nothing for ``probe_after`` seconds (:meth:`needs_probe`), the driver
    writes :meth:`probe`, a Ping of the link's own, and waits up to :attr:`patience`
    again: no Pong in time closes the link with :class:`~amikit.session.ReplyTimeout`,
    which polling rides out (reconnecting) or reports as
    :class:`~amikit.errors.ConnectionLost`, as over HTTP.
    """

    def __init__(self, link: TCPLink, request: HTTPRequest) -> None:
        self.link = link
        self.request = request
        self.local = request.action.lower() == "waitevent" and link.authenticated
        self._pending: _Pending | None = None
        if self.local:
            self.data = b""
            #: seconds to wait for :meth:`ready` before taking :meth:`response` anyway
            self.patience = min(_timeout(request), request.timeout)
        else:
            self.data, self._pending = link.send(request.pairs)
            self.patience = request.timeout

    def ready(self) -> bool:
        """The response can be taken: the reply is complete (an event is buffered, for a
        WaitEvent), or the connection ended."""
        if self.local and self.link.events:  # also while a probe waits: the link lives
            return True
        if self._pending is None:
            return self.link.closed is not None
        return self._pending.done or self.link.closed is not None

    def needs_probe(self, now: float, probe_after: float) -> bool:
        """A WaitEvent answered from the buffer found nothing, and the link has been silent
        for ``probe_after`` seconds by ``now`` (the clock of :meth:`TCPLink.receive`)."""
        link = self.link
        return (self.local and self._pending is None and not link.events
                and link.closed is None and link.heard_at is not None
                and now - link.heard_at >= probe_after)

    def probe(self) -> bytes:
        """The bytes of a keep-alive Ping; the response then waits for its Pong."""
        self.data, self._pending = self.link.send_probe()
        return self.data

    def abandon(self) -> None:
        """The requester gave up: the reply, when it comes, is dropped."""
        if self._pending is not None:
            self.link.abandon(self._pending)

    def response(self) -> HTTPResponse:
        """The synthetic response; raises :class:`~amikit.errors.ConnectionLost` when the
        connection ended first, :class:`~amikit.session.ReplyTimeout` (closing the link)
        when the reply is not complete, :class:`~amikit.session.ReplyTooLarge` when a list
        grew past ``max_reply_bytes`` (a WaitEvent whose time is up answers with no
        events instead)."""
        link, request, pending = self.link, self.request, self._pending
        if self.local and (pending is None or pending.done or link.events):
            if pending is not None and not pending.done:
                self.abandon()  # events came: the link lives, the Pong is not needed
            events = link.take_events()
            if not events and link.closed is not None:
                raise ConnectionLost(f"{request.url}: {link.closed}")
            return HTTPResponse(200, self._headers(), b"",
                                messages=_wait_reply(request, events))
        if pending is not None and pending.error is not None:
            raise pending.error
        if pending is not None and pending.done:
            return HTTPResponse(200, self._headers(), b"", messages=tuple(pending.messages))
        self.abandon()
        if link.closed is not None:
            raise ConnectionLost(f"{request.url}: {link.closed} before the reply to "
                                 f"{request.action}")
        what = "keep-alive Ping" if self.local else request.action
        reason = (f"no complete reply to {what} from {request.url} within "
                  f"{request.timeout:g} s")
        # the replies of this connection no longer line up with its requests: a new one
        link.close(reason)
        raise ReplyTimeout(reason)

    def _headers(self) -> dict[str, str]:
        # the dropped count is taken only here, when it reaches the session
        return {CONNECTION_HEADER: str(self.link.number),
                DROPPED_HEADER: str(self.link.take_dropped())}


def _timeout(request: HTTPRequest) -> float:
    """A WaitEvent's own Timeout, in seconds (the session always sets it)."""
    for name, value in request.pairs:
        if name.lower() == "timeout":
            try:
                return max(0.0, float(value))
            except ValueError:
                break
    return request.timeout


def _size(message: Message) -> int:
    """About the bytes ``message`` took on the wire: its header lines and the blank line."""
    return sum(len(name) + len(value) + 4 for name, value in message.headers) + 2


def _wait_reply(request: HTTPRequest, events: list[Message]) -> tuple[Message, ...]:
    """What Asterisk's WaitEvent answers: Success, the events, WaitEventComplete."""
    ids = [(n, v) for n, v in request.pairs if n.lower() == "actionid"][:1]
    reply = Message([("Response", "Success"), *ids,
                     ("Message", "Waiting for Event completed.")])
    return (reply, *events, Message([("Event", "WaitEventComplete"), *ids]))
