"""A recording read from disk a piece at a time, for replay: its events, when each happened,
and places to start reading again.

The formats are :func:`amikit.read_events`'s: a rawman stream (WaitEvent bodies one after
another), a raw TCP session (``*.s2c.bin``, banner first), an mxml stream
(``<ajax-response>`` documents one after another) and amikit's JSON Lines; any of them
gzip-compressed. Only events are yielded, as ``read_events`` keeps them: a stream's own
``Response`` replies and ``WaitEventComplete`` markers are not events.

Nothing holds more than one chunk (256 KiB) of the file and the events it completes, so a
recording of any size starts at once and costs the same memory.

    >>> import amikit
    >>> rec = Recording(amikit.sample_recording())
    >>> rec.kind, rec.first_time, round(rec.last_time - rec.first_time, 1)
    ('rawman', 1795675451.752239, 6.0)
    >>> batch = next(iter(rec.batches()))
    >>> len(batch.events), batch.events[0].event.name, batch.events[0].at
    (610, 'CEL', 1795675451.752239)
"""

from __future__ import annotations

import contextlib
import gzip
import io
import math
import os
import pathlib
import re
import zlib
from collections.abc import Generator, Iterator
from typing import BinaryIO, NamedTuple

from amikit.errors import AMIError, ProtocolError
from amikit.jsonl import record_message
from amikit.message import Message, is_stream_event
from amikit.mxml import parse_manager_html, parse_mxml
from amikit.protocol import StreamReader

__all__ = ["Batch", "Recorded", "Recording", "RecordingError"]

CHUNK = 256 * 1024  # read at a time: parsing one holds the simulator's loop ~50 ms
TIMED_WITHIN = 4 << 20  # bytes looked through for a first event time
_GZIP = b"\x1f\x8b"
_END_DOC = b"</ajax-response>"
# the last Timestamp in a file's tail, in each encoding (rawman header, mxml attribute, JSON)
_TIMESTAMPS = {
    "rawman": re.compile(rb"(?im)^timestamp: *([0-9]+(?:\.[0-9]+)?)"),
    "mxml": re.compile(rb"timestamp='([0-9]+(?:\.[0-9]+)?)'"),
}


class RecordingError(AMIError, ValueError):
    """A recording that cannot be replayed: missing, unreadable, or with no events."""


class Recorded(NamedTuple):
    """One recorded event and when it happened (epoch seconds: its ``Timestamp``, else the
    time amikit received it, else the time of the event before it; None before any)."""

    event: Message
    at: float | None


class Batch(NamedTuple):
    """Events read together, and the file offset from which the events after them are read."""

    events: list[Recorded]
    resume: int


def _time_of(message: Message) -> float | None:
    """Its ``Timestamp``, else when amikit received it; a time that is no number or not
    finite (``nan``, ``inf``) is none."""
    text = message.get("Timestamp")
    if text is not None:
        try:
            at = float(text)
        except ValueError:
            pass
        else:
            if math.isfinite(at):
                return at
    received = message.received_at
    return received if received is not None and math.isfinite(received) else None


