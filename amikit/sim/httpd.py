"""The simulator's HTTP/1.1 front, byte for byte like Asterisk's ``main/http.c``.

Hand-written on asyncio streams because the bytes matter: header order, the
``Content-type`` spelling, ``Content-Length`` always (never chunked), keep-alive by
default, ``Connection: close`` only when the client asked for it.

Paths: ``[prefix]/rawman``, ``/mxml``, ``/manager`` (cookie sessions) and ``/arawman``,
``/amxml``, ``/amanager`` (HTTP digest), matched case-insensitively, with one trailing ``/``
allowed. Anything else is 404; a method other than GET, HEAD or POST is 501.
"""

from __future__ import annotations

import asyncio
import logging
from email.utils import formatdate
from urllib.parse import parse_qsl, urlsplit

from amikit.sim import wire
from amikit.sim.front import Front
from amikit.sim.manager import Manager, Reply, Request
from amikit.sim.replies import is_number

__all__ = ["HTTPFront"]

log = logging.getLogger("amikit.sim")

MAX_LINE = 4096
MAX_HEADERS = 100
MAX_BODY = 40960
SESSION_INACTIVITY = 30.0  # http.conf session_inactivity (ms in Asterisk), main/http.c's default
SESSION_LIMIT = 500  # concurrent connections; http.conf sessionlimit (Asterisk's default is 100)
PATHS = {"rawman": ("rawman", False), "mxml": ("mxml", False), "manager": ("manager", False),
         "arawman": ("rawman", True), "amxml": ("mxml", True), "amanager": ("manager", True)}
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            413: "Request Entity Too Large", 501: "Not Implemented"}


