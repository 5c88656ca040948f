"""amikit's JSON Lines recordings: one event per line, its headers in order and when it arrived.

    {"headers": [["Event", "Hangup"], ["Channel", "PJSIP/A-1"]], "received_at": 1795675801.5}

Written by :meth:`amikit.EventLog.to_jsonl`, read by :func:`amikit.read_events` and by replay.

    >>> from amikit.message import Message
    >>> msg = Message([("Event", "Hangup")])
    >>> msg.received_at = 1.5
    >>> line = record_line(msg)
    >>> line
    b'{"headers": [["Event", "Hangup"]], "received_at": 1.5}'
    >>> back = record_message(line, 1)
    >>> back.headers == msg.headers, back.received_at
    (True, 1.5)
"""

from __future__ import annotations

import json

from amikit.errors import ProtocolError
from amikit.message import Message

__all__ = ["record_line", "record_message"]


def record_line(message: Message) -> bytes:
    """One message as a JSON Lines record (without its newline)."""
    record = {"headers": message.headers, "received_at": message.received_at}
    try:
        # bytes that were not UTF-8 (surrogate escapes) are written back as such
        return json.dumps(record, ensure_ascii=False).encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        # a surrogate that stands for no byte: JSON's \\u escape keeps it
        return json.dumps(record).encode("ascii")


def record_message(line: bytes | str, number: int) -> Message:
    """The message of record ``number`` (counted from 1, for the error); a line that is not
    an amikit record raises :class:`~amikit.errors.ProtocolError`."""
    text = line.decode("utf-8", "surrogateescape") if isinstance(line, bytes) else line
    try:
        record = json.loads(text)
        message = Message([tuple(pair) for pair in record["headers"]])
    except (ValueError, KeyError, TypeError) as exc:
        reason = ('it has no "headers" (a list of [name, value] pairs)'
                  if isinstance(exc, KeyError | TypeError) else str(exc))
        raise ProtocolError(f"JSON Lines record {number} is not an amikit event: {reason}") from None
    received = record.get("received_at")
    # a number, or None: anything else would make the whole received_at column unreadable
    ok = isinstance(received, int | float) and not isinstance(received, bool)
    message.received_at = float(received) if ok else None
    return message