class Recording:
    """A recording on disk (or in memory) read in order, a chunk at a time.

    Args:
        source: a path, or the recording's bytes (``amikit.sample_recording("busy")``).

    Raises :class:`RecordingError` for a file that is missing, empty or not a recording.
    ``first_time`` and ``last_time`` are the first and last event times (``last_time`` read
    from the file's tail, so opening costs no full read, except of a gzip-compressed file);
    ``kind`` is ``rawman``, ``mxml``, ``jsonl`` or ``html``.
    """

    def __init__(self, source: str | os.PathLike[str] | bytes) -> None:
        if isinstance(source, bytes | bytearray | memoryview):
            self.path: pathlib.Path | None = None
            self._data: bytes | None = bytes(source)
            self.name = "<bytes>"
        else:
            self.path = pathlib.Path(source)
            self._data = None
            self.name = str(self.path)
            if not self.path.is_file():
                raise RecordingError(f"no recording at {self.path}")
        with self._reading("its start"):
            with self._open() as f:
                head = f.read(4096)
            self.compressed = self._head_bytes()[:2] == _GZIP
            self.kind = _kind(head)
            if self.kind is None:
                raise RecordingError(f"{self.name} is empty: nothing to replay")
            first, self.first_time = self._first_events()
            if first is None:
                raise RecordingError(f"{self.name} holds no events to replay")
            self.last_time: float | None = self._last_time() if self.first_time is not None else None

    @property
    def timed(self) -> bool:
        """Whether its events have times (a ``Timestamp``, or JSON Lines' ``received_at``).
        Asterisk writes Timestamps only with manager.conf's ``timestampevents = yes``."""
        return self.first_time is not None

    def _first_events(self) -> tuple[Recorded | None, float | None]:
        """The first event, and the first time an event has (looked for in the first
        :data:`TIMED_WITHIN` bytes, so a recording without times is not read whole)."""
        first = None
        try:
            for batch in self.batches():
                for recorded in batch.events:
                    first = first or recorded
                    if recorded.at is not None:
                        return first, recorded.at
                if first is not None and batch.resume >= TIMED_WITHIN:
                    break
        except ProtocolError as exc:
            if first is None:
                raise RecordingError(f"{self.name} is not a recording amikit reads: {exc}") from None
            # damaged after its start: what comes before plays, and the replay says where it stopped
        return first, None

    @contextlib.contextmanager
    def _reading(self, what: str) -> Iterator[None]:
        """An unreadable file (I/O error, a damaged or cut gzip) as a RecordingError naming it."""
        try:
            yield
        except (OSError, EOFError, zlib.error) as exc:
            raise RecordingError(f"cannot read {what} of {self.name}: "
                                 f"{exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}"
                                 ) from exc

    def __repr__(self) -> str:
        return f"<Recording {self.name} ({self.kind})>"

    def _head_bytes(self) -> bytes:
        if self._data is not None:
            return self._data[:2]
        assert self.path is not None
        with self.path.open("rb") as f:
            return f.read(2)

    @contextlib.contextmanager
    def _open(self) -> Iterator[BinaryIO]:
        """The recording's bytes as a file (decompressed when gzip), closed after use."""
        with contextlib.ExitStack() as stack:
            raw: BinaryIO
            if self._data is not None:
                raw = io.BytesIO(self._data)
            else:
                assert self.path is not None
                raw = stack.enter_context(self.path.open("rb"))
            if raw.read(2) == _GZIP:
                raw.seek(0)
                yield stack.enter_context(gzip.GzipFile(fileobj=raw))  # type: ignore[misc]
            else:
                raw.seek(0)
                yield raw

    def _last_time(self) -> float | None:
        """The last event time, from the file's tail (the whole file when compressed; a cut
        gzip gives the tail it has, and the replay stops where the cut is)."""
        tail = b""
        with self._reading("its end"), self._open() as f:
            if self.compressed:
                try:
                    while chunk := f.read(CHUNK):
                        tail = (tail + chunk)[-2 * CHUNK:]
                except (EOFError, OSError, zlib.error):
                    pass
            else:
                f.seek(0, io.SEEK_END)
                f.seek(max(0, f.tell() - CHUNK))
                tail = f.read()
        if self.kind == "jsonl":
            return _last_json_time(tail)
        pattern = _TIMESTAMPS.get(self.kind or "")
        found = pattern.findall(tail) if pattern is not None else []
        finite = [t for t in map(float, found) if math.isfinite(t)]
        return finite[-1] if finite else None

    def batches(self, start: int = 0) -> Generator[Batch, None, None]:
        """The events from byte ``start`` on (0, or a ``Batch.resume`` seen before), in order.

        The items of list replies in a recorded session (a CoreShowChannels' CoreShowChannel
        events, with their ``…Complete``) are left out: Asterisk writes them to the session
        that asked alone (``astman_append``), so they were never events for anyone else.
        """
        read = {"rawman": _rawman, "mxml": _mxml, "jsonl": _jsonl, "html": _html}[self.kind or ""]
        with self._reading("the events"), self._open() as f:
            f.seek(start)
            last: float | None = None
            lists: set[str] = set()  # ActionIDs of list replies still giving items
            for messages, resume in read(f, start):
                events = []
                for message in messages:
                    if _list_item(message, lists) or not is_stream_event(message):
                        continue
                    at = _time_of(message)
                    last = at if at is not None else last
                    events.append(Recorded(message, last))
                yield Batch(events, resume)


