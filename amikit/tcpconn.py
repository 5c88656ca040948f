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

Every write is bounded by the request's remaining time (a server that stopped reading
must not block the client for ever): past it the connection is closed and the request
fails with :class:`~amikit.session.ReplyTimeout`. So does a reply that does not come in
time, since the next replies would no longer match their requests. The socket has TCP
keep-alive on, and a WaitEvent answered from the buffer after ``probe_after`` seconds of
silence checks the connection with a Ping (see :class:`~amikit.tcplink.Exchange`), so a
connection whose far end vanished is noticed and polling reconnects or gives up.

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
import logging
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator

from amikit.errors import ConnectionLost, NoBanner, ProtocolError
from amikit.protocol import MAX_MESSAGE
from amikit.session import (
    DEFAULT_MAX_EVENTS,
    DEFAULT_MAX_REPLY_BYTES,
    HTTPRequest,
    HTTPResponse,
    ReplyTimeout,
)
from amikit.tcplink import Exchange, TCPLink

__all__ = ["PROBE_AFTER", "AsyncTCPConnection", "TCPConnection"]

log = logging.getLogger("amikit.tcpconn")

_READ_SIZE = 65536
#: Seconds of silence on a connection after which a WaitEvent that found no event checks
#: it with a Ping.
PROBE_AFTER = 20.0
#: TCP keep-alive: first probe after this many idle seconds, then every interval, and the
#: connection is dropped after this many unanswered probes (where the platform allows).
_KEEPALIVE = (("TCP_KEEPIDLE", 60), ("TCP_KEEPINTVL", 15), ("TCP_KEEPCNT", 4))
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)


def keep_alive(sock: socket.socket) -> None:
    """Turn TCP keep-alive on for ``sock``, so a vanished peer ends the connection."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in _KEEPALIVE:
        option = getattr(socket, name, None)
        if option is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, option, value)


def send_until(sock: socket.socket, data: bytes, until: float) -> None:
    """Write all of ``data`` to a blocking ``sock`` by ``until`` (``time.monotonic()``),
    else :class:`TimeoutError`; the socket's own blocking mode is left alone, as a reader
    thread waits in ``recv`` on it."""
    view = memoryview(data)
    while view:
        left = until - time.monotonic()
        if left <= 0:
            raise TimeoutError("the write did not finish in time")
        try:
            _, writable, _ = select.select([], [sock], [], left)
            if writable:
                view = view[sock.send(view, _DONTWAIT):]
        except BlockingIOError:
            continue
        except ValueError as exc:  # closed by another thread meanwhile (fileno -1)
            raise OSError(f"the socket was closed: {exc}") from exc


class _Base:
    """What both drivers share: the address, the link's settings and counters, and the
    decisions that need no I/O (why a reader stopped, whether the banner came)."""

    def __init__(self, host: str, port: int, *, shown: str,
                 max_events: int = DEFAULT_MAX_EVENTS, max_message: int = MAX_MESSAGE,
                 max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES) -> None:
        self.host, self.port, self.shown = host, port, shown
        self.max_events, self.max_message = max_events, max_message
        self.max_reply_bytes = max_reply_bytes
        #: seconds of silence before a WaitEvent with no event checks with a Ping
        self.probe_after = PROBE_AFTER
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
                             max_message=self.max_message,
                             max_reply_bytes=self.max_reply_bytes)
        if old is not None:
            self._dropped_before += old.dropped
            # drops not yet reported, and events that came before the old connection
            # ended, are handed on by the new one: not lost with the old
            self._link.carry_dropped(old.take_dropped())
            self._link.events.extend(old.take_events())
        return self._link

    def _unreachable(self, exc: OSError) -> ConnectionLost:
        return ConnectionLost(f"cannot reach {self.shown}: {type(exc).__name__}: "
                              f"{exc or 'no detail'}")

    @staticmethod
    def _settled(link: TCPLink) -> Callable[[], bool]:
        """Whether the wait for the banner is over: it came, or the connection ended."""
        return lambda: link.greeted or link.closed is not None

    def _check_banner(self, link: TCPLink, waited: float) -> None:
        """Raise :class:`~amikit.errors.NoBanner` unless the link was greeted."""
        if link.greeted:
            return
        if link.closed is not None:
            raise NoBanner(f"{self.shown} ended the connection before its banner: "
                           f"{link.closed}", first_line=link.first_line)
        raise NoBanner(f"no AMI banner from {self.shown} within {waited:g} s: is this "
                       "AMI's TCP port (manager.conf port, 5038 by default)?")

    def _reader_stopped(self, exc: Exception) -> str:
        """Why the reader stopped on ``exc``, as the link's reason; the unexpected logged."""
        if isinstance(exc, ProtocolError):
            return str(exc)
        if isinstance(exc, OSError):
            return f"the connection broke: {exc}"
        log.error("reading from %s failed", self.shown, exc_info=exc)
        return f"the client failed reading: {type(exc).__name__}: {exc}"

    def _late_write(self, request: HTTPRequest) -> str:
        return (f"could not write {request.action} to {self.shown} within "
                f"{request.timeout:g} s: the server does not read")


