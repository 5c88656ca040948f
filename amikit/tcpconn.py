"""The socket side of AMI over TCP: one connection per client, read as the bytes come.

The rules (framing, correlation, the event buffer) are :mod:`amikit.tcplink`'s; this
module only opens the connection, writes, reads and waits. Both drivers read *all the
time*, not only while a request waits: over TCP the server pushes events unasked, and a
client that stops reading would fill the socket until Asterisk's ``writetimeout`` ends
the session. So:

* :class:`TCPConnection` (for :class:`~amikit.AMIClient`) reads in a background daemon
  thread, which wakes the waiting callers through a condition variable. A thread rather
  than non-blocking reads at each call because a notebook may sit idle between cells for
  minutes while events keep coming;
* :class:`AsyncTCPConnection` (for :class:`~amikit.AsyncAMIClient`) reads in a task on the
  event loop, with asyncio streams.

A connection is opened when a request needs one: at the first request, and again after
the server closed it (a restart, a Logoff). The new connection has a new number, so the
session sees a new "cookie" and logs in again on Permission denied (see
:mod:`amikit.session`). Nothing here logs or shows the bytes written, which may hold a
Secret or an MD5 Key. ::

    conn = TCPConnection("127.0.0.1", 5038, shown="tcp://127.0.0.1:5038")
    reply = conn.exchange(request)   # an HTTPRequest of SessionCore's, a synthetic response
    conn.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time

from amikit.errors import AMIError, ConnectionLost, ProtocolError
from amikit.protocol import MAX_MESSAGE
from amikit.session import DEFAULT_MAX_EVENTS, HTTPRequest, HTTPResponse
from amikit.tcplink import Exchange, TCPLink

__all__ = ["AsyncTCPConnection", "TCPConnection"]

_READ_SIZE = 65536


class _Base:
    """What both drivers share: the address, the link's settings and counters."""

    def __init__(self, host: str, port: int, *, shown: str,
                 max_events: int = DEFAULT_MAX_EVENTS, max_message: int = MAX_MESSAGE) -> None:
        self.host, self.port, self.shown = host, port, shown
        self.max_events, self.max_message = max_events, max_message
        self._link: TCPLink | None = None
        self._count = 0  # connections opened so far
        self._dropped_before = 0  # events dropped on earlier connections

    @property
    def banner(self) -> str | None:
        """The banner of the current (or last) connection."""
        return self._link.banner if self._link is not None else None

    @property
    def dropped_events(self) -> int:
        """Events dropped unread because the buffer was full, over all connections."""
        return self._dropped_before + (self._link.dropped if self._link is not None else 0)

    @property
    def connected(self) -> bool:
        return self._link is not None and self._link.closed is None

    def _new_link(self) -> TCPLink:
        old = self._link
        self._count += 1
        self._link = TCPLink(self._count, max_events=self.max_events,
                             max_message=self.max_message)
        if old is not None:
            self._dropped_before += old.dropped
            # events that came before the old connection ended were received: they are
            # handed out from the new one's buffer, not lost with the old
            self._link.events.extend(old.take_events())
        return self._link

    def _unreachable(self, exc: OSError) -> ConnectionLost:
        error = ConnectionLost(f"cannot reach {self.shown}: {type(exc).__name__}: "
                               f"{exc or 'no detail'}")
        error.__cause__ = exc
        return error

    def _no_banner(self, link: TCPLink, waited: float) -> ConnectionLost:
        if link.closed is not None:
            return ConnectionLost(f"{self.shown} ended the connection before its banner: "
                                  f"{link.closed}")
        return ConnectionLost(f"no AMI banner from {self.shown} within {waited:g} s: is this "
                              "AMI's TCP port (manager.conf port, 5038 by default)?")


