"""Events as typed pandas DataFrames.

    >>> import amikit
    >>> df = amikit.read_events(b"Event: Hangup\\r\\nPrivilege: call,all\\r\\n"
    ...                         b"Timestamp: 1795675451.752314\\r\\nCause: 16\\r\\n\\r\\n")
    >>> df.loc[0, "Cause"], str(df["Timestamp"].dtype)
    (np.int64(16), 'datetime64[us, UTC]')

One row per event, in arrival order (replies and ``WaitEventComplete`` markers are not
events). Columns keep AMI's header names; names that differ only in case (CEL and Cdr
write ``UniqueID``, ``CallerIDnum``) share one column under the usual spelling. Types:

* ``Timestamp`` (and ``received_at``, when amikit received the events live) are
  timezone-aware UTC datetimes. Events without a ``Timestamp`` (Asterisk's default is
  ``timestampevents=no``) take it from ``received_at``.
* ``ChannelState``, ``Priority``, ``Cause``, ``Reason``, ``ListItems`` and a few other
  counts are nullable integers (``Int64``) — unless a value is a word (AgentComplete's
  ``Reason: agent``), when the column stays text so that nothing is lost.
* Repeated text (Event, Privilege, Context, ChannelStateDesc, Language …) is categorical;
  other text is pandas' string dtype. A header absent from an event is NA.
* **A header that repeats inside one event** (``Variable``, ``ChanVariable``, ``Output``)
  becomes a list column: each non-missing cell is the list of its values in wire order.
* Cdr and CEL times (``StartTime``, ``AnswerTime``, ``EndTime``, ``EventTime``) are
  Asterisk's local time without a zone; they stay text unless ``tz=`` names the zone.
* ``server`` names the PBX when given, so frames of several PBXs can be combined.

Rawman bytes take a columnar path: pyarrow splits the text into lines and headers and
builds each column at once, with no Python object per message. It follows the rules of
:func:`amikit.parse_rawman` exactly (the tests compare the two); anything unusual (bytes
that are not UTF-8, legacy ``Response: Follows``) takes the message path instead.
"""

from __future__ import annotations

import os
import pathlib
from collections import deque
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from amikit.headernames import usual_spelling
from amikit.jsonl import record_line, record_message
from amikit.message import Message, is_stream_event
from amikit.protocol import parse_recording

__all__ = ["EventLog", "events_frame", "read_events"]

TIME_COLUMNS = ("Timestamp", "received_at")
INT_COLUMNS = ("ChannelState", "Priority", "Cause", "Reason", "ListItems", "DestChannelState",
               "DestPriority", "BridgeNumChannels", "Duration", "BillableSeconds", "Items")
LOCAL_TIME_COLUMNS = ("StartTime", "AnswerTime", "EndTime", "EventTime")
#: A text column becomes categorical when it has at most this share of distinct values.
CATEGORY_RATIO = 0.5

Cells = tuple[np.ndarray, pa.Array]  # the rows a column has values in, and those values


# -- column naming -----------------------------------------------------------------------
class _Names:
    """Maps each header spelling to its column (usual spelling, else first one seen)."""

    def __init__(self) -> None:
        self._by_spelling: dict[str, str] = {}
        self._by_lower: dict[str, str] = {}

    def __call__(self, name: str) -> str:
        column = self._by_spelling.get(name)
        if column is None:
            lower = name.lower()
            column = self._by_lower.get(lower) or usual_spelling(name) or name
            self._by_lower[lower] = column
            self._by_spelling[name] = column
        return column


# -- text that Arrow and Parquet can hold -------------------------------------------------
def _printable(text: str) -> str:
    """``text`` as valid Unicode: bytes that were not UTF-8 shown as ``\\xff`` escapes.

    Parsers keep such bytes as surrogate escapes (and record a defect); Arrow, Parquet and
    most tools refuse surrogates, so a frame shows the bytes with backslash escapes
    instead: visible, and never mistaken for the character a decoder would guess.
    """
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that stands for no byte (from JSON, say)
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _string_array(values: list[str]) -> pa.Array:
    try:
        return pa.array(values, pa.string())
    except UnicodeEncodeError:  # the rare column holding surrogates: only it pays for this
        return pa.array([v if v.isascii() else _printable(v) for v in values], pa.string())