class TCPConnection(_Base):
    """AMI over TCP for the synchronous client: bounded writes, a reader thread."""

    def __init__(self, host: str, port: int, *, shown: str,
                 max_events: int = DEFAULT_MAX_EVENTS, max_message: int = MAX_MESSAGE,
                 max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES) -> None:
        super().__init__(host, port, shown=shown, max_events=max_events,
                         max_message=max_message, max_reply_bytes=max_reply_bytes)
        self._changed = threading.Condition()  # the link changed: a reader woke
        self._write_lock = threading.Lock()  # one writer at a time, in registration order
        self._open_lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._reader: threading.Thread | None = None

    def exchange(self, request: HTTPRequest) -> HTTPResponse:
        """Answer one request of the session over the connection (opened if need be)."""
        started = time.monotonic()
        deadline = started + request.timeout
        sock, link = self._open(request.timeout)
        with self._writing(sock, link, request, deadline):
            with self._changed:
                exchange = Exchange(link, request)
            send_until(sock, exchange.data, deadline)
        self._wait(exchange, started + exchange.patience)
        if exchange.needs_probe(time.time(), self.probe_after):
            with self._writing(sock, link, request, deadline):
                with self._changed:
                    probe = exchange.probe()
                send_until(sock, probe, deadline)
            self._wait(exchange, deadline)
        try:
            with self._changed:
                return exchange.response()
        except ReplyTimeout as exc:  # the link is closed: so is its socket
            self._end(sock, link, str(exc))
            raise

    def close(self) -> None:
        """Close the connection (the session's Logoff, if any, was sent before)."""
        with self._open_lock:
            sock, link, reader = self._sock, self._link, self._reader
            if sock is not None and link is not None:
                self._end(sock, link, "the client closed the connection")
            if reader is not None and reader is not threading.current_thread():
                reader.join(timeout=5)
            self._sock = self._reader = None

    @contextlib.contextmanager
    def _writing(self, sock: socket.socket, link: TCPLink, request: HTTPRequest,
                 deadline: float) -> Iterator[None]:
        """Hold the write lock (exchanges are registered in the order of their writes)
        while the body writes, by ``deadline``: past it the connection is closed and
        ReplyTimeout raised; a broken connection is closed, which the response reports."""
        if not self._write_lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise ReplyTimeout(self._late_write(request))
        try:
            yield
        except TimeoutError:
            reason = self._late_write(request)
            self._end(sock, link, reason)
            raise ReplyTimeout(reason) from None
        except OSError as exc:
            self._end(sock, link, f"the connection broke while writing: {exc}")
        finally:
            self._write_lock.release()

    def _wait(self, exchange: Exchange, until: float) -> None:
        with self._changed:
            while not exchange.ready() and (left := until - time.monotonic()) > 0:
                self._changed.wait(left)

    def _open(self, timeout: float) -> tuple[socket.socket, TCPLink]:
        with self._open_lock:
            if self._sock is not None and self._link is not None and self.connected:
                return self._sock, self._link
            try:
                sock = socket.create_connection((self.host, self.port), timeout=timeout)
            except OSError as exc:
                raise self._unreachable(exc) from exc
            # blocking from here on: the reader thread waits in recv for as long as it
            # takes; writes have their own deadline (send_until)
            sock.settimeout(None)
            keep_alive(sock)
            with self._changed:  # the old link's reader may still be finishing
                link = self._new_link()
            self._sock = sock
            self._reader = threading.Thread(target=self._read, args=(sock, link),
                                            name=f"amikit-tcp-{self._count}", daemon=True)
            self._reader.start()
            until = time.monotonic() + timeout
            settled = self._settled(link)
            with self._changed:
                while not settled() and (left := until - time.monotonic()) > 0:
                    self._changed.wait(left)
            try:
                self._check_banner(link, timeout)
            except NoBanner:
                self._end(sock, link, "no banner")
                raise
            return sock, link

    def _read(self, sock: socket.socket, link: TCPLink) -> None:
        reason = "the server closed the connection"
        try:
            while (data := sock.recv(_READ_SIZE)):
                with self._changed:
                    link.receive(data, time.time())
                    self._changed.notify_all()
        except Exception as exc:  # the last resort too: never die with the link open
            reason = self._reader_stopped(exc)
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

    It belongs to the event loop it was first used on, like the streams it holds. A client
    dropped without ``close()`` calls :meth:`close_soon` (from a finalizer): its reader
    task is cancelled, which closes the connection, if the loop is still running.
    """

    def __init__(self, host: str, port: int, *, shown: str,
                 max_events: int = DEFAULT_MAX_EVENTS, max_message: int = MAX_MESSAGE,
                 max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES) -> None:
        super().__init__(host, port, shown=shown, max_events=max_events,
                         max_message=max_message, max_reply_bytes=max_reply_bytes)
        self._changed: asyncio.Condition | None = None
        self._open_lock: asyncio.Lock | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader: asyncio.Task[None] | None = None

    async def exchange(self, request: HTTPRequest) -> HTTPResponse:
        """Answer one request of the session over the connection (opened if need be)."""
        started = time.monotonic()
        deadline = started + request.timeout
        writer, link = await self._open(request.timeout)
        exchange = Exchange(link, request)  # no await before the write: order is kept
        try:
            await self._write(writer, link, request, exchange.data, deadline)
            await self._wait(exchange, started + exchange.patience)
            if exchange.needs_probe(time.time(), self.probe_after):
                await self._write(writer, link, request, exchange.probe(), deadline)
                await self._wait(exchange, deadline)
        except asyncio.CancelledError:
            exchange.abandon()  # its reply, when it comes, is not the next request's
            raise
        try:
            return exchange.response()
        except ReplyTimeout as exc:  # the link is closed: so is its stream
            await self._end(writer, link, str(exc))
            raise

    async def close(self) -> None:
        """Close the connection (the session's Logoff, if any, was sent before).

        It waits for a connection being opened, so that one is closed too."""
        async with self._lock():
            writer, link, reader = self._writer, self._link, self._reader
            if writer is not None and link is not None:
                await self._end(writer, link, "the client closed the connection")
            if reader is not None and reader is not asyncio.current_task():
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
            self._writer = self._reader = None

    def close_soon(self) -> None:
        """Cancel the reader task (which closes the connection) from outside the loop, if
        the loop still runs: for a client dropped without ``close()``."""
        reader = self._reader
        if reader is None or reader.done():
            return
        loop = reader.get_loop()
        if not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(reader.cancel)

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    def _lock(self) -> asyncio.Lock:
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        return self._open_lock

    async def _write(self, writer: asyncio.StreamWriter, link: TCPLink, request: HTTPRequest,
                     data: bytes, deadline: float) -> None:
        """Write ``data`` (at once: the order of the calls is the order on the wire) and
        drain it by ``deadline``; past it the connection is closed and ReplyTimeout raised."""
        if not data:
            return
        try:
            writer.write(data)
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                await writer.drain()
        except TimeoutError:
            reason = self._late_write(request)
            await self._end(writer, link, reason)
            raise ReplyTimeout(reason) from None
        except OSError as exc:  # the response reports the closed link
            await self._end(writer, link, f"the connection broke while writing: {exc}")

    async def _wait(self, exchange: Exchange, until: float) -> None:
        changed = self._condition()
        async with changed:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, until - time.monotonic())):
                    await changed.wait_for(exchange.ready)

    async def _open(self, timeout: float) -> tuple[asyncio.StreamWriter, TCPLink]:
        async with self._lock():
            if self._writer is not None and self._link is not None and self.connected:
                return self._writer, self._link
            try:
                async with asyncio.timeout(timeout):
                    reader, writer = await asyncio.open_connection(self.host, self.port)
            except TimeoutError as exc:
                raise self._unreachable(OSError(f"no connection within {timeout:g} s")) from exc
            except OSError as exc:
                raise self._unreachable(exc) from exc
            sock = writer.get_extra_info("socket")
            if sock is not None:
                keep_alive(sock)
            link = self._new_link()
            self._writer = writer
            self._reader = asyncio.create_task(self._read(reader, writer, link))
            changed = self._condition()
            async with changed:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await changed.wait_for(self._settled(link))
            try:
                self._check_banner(link, timeout)
            except NoBanner:
                await self._end(writer, link, "no banner")
                raise
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
        except asyncio.CancelledError:  # close() or a dropped client: end it here
            link.close("the client closed the connection")
            writer.close()
            raise
        except Exception as exc:  # the last resort too: never die with the link open
            reason = self._reader_stopped(exc)
        await self._end(writer, link, reason)

    async def _end(self, writer: asyncio.StreamWriter, link: TCPLink, reason: str) -> None:
        changed = self._condition()
        async with changed:
            link.close(reason)
            changed.notify_all()
        if writer.transport.get_write_buffer_size():
            writer.transport.abort()  # a close would wait for the unwritten bytes, for ever
        else:
            writer.close()
        with contextlib.suppress(OSError, asyncio.CancelledError):
            await writer.wait_closed()
