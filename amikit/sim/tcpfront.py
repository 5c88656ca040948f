"""The simulator's TCP front: AMI on port 5038, byte for byte like ``session_do`` in main/manager.c.

One manager, two fronts: a TCP connection gets a session from :meth:`Manager.open_stream`
and runs its actions through the same :meth:`Manager.process` as HTTP, so users,
permissions, events and the PBX are shared. What only TCP does lives here:

* the banner ``Asterisk Call Manager/12.0.0`` (``session_do``);
* lines end in CRLF or a bare LF and go through a 1024-byte buffer, so a line carries at
  most 1022 bytes before its CRLF (1023 before a bare LF); a full buffer with no line end
  is dropped but for its last byte, the action is answered with an error, and an action
  has at most 128 lines (``get_input``, ``do_message``); a blank line ends an action, even
  an empty one;
* actions are answered one after the other, in the order they came (``do_message``
  reads the next one only after ``process_message`` has answered): a client that writes
  actions without reading the replies fills a few waiting actions, then the socket;
* a write that waits longer than the session's ``writetimeout`` (manager.conf, per user,
  100 ms by default) ends the connection (``send_string`` sets ``write_error``, and
  ``session_do`` stops);
* events are pushed as they happen, between replies (``process_events``, called by
  ``do_message`` before each line and by ``process_message`` after each reply), filtered
  by the session's read permission and event mask;
* a failed Login or a Logoff is answered, then the connection is closed
  (``process_message`` returns -1);
* an unauthenticated connection is closed ``authtimeout`` seconds after it opened, and
  beyond ``authlimit`` unauthenticated connections a new one is closed unanswered
  (``session_do``, ``get_input``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from amikit.sim.front import Front
from amikit.sim.manager import Manager, Request, Session
from amikit.sim.manager_actions import AMI_VERSION
from amikit.sim.replies import error, header, header_line

__all__ = ["BANNER", "TCPFront"]

log = logging.getLogger("amikit.sim")

BANNER = f"Asterisk Call Manager/{AMI_VERSION}\r\n".encode()
INBUF = 1024  # mansession_session.inbuf[1025], one byte kept for the NUL
MAX_HEADERS = 128  # AST_MAX_MANHEADERS
INBOX = 8  # actions read ahead of the one being answered; then the socket waits
_RAWMAN = Request("", "rawman", False, [])  # TCP replies are AMI text, as /rawman bodies are


@dataclass
class Action:
    """One action as ``do_message`` collected it: its header lines, or why it cannot run."""

    params: list[tuple[str, str]] = field(default_factory=list)
    lines: int = 0
    too_long: bool = False

    def problem(self) -> str | None:
        """The error ``do_message`` answers instead of running the action, if any."""
        if self.lines > MAX_HEADERS:
            return "Too many lines in message or allocation failure"
        if self.too_long:
            return "Failed to parse message: line too long"
        return None


class ActionReader:
    """Cuts a byte stream into actions (``get_input`` and ``do_message``).

    Sans I/O: :meth:`feed` takes whatever bytes arrived and returns the actions they
    complete, so a reply split across segments or three actions in one write read alike.
    The bytes pass through a buffer of :data:`INBUF` bytes as in ``get_input``, so how
    the stream is cut into writes never changes the actions.

        >>> reader = ActionReader()
        >>> reader.feed(b"Action: Ping\\r\\nActionID: 1\\n")
        []
        >>> [a.params for a in reader.feed(b"\\r\\nAction: Logoff\\r\\n\\r\\n")]
        [[('Action', 'Ping'), ('ActionID', '1')], [('Action', 'Logoff')]]
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._action = Action()

    def feed(self, data: bytes) -> list[Action]:
        done: list[Action] = []
        while True:
            self._lines(done)
            if len(self._buffer) >= INBUF:
                # get_input: a full buffer and no line end; "keep the last character in case
                # we are in the middle of a CRLF", and the action is answered with an error
                # when its blank line comes
                self._buffer = self._buffer[-1:]
                self._action.too_long = True
            if not data:
                return done
            room = INBUF - len(self._buffer)  # get_input reads at most what the buffer holds
            self._buffer += data[:room]
            data = data[room:]

    def _lines(self, done: list[Action]) -> None:
        """Take every whole line out of the buffer (``get_input``'s scan for CRLF or LF)."""
        while (end := self._buffer.find(b"\n")) >= 0:
            raw, self._buffer = self._buffer[:end], self._buffer[end + 1:]
            line = raw.removesuffix(b"\r").decode("utf-8", "surrogateescape")
            if not line:
                done.append(self._action)
                self._action = Action()
                continue
            self._action.lines += 1
            pair = header_line(line)
            if pair is not None and self._action.lines <= MAX_HEADERS:
                self._action.params.append(pair)


class WriteTimeout(Exception):
    """A write to the client waited longer than the session's ``writetimeout``."""