def _list_item(message: Message, lists: set[str]) -> bool:
    """Whether ``message`` is part of a list reply (``astman_send_listack`` … its
    ``EventList: Complete``), keeping ``lists`` of the replies still open."""
    action_id = message.get("ActionID")
    if action_id is None:
        return False
    if "Response" in message:
        if (message.get("EventList") or "").lower() == "start":
            lists.add(action_id)
        return False
    if action_id not in lists:
        return False
    if (message.get("EventList") or "").lower() == "complete":
        lists.discard(action_id)
    return True


def _last_json_time(tail: bytes) -> float | None:
    """The time of the last JSON Lines record in ``tail`` that has one (its Timestamp, else
    its received_at: ``amikit record`` from an Asterisk without timestampevents)."""
    for line in reversed(tail.split(b"\n")[1:]):  # the first piece may be cut
        if line.strip():
            try:
                at = _time_of(record_message(line, 0))
            except ProtocolError:
                continue
            if at is not None:
                return at
    return None


def _kind(head: bytes) -> str | None:
    text = head.lstrip()[:64].lower()
    if not text:
        return None
    if text.startswith(b"{"):
        return "jsonl"
    if text.startswith(b"<ajax-response"):
        return "mxml"
    if text.startswith((b"<title", b"<!doctype", b"<html")):
        return "html"
    return "rawman"


Chunks = Iterator[tuple[list[Message], int]]


def _rawman(f: BinaryIO, offset: int) -> Chunks:
    reader = StreamReader()
    while chunk := f.read(CHUNK):
        offset += len(chunk)
        messages = reader.feed(chunk)
        yield messages, offset - reader.pending
    yield reader.close(), offset


def _mxml(f: BinaryIO, offset: int) -> Chunks:
    held = b""
    while chunk := f.read(CHUNK):
        held += chunk
        end = held.rfind(_END_DOC)
        if end < 0:
            continue
        end += len(_END_DOC)
        done, held = held[:end], held[end:]
        offset += len(done)
        yield parse_mxml(done), offset
    if held.strip():
        raise ProtocolError(f"the mxml recording ends inside a document: {held[:60]!r}…")


def _jsonl(f: BinaryIO, offset: int) -> Chunks:
    held = b""
    while chunk := f.read(CHUNK):
        held += chunk
        end = held.rfind(b"\n") + 1
        done, held = held[:end], held[end:]
        yield from _json_lines(done, offset)
        offset += len(done)
    if held.strip():
        yield from _json_lines(held, offset)


def _json_lines(data: bytes, offset: int) -> Chunks:
    """The records of whole lines; a bad one is reported by its byte offset after the good
    ones before it have been handed on."""
    messages = []
    at = offset
    for line in data.split(b"\n"):
        if line.strip():
            try:
                messages.append(record_message(line, 0))
            except ProtocolError as exc:
                yield messages, at
                reason = str(exc).partition(": ")[2]
                raise ProtocolError(f"the JSON Lines record at byte {at} is not an amikit event: "
                                    f"{reason}") from None
        at += len(line) + 1
    yield messages, offset + len(data)


def _html(f: BinaryIO, offset: int) -> Chunks:
    data = f.read()  # /manager pages are small: one poll each, read whole
    yield parse_manager_html(data), offset + len(data)