# -- the message path --------------------------------------------------------------------
def _message_columns(messages: Iterable[Message]) -> tuple[dict[str, Cells], list[float | None], int]:
    """Each column's (rows, values) from Message objects; events only."""
    names = _Names()
    cells: dict[str, tuple[list[int], list[str]]] = {}
    received: list[float | None] = []
    row = 0
    for msg in messages:
        if not is_stream_event(msg):
            continue
        for name, value in msg.headers:
            column = names(name if name.isascii() else _printable(name))
            rows, values = cells.setdefault(column, ([], []))
            rows.append(row)
            values.append(value)
        received.append(msg.received_at)
        row += 1
    columns = {column: (np.array(rows, dtype=np.int64), _string_array(values))
               for column, (rows, values) in cells.items()}
    return columns, received, row


# -- the columnar path -------------------------------------------------------------------
_HEADER = r"^(?P<name>[^:]*):(?: ?)(?P<value>(?s:.*))$"


def _headers(text: str, sep: str) -> tuple[np.ndarray, pa.Array, pa.Array]:
    """Message number, name and value of every header line of ``text``."""
    lines = pc.split_pattern(pa.array([text], pa.large_string()), sep).flatten()
    blank = pc.equal(lines, "").to_numpy(zero_copy_only=False)
    message = np.cumsum(blank)  # message number of each line (blank lines start the next)
    # name: what precedes the first ":"; value: what follows ": " (or ":"); a line without
    # a colon is no header (parse_rawman's rules)
    parts = pc.extract_regex(lines, _HEADER)
    keep = parts.is_valid()
    parts = parts.filter(keep)
    return (message[keep.to_numpy(zero_copy_only=False)], pc.struct_field(parts, "name"),
            pc.struct_field(parts, "value"))