class TCPFront(Front):
    """Serves TCP AMI for one manager on one listening socket.

    Args:
        manager: the manager HTTP uses too.
        authtimeout: seconds a connection may stay unauthenticated (manager.conf).
        authlimit: unauthenticated connections at once (manager.conf).
    """

    def __init__(self, manager: Manager, *, authtimeout: float = 30.0,
                 authlimit: int = 50) -> None:
        super().__init__()
        self.manager = manager
        self.authtimeout = authtimeout
        self.authlimit = authlimit
        self.unauthenticated = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One connection, from banner to close (``session_do``)."""
        if self.unauthenticated >= self.authlimit:
            writer.close()
            return
        self.opened(writer)
        self.unauthenticated += 1
        session = self.manager.open_stream()
        try:
            writer.write(BANNER)
            await _Connection(self, session, reader, writer).run()
        except WriteTimeout:
            peer = writer.get_extra_info("peername") or ("?", 0)
            log.info("TCP AMI: closed the connection from %s:%s: it read nothing for %d ms "
                     "(manager.conf writetimeout)", peer[0], peer[1],
                     round(session.writetimeout * 1000))
        except (ConnectionError, TimeoutError, asyncio.CancelledError):
            pass  # the peer went away, or the simulator stops: an ordinary end
        finally:
            if not session.authenticated:
                self.unauthenticated -= 1
            self.manager.close_stream(session)
            self.closed(writer)


class _Connection:
    """The loop of one connection: read actions, answer them in order, push events."""

    def __init__(self, front: TCPFront, session: Session, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.front = front
        self.session = session
        self.reader = reader
        self.writer = writer
        # bounded: the reader waits while INBOX actions wait for their answers, as
        # do_message reads no further than the action it is about to answer
        self.inbox: asyncio.Queue[Action | None] = asyncio.Queue(INBOX)
        peer = writer.get_extra_info("peername") or ("127.0.0.1", 0)
        sock = writer.get_extra_info("sockname") or ("127.0.0.1", front.port)
        self.remote, self.local_port = (peer[0], peer[1]), sock[1]
        loop = asyncio.get_running_loop()
        self.auth_deadline = loop.time() + front.authtimeout

    async def run(self) -> None:
        reading = asyncio.ensure_future(self._read())
        try:
            while True:
                await self._push_events()
                action = await self._next()
                if action is None:
                    return
                if not await self._answer(action):
                    return
        finally:
            reading.cancel()

    async def _read(self) -> None:
        """Feed the socket's bytes to the action reader; a new action also ends a TCP
        WaitEvent (``action_waitevent`` waits on the socket too)."""
        actions = ActionReader()
        while True:
            try:
                data = await self.reader.read(65536)
            except ConnectionError:
                data = b""  # a reset ends the connection as a close does
            if not data:
                await self.inbox.put(None)
                return
            for action in actions.feed(data):
                await self.inbox.put(action)
                self._input_arrived()

    def _input_arrived(self) -> None:
        if self.session.waiter is not None:
            self.session.waiter.set()

    async def _next(self) -> Action | None:
        """The next action, pushing events while none has come; None when the connection
        should close (the peer closed, or ``authtimeout`` passed unauthenticated)."""
        loop = asyncio.get_running_loop()
        if not self.session.authenticated and loop.time() >= self.auth_deadline:
            return None
        while self.inbox.empty():
            timeout = None
            if not self.session.authenticated:
                timeout = self.auth_deadline - loop.time()
                if timeout <= 0:
                    return None  # session_do/get_input: closed with no message
            self.session.wake.clear()
            if self.session.queue is not None and self.session.queue.events:
                await self._push_events()
                continue
            got = asyncio.ensure_future(self.inbox.get())
            woken = asyncio.ensure_future(self.session.wake.wait())
            try:
                await asyncio.wait({got, woken}, timeout=timeout,
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                woken.cancel()
                if not got.done():
                    got.cancel()
            if got.done() and not got.cancelled():
                await self._push_events()  # queued before the action: written before its reply
                return got.result()
            await self._push_events()
        # do_message runs process_events before every get_input: events queued before an
        # action is taken are written before its reply, even one that was read ahead
        await self._push_events()
        return self.inbox.get_nowait()

    async def _answer(self, action: Action) -> bool:
        """Run one action and write its reply (``process_message``); False: close now."""
        problem = action.problem()
        if problem is not None:
            output = [error(header(action.params, "ActionID"), problem)]
        else:
            kick = None
            if not self.inbox.empty():
                # the next action is already here: a WaitEvent about to start returns at once
                kick = asyncio.get_running_loop().call_soon(self._input_arrived)
            request = Request("", "rawman", False, action.params, remote=self.remote,
                              local_port=self.local_port)
            was_authenticated = self.session.authenticated
            try:
                output = await self.front.manager.process(self.session, request)
            finally:
                if kick is not None:
                    kick.cancel()  # meant for this action only
            if self.session.authenticated and not was_authenticated:
                self.front.unauthenticated -= 1
        await self._send(self.front.manager.render(output, _RAWMAN))
        return not self.session.destroy

    async def _push_events(self) -> None:
        """Write the events this session wants and drop the others (``process_events``)."""
        queue = self.session.queue
        if queue is None or not queue.events:
            return
        wanted = self.front.manager.actions.wanted
        data = b"".join(e.rendered("rawman") for e in queue.drain() if wanted(self.session, e))
        if data:
            await self._send(data)

    async def _send(self, data: bytes) -> None:
        """Write ``data`` as ``send_string`` does: the socket must take some of it within the
        session's ``writetimeout`` (an inactivity timer, restarted while the client reads),
        or :class:`WriteTimeout` ends the connection."""
        self.writer.write(data)
        transport = self.writer.transport
        while True:
            waiting = transport.get_write_buffer_size()
            try:
                async with asyncio.timeout(self.session.writetimeout):
                    await self.writer.drain()
                return
            except TimeoutError:
                if transport.get_write_buffer_size() >= waiting:
                    raise WriteTimeout from None
