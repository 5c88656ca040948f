"""Replaying the TCP captures (``tests/captures/10_tcp_5038``) against a TCP AMI server.

A capture is read from its timed transcript into turns: what the client wrote at once and
what the server wrote back before the client's next write. :func:`replay` writes each
turn's client bytes as recorded and reads the server's answer; :func:`masked` blanks the
per-run values (timestamps, challenge, session ids, addresses, counters, dates, uniqueids)
so that what remains can be compared byte for byte with the capture. The expected bytes
always come from the capture.
"""

from __future__ import annotations

import ast
import re
import socket
import time
from dataclasses import dataclass, field

from tests.conftest import capture_bytes

FOLDER = "10_tcp_5038"
BANNER = b"Asterisk Call Manager/12.0.0\r\n"
_BLOCK = re.compile(r"^----- (C->S|S->C) @ ([\d.]+) "
                    r"\((?:(\d+) bytes, repr|(connection closed by server))\) -----$")

#: headers whose values differ from run to run (or from one server to another)
PER_RUN = frozenset({
    "Timestamp", "Challenge", "EventTV", "SessionTV", "SessionID", "LocalAddress",
    "RemoteAddress", "Uptime", "LastReload", "CoreStartupDate", "CoreStartupTime",
    "CoreReloadDate", "CoreReloadTime", "CoreCurrentCalls", "CoreProcessedCalls", "Uniqueid",
    "Linkedid", "UniqueID", "LinkedID", "DestUniqueid", "DestLinkedid", "EventTime",
    "StartTime", "AnswerTime", "EndTime", "LocalOneUniqueid", "LocalOneLinkedid",
    "LocalTwoUniqueid", "LocalTwoLinkedid", "BridgeUniqueid",
    "Duration", "BillableSeconds",  # whole seconds of a call a faster replay makes shorter
})
_CHANNEL_SEQ = re.compile(rb"-[0-9a-f]{8}(?=;[12])")  # Local/900@sets-0000020d;1
_BUILD = re.compile(rb"^Output: Asterisk (\S+) [^\r\n]*", re.M)  # core show version: who built it
_COUNTER = re.compile(rb"^(Value: )\d+(?=\r\n)", re.M)  # Getvar of a global call counter


@dataclass
class Turn:
    """One client write (None for the connection's start) and the server's bytes after it."""

    sent: bytes | None
    received: list[bytes] = field(default_factory=list)
    closed: bool = False
    gap: float = 0.0  # seconds until the client's next write, as recorded
    span: float = 0.0  # seconds from the write to the server's last bytes of this turn

    @property
    def expected(self) -> bytes:
        return b"".join(self.received)


def turns(name: str) -> list[Turn]:
    """The capture ``name``'s turns, from its transcript."""
    text = capture_bytes(f"{FOLDER}/{name}.transcript.txt").decode()
    chunks: list[tuple[str, float, bytes | None]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = _BLOCK.match(lines[i])
        assert match, f"{name}: unexpected transcript line {lines[i]!r}"
        if match[4]:
            chunks.append((match[1], float(match[2]), None))
            i += 1
        else:
            chunks.append((match[1], float(match[2]), ast.literal_eval(lines[i + 1])))
            i += 2
    out = [Turn(None)]
    last_write = chunks[0][1]
    for direction, at, data in chunks:
        if direction == "C->S":
            out[-1].gap = at - last_write
            out.append(Turn(data))
            last_write = at
        elif data is None:
            out[-1].closed = True
        else:
            out[-1].received.append(data)
            out[-1].span = at - last_write
    return out


def messages(data: bytes) -> list[bytes]:
    """The AMI messages of a byte stream, each with its blank line; the banner is its own."""
    out = []
    if data.startswith(BANNER):
        out.append(BANNER)
        data = data[len(BANNER):]
    while data:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            out.append(data)  # an unfinished message: kept, so a comparison shows it
            break
        out.append(data[:end + 4])
        data = data[end + 4:]
    return out


def masked(message: bytes) -> bytes:
    """``message`` with its per-run values replaced by ``<per-run>``."""
    lines = []
    for line in message.split(b"\r\n"):
        name, colon, _value = line.partition(b": ")
        if colon and name.decode("latin-1") in PER_RUN:
            line = name + b": <per-run>"
        lines.append(line)
    out = b"\r\n".join(lines)
    out = _CHANNEL_SEQ.sub(b"-<seq>", out)
    out = _BUILD.sub(rb"Output: Asterisk \1 <build>", out)
    return _COUNTER.sub(rb"\1<counter>", out)


def whole(got: list[bytes]) -> int:
    """How many of ``got`` are whole messages (the banner counts as one)."""
    return sum(1 for m in got if m == BANNER or m.endswith(b"\r\n\r\n"))


def is_event(message: bytes) -> bool:
    return message.startswith(b"Event: ")


class Connection:
    """A TCP AMI connection that collects whole messages: what it read is never dropped,
    a message cut across segments is handed out only once it is whole."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=15)
        self.buffer = b""
        self.eof = False

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_for(self, seconds: float) -> None:
        """Read whatever arrives within ``seconds`` (or until the server closes)."""
        deadline = time.monotonic() + seconds
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                return
            except ConnectionResetError:
                data = b""
            if not data:
                self.eof = True
            self.buffer += data

    def read_until(self, done, seconds: float = 10.0) -> None:
        """Read until ``done(messages so far)`` or the server closes or ``seconds`` pass."""
        deadline = time.monotonic() + seconds
        while not self.eof and not done(messages(self.buffer)) and time.monotonic() < deadline:
            self.read_for(min(0.05, deadline - time.monotonic()))

    def take(self) -> bytes:
        """The whole messages received so far (the banner counts as one); a message still
        arriving stays buffered, so the next ``take`` returns it whole."""
        parts = messages(self.buffer)
        rest = parts.pop() if parts and not whole(parts[-1:]) else b""
        self.buffer = rest
        return b"".join(parts)

    def close(self) -> None:
        self.sock.close()