class TCPConnection(_Base):
    """AMI over TCP for the synchronous client: blocking writes, a reader thread."""

    def __init__(self, host: str, port: int, *, shown: str,
                 max_events: int = DEFAULT_MAX_EVENTS, max_message: int = MAX_MESSAGE) -> None:
        super().__init__(host, port, shown=shown, max_events=max_events,
                         max_message=max_message)
        self._changed = threading.Condition()  # the link changed: a reader woke
        self._write_lock = threading.Lock()  # one writer at a time, in registration order
        self._open_lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._reader: threading.Thread | None = None

    def exchange(self, request: HTTPRequest) -> HTTPResponse:
        """Answer one request of the session over the connection (opened if need be)."""
        started = time.monotonic()
        sock, link = self._open(request.timeout)
        with self._write_lock:
            with self._changed:
                exchange = Exchange(link, request)
            if exchange.data:
                try:
                    sock.sendall(exchange.data)
                except OSError as exc:
                    self._end(sock, link, f"the connection broke while writing: {exc}")
        until = started + exchange.patience
        with self._changed:
            while not exchange.ready() and (left := until - time.monotonic()) > 0:
                self._changed.wait(left)
            return exchange.response()

    def close(self) -> None:
        """Close the connection (the session's Logoff, if any, was sent before)."""
        with self._open_lock:
            sock, link, reader = self._sock, self._link, self._reader
            if sock is not None and link is not None:
                self._end(sock, link, "the client closed the connection")
            if reader is not None and reader is not threading.current_thread():
                reader.join(timeout=5)
            self._sock = self._reader = None

    def _open(self, timeout: float) -> tuple[socket.socket, TCPLink]:
        with self._open_lock:
            if self._sock is not None and self._link is not None and self.connected:
                return self._sock, self._link
            try:
                sock = socket.create_connection((self.host, self.port), timeout=timeout)
            except OSError as exc:
                raise self._unreachable(exc) from None
            # blocking from here on: the reader thread waits in recv for as long as it takes,
            # and writes are small (an action), so they do not block for long
            sock.settimeout(None)
            with self._changed:  # the old link's reader may still be finishing
                link = self._new_link()
            self._sock = sock
            self._reader = threading.Thread(target=self._read, args=(sock, link),
                                            name=f"amikit-tcp-{self._count}", daemon=True)
            self._reader.start()
            until = time.monotonic() + timeout
            with self._changed:
                while not link.greeted and link.closed is None \
                        and (left := until - time.monotonic()) > 0:
                    self._changed.wait(left)
            if not link.greeted:
                error = self._no_banner(link, timeout)
                self._end(sock, link, "no banner")
                raise error
            return sock, link

    def _read(self, sock: socket.socket, link: TCPLink) -> None:
        reason = "the server closed the connection"
        try:
            while (data := sock.recv(_READ_SIZE)):
                with self._changed:
                    link.receive(data, time.time())
                    self._changed.notify_all()
        except OSError as exc:
            reason = f"the connection broke: {exc}"
        except ProtocolError as exc:
            reason = str(exc)
        except AMIError as exc:  # pragma: no cover - receive raises ProtocolError only
            reason = str(exc)
        self._end(sock, link, reason)

    def _end(self, sock: socket.socket, link: TCPLink, reason: str) -> None:
        with self._changed:
            link.close(reason)
            self._changed.notify_all()
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()


class AsyncTCPConnection(_Base):
    """AMI over TCP for the asyncio client: asyncio streams, a reader task.

    It belongs to the event loop it was first used on, like the streams it holds.
    """

    def __init__(self, host: str, port: int, *, shown: str,
                 max_events: int = DEFAULT_MAX_EVENTS, max_message: int = MAX_MESSAGE) -> None:
        super().__init__(host, port, shown=shown, max_events=max_events,
                         max_message=max_message)
        self._changed: asyncio.Condition | None = None
        self._open_lock: asyncio.Lock | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader: asyncio.Task[None] | None = None

    async def exchange(self, request: HTTPRequest) -> HTTPResponse:
        """Answer one request of the session over the connection (opened if need be)."""
        started = time.monotonic()
        writer, link = await self._open(request.timeout)
        changed = self._condition()
        exchange = Exchange(link, request)  # no await before the write: order is kept
        if exchange.data:
            try:
                writer.write(exchange.data)
                await writer.drain()
            except OSError as exc:
                await self._end(writer, link, f"the connection broke while writing: {exc}")
        async with changed:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(asyncio.get_running_loop().time()
                                              + max(0.0, started + exchange.patience
                                                    - time.monotonic())):
                    await changed.wait_for(exchange.ready)
            return exchange.response()

    async def close(self) -> None:
        """Close the connection (the session's Logoff, if any, was sent before)."""
        writer, link, reader = self._writer, self._link, self._reader
        if writer is not None and link is not None:
            await self._end(writer, link, "the client closed the connection")
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        self._writer = self._reader = None

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    async def _open(self, timeout: float) -> tuple[asyncio.StreamWriter, TCPLink]:
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        async with self._open_lock:
            if self._writer is not None and self._link is not None and self.connected:
                return self._writer, self._link
            try:
                async with asyncio.timeout(timeout):
                    reader, writer = await asyncio.open_connection(self.host, self.port)
            except TimeoutError as exc:
                raise self._unreachable(OSError(f"no connection within {timeout:g} s")) from exc
            except OSError as exc:
                raise self._unreachable(exc) from None
            link = self._new_link()
            self._writer = writer
            self._reader = asyncio.create_task(self._read(reader, writer, link))
            changed = self._condition()
            async with changed:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await changed.wait_for(lambda: link.greeted or link.closed is not None)
            if not link.greeted:
                error = self._no_banner(link, timeout)
                await self._end(writer, link, "no banner")
                raise error
            return writer, link

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    link: TCPLink) -> None:
        reason = "the server closed the connection"
        changed = self._condition()
        try:
            while (data := await reader.read(_READ_SIZE)):
                async with changed:
                    link.receive(data, time.time())
                    changed.notify_all()
        except OSError as exc:
            reason = f"the connection broke: {exc}"
        except ProtocolError as exc:
            reason = str(exc)
        await self._end(writer, link, reason)

    async def _end(self, writer: asyncio.StreamWriter, link: TCPLink, reason: str) -> None:
        changed = self._condition()
        async with changed:
            link.close(reason)
            changed.notify_all()
        writer.close()
        with contextlib.suppress(OSError, asyncio.CancelledError):
            await writer.wait_closed()