class _BadRequest(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


def _is_hex(text: bytes) -> bool:
    return 0 < len(text) <= 16 and all(c in b"0123456789abcdefABCDEF" for c in text)


def _params(query: str) -> list[tuple[str, str]]:
    # ast_uri_decode with ast_uri_http_legacy: "+" is a space, %XX a byte, bad % kept
    return parse_qsl(query, keep_blank_values=True, errors="surrogateescape")


class HTTPFront(Front):
    """Serves the manager's HTTP paths on one listening socket."""

    def __init__(self, manager: Manager, prefix: str = "", servername: str = "Asterisk/23.4.1",
                 enabled: bool = True, *, session_inactivity: float = SESSION_INACTIVITY,
                 session_limit: int = SESSION_LIMIT) -> None:
        super().__init__()
        self.manager = manager
        self.session_inactivity = session_inactivity
        self.session_limit = session_limit
        self.prefix = prefix.rstrip("/").lower()
        self.servername = servername
        self.enabled = enabled

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer one connection's requests until it closes, errs, idles or is told to close."""
        if len(self.connections) >= self.session_limit:
            # httpd_helper_thread: over session_limit the new connection is closed unanswered
            writer.close()
            return
        self.opened(writer)
        peer = writer.get_extra_info("peername") or ("127.0.0.1", 0)
        try:
            while True:
                try:
                    keep_open = await self._one(reader, writer, peer)
                except _BadRequest as bad:
                    await self._send(writer, self._page(bad.status), "GET", close=True)
                    return
                if not keep_open:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                TimeoutError):
            return
        except asyncio.CancelledError:
            # close() cancels the open connections when the simulator stops: an ordinary end,
            # not an error worth a traceback per connection
            return
        finally:
            self.closed(writer)

    async def _line(self, reader: asyncio.StreamReader) -> bytes:
        """One line, within ``session_inactivity`` (``ast_iostream_set_timeout_inactivity``);
        a line longer than the reader's buffer (64 KiB) is a 400, not a dropped connection."""
        try:
            async with asyncio.timeout(self.session_inactivity):
                return await reader.readline()
        except (ValueError, asyncio.LimitOverrunError):  # readline's "Separator ... limit"
            raise _BadRequest(400) from None

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   peer: tuple[str, int]) -> bool:
        line = await self._line(reader)
        if not line:
            return False
        if len(line) > MAX_LINE or not line.endswith(b"\n"):
            raise _BadRequest(400)
        try:
            method, target, _version = line.decode("latin-1").split()
        except ValueError:
            raise _BadRequest(400) from None
        headers: list[tuple[str, str]] = []
        while True:
            raw = await self._line(reader)
            if len(raw) > MAX_LINE:
                raise _BadRequest(400)
            if raw in (b"\r\n", b"\n", b""):
                break
            name, _, value = raw.decode("latin-1").partition(":")
            headers.append((name.strip().lower(), value.strip()))
            if len(headers) > MAX_HEADERS:
                raise _BadRequest(413)
        fields = {n: v for n, v in headers}
        body = await self._body(reader, fields)
        close = fields.get("connection", "").lower() == "close"
        reply = await self._route(method.upper(), target, headers, body, peer, writer)
        await self._send(writer, reply, method.upper(), close=close)
        return not close

    async def _body(self, reader: asyncio.StreamReader, fields: dict[str, str]) -> bytes:
        """The request body, refused as soon as it would pass ``MAX_BODY`` (``http_body_*`` in
        main/http.c check each chunk's size before reading it), never buffered first."""
        async with asyncio.timeout(self.session_inactivity):
            return await self._read_body(reader, fields)

    async def _read_body(self, reader: asyncio.StreamReader, fields: dict[str, str]) -> bytes:
        if fields.get("transfer-encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            total = 0
            while True:
                size_text = (await self._line(reader)).split(b";")[0].strip()
                if not _is_hex(size_text):
                    raise _BadRequest(400)  # chunked_atoh: a bad chunk size is a bad request
                size = int(size_text, 16)
                if size == 0:
                    await self._line(reader)
                    break
                total += size
                if total > MAX_BODY:
                    raise _BadRequest(413)
                chunks.append(await reader.readexactly(size))
                if (await self._line(reader)).strip():
                    raise _BadRequest(400)
            return b"".join(chunks)
        if "transfer-encoding" in fields:
            raise _BadRequest(501)
        length = fields.get("content-length")
        if length is None:
            return b""
        if not is_number(length):
            raise _BadRequest(400)
        if int(length) > MAX_BODY:
            raise _BadRequest(413)
        return await reader.readexactly(int(length))

    async def _route(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes,
                     peer: tuple[str, int], writer: asyncio.StreamWriter) -> Reply:
        parts = urlsplit(target)
        path = parts.path.lower()
        if self.prefix:
            if not path.startswith(self.prefix + "/"):
                return self._page(404)
            path = path[len(self.prefix):]
        name = path[1:-1] if path.endswith("/") else path[1:]  # one trailing "/" is allowed
        if not self.enabled or name not in PATHS:
            return self._page(404)
        if method not in ("GET", "HEAD", "POST"):
            return self._page(501)
        fields = {n: v for n, v in headers}  # the last of a repeated header wins
        params = _params(parts.query)
        if method == "POST":
            kind = fields.get("content-type", "").split(";")[0].strip().lower()
            params = (_params(body.decode("latin-1")) if kind == "application/x-www-form-urlencoded"
                      else [])
        encoding, digest = PATHS[name]
        sock = writer.get_extra_info("sockname") or ("127.0.0.1", self.port)
        request = Request(method, encoding, digest, params, cookie=fields.get("cookie"),
                          authorization=fields.get("authorization"), uri=target,
                          remote=(peer[0], peer[1]), local_port=sock[1])
        return await self.manager.handle(request)

    def _page(self, status: int) -> Reply:
        return Reply(status, [("Cache-Control", "no-cache, no-store"), ("Content-type", "text/html")],
                     wire.http_page(status, self.servername))

    async def _send(self, writer: asyncio.StreamWriter, reply: Reply, method: str, *,
                    close: bool) -> None:
        head = [f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Error')}"]
        if self.servername:
            head.append(f"Server: {self.servername}")
        head.append(f"Date: {formatdate(usegmt=True)}")
        if close and reply.status == 200:
            head.append("Connection: close")
        head += [f"{n}: {v}" for n, v in reply.headers]
        head.append(f"Content-Length: {len(reply.body)}")
        send_body = method != "HEAD" or reply.status >= 400
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
                     + (reply.body if send_body else b""))
        await writer.drain()