def _chunks(text: str, sep: str, count: int) -> list[str]:
    """``text`` cut into about ``count`` pieces, each at a message boundary."""
    blank = sep + sep
    pieces, start = [], 0
    for i in range(1, count):
        cut = text.find(blank, max(start, len(text) * i // count))
        if cut < 0:
            break
        pieces.append(text[start:cut + len(blank)])
        start = cut + len(blank)
    pieces.append(text[start:])
    return [p for p in pieces if p]


def _columnar(text: str) -> tuple[dict[str, Cells], int]:
    """Columns straight from rawman text (see the module docstring); events only."""
    sep = "\r\n" if "\r\n" in text else "\n"
    # pyarrow's kernels release the GIL: large texts are read in parallel pieces
    workers = min(os.cpu_count() or 1, 8) if len(text) > 4_000_000 else 1
    pieces = _chunks(text, sep, workers)
    if len(pieces) > 1:
        with ThreadPoolExecutor(len(pieces)) as pool:
            results = list(pool.map(lambda piece: _headers(piece, sep), pieces))
    else:
        results = [_headers(text, sep)]
    offset, messages = 0, []
    for found, _, _ in results:
        messages.append(found + offset)
        offset += int(found[-1]) + 1 if len(found) else 0
    message = np.concatenate(messages) if messages else np.zeros(0, dtype=np.int64)
    header = pa.concat_arrays([r[1] for r in results])
    value = pa.concat_arrays([r[2] for r in results])

    encoded = header.dictionary_encode()
    spellings = encoded.dictionary.to_pylist()
    names = _Names()
    column_of = [names(s) for s in spellings]
    columns_sorted = sorted(set(column_of))
    column_index = {c: i for i, c in enumerate(columns_sorted)}
    # int16 codes: numpy sorts them with a radix sort (there are far fewer than 32,768 names)
    code_type = np.int16 if len(columns_sorted) < 2**15 else np.int32
    code = np.array([column_index[c] for c in column_of], dtype=code_type)[
        encoded.indices.to_numpy(zero_copy_only=False)]

    # which messages are events (and not WaitEventComplete markers)
    event_col = column_index.get("Event")
    if event_col is None:
        return {}, 0
    first_event = np.zeros(message.max() + 1 if len(message) else 0, dtype=bool)
    is_event_line = code == event_col
    event_values = value.filter(pa.array(is_event_line))
    event_msgs = message[is_event_line]
    real = pc.not_equal(event_values, "WaitEventComplete").to_numpy(zero_copy_only=False)
    # the first Event header of a message decides (Message lookups take the first value);
    # message numbers only grow along the text, so a change marks a message's first one
    first_of_message = np.r_[True, np.diff(event_msgs) != 0] if len(event_msgs) else event_msgs
    first_event[event_msgs[first_of_message]] = real[first_of_message]
    row_of_message = np.cumsum(first_event) - 1
    keep_line = first_event[message]
    rows = row_of_message[message][keep_line]
    code = code[keep_line]
    value = value.filter(pa.array(keep_line))
    n_rows = int(first_event.sum())

    order = np.argsort(code, kind="stable")
    bounds = np.searchsorted(code[order], np.arange(len(columns_sorted) + 1))
    grouped = value.take(pa.array(order))  # one gather; each column is then a slice of it
    rows = rows[order]
    present = [i for i in range(len(columns_sorted)) if bounds[i + 1] > bounds[i]]
    first_line = {i: order[bounds[i]] for i in present}  # a stable sort keeps line order
    columns = {}
    for i in sorted(present, key=first_line.__getitem__):  # columns in order of appearance
        start, stop = int(bounds[i]), int(bounds[i + 1])
        columns[columns_sorted[i]] = (rows[start:stop], grouped.slice(start, stop - start))
    return columns, n_rows


def _column(name: str, rows: np.ndarray, values: pa.Array, n_rows: int,
            tz: str | None) -> pd.Series:
    """One typed, full-length column from the rows that have a value and their values."""
    if len(rows) > 1 and (np.diff(rows) == 0).any():
        return _list_column(rows, values, n_rows)
    if name == "Timestamp":
        return _times(_scatter_numbers(rows, values, n_rows, np.float64))
    if name in INT_COLUMNS:
        numbers = _scatter_numbers(rows, values, n_rows, np.float64)
        if _has_words(values, numbers[rows]):  # AgentComplete's Reason: caller, agent, transfer
            return _text(rows, values, n_rows)
        return _integers(numbers)
    if name in LOCAL_TIME_COLUMNS and tz is not None:
        local = pd.to_datetime(_text(rows, values, n_rows).astype(object), errors="coerce")
        return local.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
    return _text(rows, values, n_rows)


# Python's datetime range (years 1 to 9999) in epoch seconds: what every tool can hold.
_FIRST_SECOND, _LAST_SECOND = -62_135_596_800.0, 253_402_300_799.0


def _times(seconds: np.ndarray) -> pd.Series:
    """Epoch seconds as UTC datetimes; NaN, infinite or out-of-range ones as NaT."""
    with np.errstate(invalid="ignore"):
        ok = (seconds >= _FIRST_SECOND) & (seconds <= _LAST_SECOND)
    seconds = np.where(ok, seconds, np.nan)
    return pd.Series(pd.to_datetime(seconds, unit="s", utc=True)).astype("datetime64[us, UTC]")


def _has_words(values: pa.Array, numbers: np.ndarray) -> bool:
    """Whether a count column holds a word: a non-empty value that is not a number. Such a
    column stays text, so that no value is lost (``Reason`` is OriginateResponse's number and
    AgentComplete's ``caller``/``agent``/``transfer``)."""
    failed = np.isnan(numbers)
    if not failed.any():
        return False
    texts = values.to_numpy(zero_copy_only=False)[failed]
    return any(isinstance(t, str) and t.strip() for t in texts)


def _integers(numbers: np.ndarray) -> pd.Series:
    """Numbers as nullable integers; a fraction, NaN, infinity or one beyond int64 is NA.

    Casting such a float would wrap (1e30 becomes -9223372036854775808) or truncate; a
    count that is not an integer is not a count, so it is missing, never made up.
    """
    with np.errstate(invalid="ignore"):
        ok = (np.abs(numbers) < 2.0**63) & (np.floor(numbers) == numbers)
    return pd.Series(pd.arrays.IntegerArray(np.where(ok, numbers, 0).astype(np.int64), ~ok))


def _list_column(rows: np.ndarray, values: pa.Array, n_rows: int) -> pd.Series:
    out: list[list[str] | None] = [None] * n_rows
    for row, item in zip(rows.tolist(), values.to_pylist(), strict=True):
        if out[row] is None:
            out[row] = [item]
        else:
            out[row].append(item)  # type: ignore[union-attr]
    return pd.Series(out, dtype=object)


def _scatter_numbers(rows: np.ndarray, values: pa.Array, n_rows: int, dtype: type) -> np.ndarray:
    try:
        numbers = pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        numbers = pd.to_numeric(pd.Series(values.to_pylist(), dtype=object),
                                errors="coerce").to_numpy(dtype=np.float64)
    full = np.full(n_rows, np.nan, dtype=dtype)
    full[rows] = numbers
    return full


def _text(rows: np.ndarray, values: pa.Array, n_rows: int) -> pd.Series:
    encoded = values.dictionary_encode()
    if len(encoded.dictionary) <= CATEGORY_RATIO * len(values):
        codes = np.full(n_rows, -1, dtype=np.int32)
        codes[rows] = encoded.indices.to_numpy(zero_copy_only=False)
        categories = pd.Index(encoded.dictionary.to_pandas(), dtype="str")
        return pd.Series(pd.Categorical.from_codes(codes, categories))
    index = np.full(n_rows, -1, dtype=np.int64)
    index[rows] = np.arange(len(rows))
    return pd.Series(values.take(pa.array(index, mask=index < 0)).to_pandas(), dtype="str")


# -- typing ------------------------------------------------------------------------------
def _typed(columns: dict[str, Cells], n_rows: int, received: list[float | None] | None,
           server: str | None, tz: str | None) -> pd.DataFrame:
    data = {name: _column(name, rows, values, n_rows, tz)
            for name, (rows, values) in columns.items()}
    frame = pd.DataFrame(data, index=pd.RangeIndex(n_rows))
    if received is not None and any(r is not None for r in received):
        frame["received_at"] = _times(np.array(
            [r if isinstance(r, int | float) and not isinstance(r, bool) else np.nan
             for r in received], dtype=np.float64))
        if "Timestamp" in frame:
            frame["Timestamp"] = frame["Timestamp"].fillna(frame["received_at"])
        else:
            frame["Timestamp"] = frame["received_at"]
    if server is not None:
        frame["server"] = pd.Categorical([server] * n_rows)
    order = [c for c in ("Event", "Privilege", "Timestamp") if c in frame]
    return frame[order + [c for c in frame.columns if c not in order]]


# -- public API --------------------------------------------------------------------------
def events_frame(messages: Iterable[Message], *, server: str | None = None,
                 tz: str | None = None) -> pd.DataFrame:
    """A typed DataFrame of the events among ``messages`` (e.g. from ``client.events()``).

        >>> from amikit import Message
        >>> events_frame([Message([("Event", "Newchannel"), ("Channel", "PJSIP/A-1")]),
        ...               Message([("Response", "Success")])])["Channel"].tolist()
        ['PJSIP/A-1']
    """
    columns, received, n_rows = _message_columns(messages)
    return _typed(columns, n_rows, received, server, tz)


def read_events(source: str | os.PathLike[str] | bytes, *, server: str | None = None,
                tz: str | None = None) -> pd.DataFrame:
    """A typed DataFrame of the events in a recording: rawman, mxml or amikit's JSON Lines.

    ``source`` is a path or the bytes themselves. See the module docstring for the types.
    """
    data = source if isinstance(source, bytes | bytearray) else pathlib.Path(source).read_bytes()
    data = bytes(data)
    head = data.lstrip()[:1]
    if head == b"{":
        return _typed(*_jsonl_columns(data), server=server, tz=tz)
    if head == b"<" or data.startswith(b"Asterisk Call Manager") or b"--END COMMAND--" in data:
        return events_frame(parse_recording(data), server=server, tz=tz)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return events_frame(parse_recording(data), server=server, tz=tz)
    columns, n_rows = _columnar(text)
    return _typed(columns, n_rows, None, server, tz)


def _jsonl_columns(data: bytes) -> tuple[dict[str, Cells], int, list[float | None]]:
    # Only "\n" ends a record: str.splitlines() would also cut at U+2028, U+2029, U+0085
    # and other characters that json.dumps leaves inside a value.
    messages = [record_message(line, number)
                for number, line in enumerate(data.split(b"\n"), 1) if line.strip()]
    columns, received, n_rows = _message_columns(messages)
    return columns, n_rows, received


class EventLog:
    """Events collected while polling, ready as a DataFrame at any moment.

    ``max_events`` bounds memory for long sessions (the oldest events are dropped and
    counted in ``dropped``). ::

        log = EventLog(max_events=100_000)
        for event in client.events():
            log.append(event)
        log.frame()            # the typed DataFrame so far
        log.to_parquet("session.parquet"); log.to_jsonl("session.jsonl")
    """

    def __init__(self, messages: Iterable[Message] = (), *, max_events: int | None = None,
                 server: str | None = None) -> None:
        self._events: deque[Message] = deque(maxlen=max_events)
        self.server = server
        self.dropped = 0
        self.extend(messages)

    def append(self, message: Message) -> None:
        """Add one message (replies and markers are ignored)."""
        if not is_stream_event(message):
            return
        if self._events.maxlen is not None and len(self._events) == self._events.maxlen:
            self.dropped += 1
        self._events.append(message)

    def extend(self, messages: Iterable[Message]) -> None:
        for message in messages:
            self.append(message)

    def __len__(self) -> int:
        return len(self._events)

    def collect(self, client: Any, count: int, *, timeout: float = 60.0) -> int:
        """Poll ``client`` until ``count`` more events arrived or ``timeout`` s passed.

        Shows a progress bar (a widget in notebooks, a line in terminals) when it takes
        longer than a second. Returns how many events were collected.
        """
        import time

        from amikit.progress import progress

        got = 0
        deadline = time.monotonic() + timeout
        with progress(count, "events") as advance:
            while got < count and time.monotonic() < deadline:
                batch = client.wait_event(min(5.0, max(0.0, deadline - time.monotonic())))
                batch = [e for e in batch if is_stream_event(e)][: count - got]
                self.extend(batch)
                got += len(batch)
                advance(len(batch))
        return got

    def __iter__(self):
        return iter(self._events)

    def frame(self, *, tz: str | None = None) -> pd.DataFrame:
        """The events so far as a typed DataFrame."""
        return events_frame(self._events, server=self.server, tz=tz)

    def to_jsonl(self, path: str | os.PathLike[str]) -> pathlib.Path:
        """Write the events as amikit's JSON Lines (``read_events`` reads them back)."""
        out = pathlib.Path(path)
        with out.open("wb") as f:
            for msg in self._events:
                line = record_line(msg)
                f.write(line + b"\n")
        return out

    def to_parquet(self, path: str | os.PathLike[str]) -> pathlib.Path:
        """Write the typed frame as Parquet (list columns included)."""
        out = pathlib.Path(path)
        self.frame().to_parquet(out, index=False)
        return out

    def __repr__(self) -> str:
        return f"<EventLog {len(self)} events{f', {self.dropped} dropped' if self.dropped else ''}>"

