"""A hostile HTTP server on 127.0.0.1 for the client's tests: it misbehaves on purpose.

Each request is answered by the next *act* of a plan (the last act repeats), on its own
connection, which is then closed. Acts:

* ``bytes``: sent as they are (a whole, well-formed reply, e.g. from :func:`reply`);
* ``"endless"``: a 200 whose body never ends (AMI-looking header lines, for ever);
* ``"gzip-bomb"``: a 200 whose gzip body unpacks to :data:`BOMB_SIZE` bytes;
* ``"drip"``: a 200 whose body comes one byte per :attr:`HostileServer.interval` s;
* ``"drip-head"``: the status line and headers themselves one byte at a time;
* ``"reset"``: the request read, then the connection reset (TCP RST);
* ``"500"``: an HTTP 500, as a proxy in front of a restarting Asterisk sends.

::

    with HostileServer(["endless"]) as server:
        AMIClient(server.url, "hello", "world", max_reply_bytes=1 << 20).ping()  # ReplyTooLarge
"""

from __future__ import annotations

import functools
import gzip
import socket
import struct
import threading
from collections.abc import Sequence
from typing import Self

__all__ = ["BOMB_SIZE", "HostileServer", "reply"]

#: What the gzip bomb unpacks to: far above the limits the tests set, small to build.
BOMB_SIZE = 64 * 1024 * 1024
_LOGIN = b"Response: Success\r\nMessage: Authentication accepted\r\n\r\n"


def reply(body: bytes, *, status: str = "200 OK", headers: Sequence[str] = ()) -> bytes:
    """A whole HTTP/1.1 reply that closes the connection.

        >>> reply(b"Response: Success\\r\\n\\r\\n").split(b"\\r\\n")[0]
        b'HTTP/1.1 200 OK'
    """
    head = [f"HTTP/1.1 {status}", "Content-Type: text/plain", f"Content-Length: {len(body)}",
            "Connection: close", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def login_reply(cookie: str = "0badc0de") -> bytes:
    """A successful Login, with the session cookie."""
    return reply(_LOGIN, headers=[f'Set-Cookie: mansession_id="{cookie}"; Version=1; Max-Age=60'])


def wait_event_reply(*events: str) -> bytes:
    """A WaitEvent reply carrying an event of each name given."""
    body = b"Response: Success\r\nMessage: Waiting for Event completed.\r\n\r\n"
    body += b"".join(f"Event: {name}\r\nPrivilege: call,all\r\n\r\n".encode() for name in events)
    return reply(body + b"Event: WaitEventComplete\r\n\r\n")


@functools.cache
def _bomb() -> bytes:
    # zeros compress about a thousand to one: 64 MiB become some 64 KiB
    return gzip.compress(bytes(BOMB_SIZE), compresslevel=9)


class HostileServer:
    """The server (see the module docstring); a context manager that starts and stops it."""

    def __init__(self, plan: Sequence[bytes | str], *, interval: float = 0.05) -> None:
        if not plan:
            raise ValueError("a plan needs at least one act")
        self.plan = list(plan)
        self.interval = interval
        self.requests: list[bytes] = []  # each request's head and body, as received
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._threads: list[threading.Thread] = []
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def __enter__(self) -> Self:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._sock.close()
        for thread in list(self._threads):
            thread.join(timeout=5)

    def _next_act(self) -> bytes | str:
        with self._lock:
            return self.plan.pop(0) if len(self.plan) > 1 else self.plan[0]

    def _accept(self) -> None:
        # closing a socket does not wake a thread blocked in accept(): poll the stop flag
        self._sock.settimeout(0.05)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:  # closed by __exit__
                return
            conn.setblocking(True)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                if not self._read_request(conn):
                    return
                self._act(conn, self._next_act())
            except OSError:
                pass  # the client hung up: what it should do with a server like this

    def _read_request(self, conn: socket.socket) -> bool:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return False
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return False
            body += chunk
        self.requests.append(head + b"\r\n\r\n" + body)
        return True

    def _act(self, conn: socket.socket, act: bytes | str) -> None:
        if isinstance(act, bytes):
            conn.sendall(act)
        elif act == "endless":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
                         b"Response: Success\r\n")
            line = b"Output: " + b"x" * 4000 + b"\r\n"
            while not self._stop.is_set():
                conn.sendall(line * 16)
        elif act == "gzip-bomb":
            bomb = _bomb()
            conn.sendall(reply(bomb, headers=["Content-Encoding: gzip"]))
        elif act in ("drip", "drip-head"):
            whole = reply(b"Response: Success\r\nPing: Pong\r\n\r\n")
            head, _, body = whole.partition(b"\r\n\r\n")
            if act == "drip":
                conn.sendall(head + b"\r\n\r\n")
                whole = body
            for byte in whole:
                if self._stop.wait(self.interval):
                    return
                conn.sendall(bytes([byte]))
        elif act == "reset":
            # linger on, time 0: close() sends RST instead of FIN
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif act == "500":
            conn.sendall(reply(b"<h1>Internal Server Error</h1>", status="500 Internal Server Error"))
        else:
            raise ValueError(f"no such act: {act!r}")
