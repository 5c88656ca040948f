"""The AMI wire protocol, with no I/O: parsing rawman text and streams, encoding actions.

This is amikit's h11: the HTTP client and the simulator both stand on it. Three
encodings reach a client over HTTP; this module reads the plain one (``/rawman``, the
same text as AMI over TCP) and re-exports the readers of the other two
(:func:`parse_mxml`, :func:`parse_manager_html` from :mod:`amikit.mxml`).

    >>> msgs = parse_rawman(b"Response: Success\\r\\nPing: Pong\\r\\n\\r\\n")
    >>> msgs[0]["Ping"]
    'Pong'
    >>> encode_action("Ping", ActionID="p1")
    b'Action: Ping\\r\\nActionID: p1\\r\\n\\r\\n'

Choices, each from the captures of a real Asterisk:

* A line ends at CRLF and a blank line ends a message. A bare LF *inside* a line is part
  of the value (``04_lists/rawman/035``). A stream with no CR at all is read with LF line
  ends.
* Nothing is renamed, trimmed or re-cased.
* Bytes are split into messages first and decoded as UTF-8 second, so a multi-byte
  character is never cut. Bytes that are not UTF-8 are kept with ``surrogateescape``
  (``value.encode("utf-8", "surrogateescape")`` gives the original bytes back) and the
  message records a defect.
* A value holding CR, LF or NUL is refused when an action is encoded: Asterisk echoes such
  values raw into its replies, which would let a caller forge messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from amikit.errors import InvalidAction, ProtocolError
from amikit.message import Message
from amikit.mxml import parse_manager_html, parse_mxml

__all__ = [
    "Message",
    "StreamReader",
    "action_headers",
    "encode_action",
    "encode_message",
    "is_false",
    "is_true",
    "parse_manager_html",
    "parse_mxml",
    "parse_rawman",
    "parse_recording",
]

_END_COMMAND = "--END COMMAND--"
_FOLLOWS_HEADERS = frozenset({"response", "privilege", "actionid"})
_BANNER = b"Asterisk Call Manager"
# RFC 9110 token characters: what a header name may be made of.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FORBIDDEN_IN_VALUES = ("\r", "\n", "\0")


# Asterisk's words for yes and no (ast_true and ast_false, main/utils.c); the one copy in
# amikit, for the client, call files and the simulator alike.
_TRUE_WORDS = frozenset({"yes", "true", "y", "t", "1", "on"})
_FALSE_WORDS = frozenset({"no", "false", "n", "f", "0", "off"})


def is_true(value: object) -> bool:
    """Asterisk's ``ast_true``: yes, true, y, t, 1 or on (any case) for text; else truthiness.

        >>> is_true("Yes"), is_true("off"), is_true(None), is_true(True)
        (True, False, False, True)
    """
    if isinstance(value, str):
        return value.strip().lower() in _TRUE_WORDS
    return bool(value)


def is_false(value: object) -> bool:
    """Asterisk's ``ast_false``: no, false, n, f, 0 or off (any case) for text.

    Not the negation of :func:`is_true`: a word that is neither (``maybe``, ``""``) is
    neither true nor false, as in Asterisk. For anything but text, falsiness.

        >>> is_false("OFF"), is_false("yes"), is_false("maybe"), is_false(0)
        (True, False, False, True)
    """
    if isinstance(value, str):
        return value.strip().lower() in _FALSE_WORDS
    return not value


# -- parsing -----------------------------------------------------------------------------
def parse_rawman(data: bytes | str) -> list[Message]:
    """Parse plain AMI text (an HTTP ``/rawman`` body or a recorded stream) into messages.

    Never raises on odd input: a line without a colon is kept out of ``headers`` and noted
    in ``msg.defects``, as are bytes that are not UTF-8 and a last message that is not
    ended by a blank line. An empty body (a kicked-out WaitEvent) gives ``[]``.

        >>> [m.name for m in parse_rawman("Event: Newchannel\\r\\n\\r\\nEvent: Hangup\\r\\n\\r\\n")]
        ['Newchannel', 'Hangup']
        >>> parse_rawman(b"")
        []
    """
    if isinstance(data, str):
        sep = "\r\n" if "\r\n" in data else "\n"
        return _messages(data.split(sep + sep), sep, None, _END_COMMAND in data)
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"parse_rawman takes bytes or str, not {type(data).__name__}")
    data = bytes(data)
    return _parse_bytes(data, "\r\n" if b"\r\n" in data else "\n")


def _parse_bytes(data: bytes, sep: str) -> list[Message]:
    """:func:`parse_rawman` of bytes whose line end is known (a stream reader's chunks)."""
    try:
        # Decoding the whole buffer at once is the fast path; it is the same as decoding
        # block by block because UTF-8 never uses an ASCII byte inside a character.
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        blocks, defects = _decode_blocks(data, sep)
        return _messages(blocks, sep, defects, _END_COMMAND.encode() in data)
    return _messages(text.split(sep + sep), sep, None, _END_COMMAND in text)


def _decode_blocks(data: bytes, sep: str) -> tuple[list[str], list[list[str] | None]]:
    """Split bytes into blocks, then decode each; undecodable bytes kept and reported."""
    blocks: list[str] = []
    defects: list[list[str] | None] = []
    for raw in data.split((sep + sep).encode()):
        try:
            blocks.append(raw.decode("utf-8"))
            defects.append(None)
        except UnicodeDecodeError as exc:
            blocks.append(raw.decode("utf-8", "surrogateescape"))
            defects.append([
                f"bytes that are not UTF-8 (first at offset {exc.start} of the message) kept "
                "as surrogate escapes; value.encode('utf-8', 'surrogateescape') restores them"
            ])
    return blocks, defects


def _messages(
    blocks: list[str], sep: str, defects: list[list[str] | None] | None, follows: bool
) -> list[Message]:
    if follows:
        return _messages_with_follows(blocks, sep, defects)
    from_text = Message._from_text
    # A block that is empty or one line end is a stray blank line between messages, never
    # a message: so a stream gives the same messages wherever its chunks were cut.
    if defects is None:
        messages = [from_text(block, sep) for block in blocks if block and block != sep]
    else:
        messages = [
            from_text(block, sep, d)
            for block, d in zip(blocks, defects, strict=True)
            if block and block != sep
        ]
    _note_unterminated(blocks, messages, sep)
    return messages


def _note_unterminated(blocks: list[str], messages: list[Message], sep: str) -> None:
    # A well-formed body ends with a blank line, so the last split piece is empty.
    if messages and blocks[-1].strip(sep):
        messages[-1]._defects.append("message not ended by a blank line (truncated stream?)")


def _messages_with_follows(
    blocks: list[str], sep: str, defects: list[list[str] | None] | None
) -> list[Message]:
    """The slow path for streams holding legacy ``Response: Follows`` replies (Asterisk ≤ 13).

    Their free text may contain blank lines, so a Follows reply runs to
    ``--END COMMAND--`` rather than to the first blank line.
    """
    messages: list[Message] = []
    i = 0
    while i < len(blocks):
        block, block_defects = blocks[i], (defects[i] if defects else None)
        i += 1
        if not block or block == sep:
            continue
        if not block.lstrip(sep)[:17].lower().startswith("response: follows"):
            messages.append(Message._from_text(block, sep, block_defects))
            continue
        parts = [block]
        while _END_COMMAND not in parts[-1] and i < len(blocks):
            parts.append(blocks[i])
            i += 1
        messages.append(_follows_message((sep + sep).join(parts), sep, block_defects))
    _note_unterminated(blocks, messages, sep)
    return messages


def _follows_message(text: str, sep: str, defects: list[str] | None) -> Message:
    defects = defects or []
    headers: list[tuple[str, str]] = []
    # Walk by index: slicing off each header line would copy the rest of a long reply
    # every time (quadratic in a reply made of many header-like lines).
    pos = len(text) - len(text.lstrip(sep))
    # Asterisk writes Response, Privilege and ActionID lines, then the command's own text.
    while True:
        eol = text.find(sep, pos)
        if eol < 0:
            break
        colon = text.find(":", pos, eol)
        if colon < 0 or text[pos:colon].lower() not in _FOLLOWS_HEADERS:
            break
        start = colon + 2 if text.startswith(" ", colon + 1) and colon + 1 < eol else colon + 1
        headers.append((text[pos:colon], text[start:eol]))
        pos = eol + len(sep)
    end = text.find(_END_COMMAND, pos)
    if end < 0:
        defects.append("Response: Follows without --END COMMAND-- (truncated stream?)")
        end = len(text)
    return Message(headers, body=text[pos:end], defects=defects)


def parse_recording(data: bytes | str) -> list[Message]:
    """Parse a recorded body or stream in whichever encoding it is in.

    ``<ajax-response>`` documents are read as mxml, an HTML page as ``/manager`` output,
    anything else as rawman text (a TCP session's banner line is taken off first).

        >>> [m.name for m in parse_recording(b"Asterisk Call Manager/12.0.0\\r\\nEvent: A\\r\\n\\r\\n")]
        ['A']
        >>> parse_recording("<ajax-response>\\n</ajax-response>\\n")
        []
    """
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else bytes(data)
    head = raw.lstrip()[:64].lower()
    if head.startswith(b"<ajax-response"):
        return parse_mxml(raw)
    if head.startswith((b"<title", b"<!doctype", b"<html")):
        return parse_manager_html(raw)
    reader = StreamReader()
    return reader.feed(raw) + reader.close()


#: The largest message (or legacy Follows reply) a :class:`StreamReader` holds while it waits
#: for the message's end; a peer sending more without a blank line is refused.
MAX_MESSAGE = 64 * 1024 * 1024

# A legacy Follows reply starts a block; Asterisk writes the words in this case, parse_rawman
# accepts any case, and so does the reader.
_FOLLOWS_LINE = re.compile(rb"(?im)^response: follows")


class StreamReader:
    """Incremental reader for AMI text arriving in chunks (TCP port 5038, a recorded file).

    Feed it bytes as they come; it returns each message once its blank line has arrived,
    keeps a partial message across chunk boundaries and never splits a multi-byte
    character (it cuts only at a blank line, then decodes). The TCP banner
    (``Asterisk Call Manager/12.0.0``) is taken off the front and kept in ``banner``.
    Wherever the chunks are cut, the same messages come out; stray blank lines between
    messages make none. Time is linear in the bytes fed: each byte is searched once.

    A message still unfinished after ``max_message`` bytes (default 64 MiB) raises
    :class:`~amikit.errors.ProtocolError` and the reader drops what it held.

        >>> reader = StreamReader()
        >>> reader.feed(b"Asterisk Call Manager/12.0.0\\r\\nResponse: Succ")
        []
        >>> [m["Response"] for m in reader.feed(b"ess\\r\\n\\r\\n")], reader.banner
        (['Success'], 'Asterisk Call Manager/12.0.0')
    """

    def __init__(self, *, max_message: int = MAX_MESSAGE) -> None:
        self.max_message = max_message
        self._buffer = bytearray()
        self._started = False
        self._sep: bytes | None = None
        self.banner: str | None = None
        # Where the search for the next blank line (or --END COMMAND--) resumes: the
        # bytes before it were searched already, so a long message is not re-scanned.
        self._scan = 0
        # Where the search for the start of a legacy Follows reply resumes.
        self._checked = 0
        # The buffer starts with a Follows reply whose --END COMMAND-- has not arrived.
        self._in_follows = False

    def feed(self, data: bytes) -> list[Message]:
        """Add ``data``; return the messages it completes, in order."""
        self._buffer += data
        if not self._started and not self._take_banner():
            return self._check_size([])
        if self._sep is None:
            lf = self._buffer.find(b"\n")
            if lf < 0:
                return self._check_size([])
            self._sep = b"\r\n" if lf > 0 and self._buffer[lf - 1] == 0x0D else b"\n"
        messages: list[Message] = []
        while (end := self._complete_end()) > 0:
            chunk = bytes(self._buffer[:end])
            del self._buffer[:end]
            self._scan = max(0, self._scan - end)
            self._checked = max(0, self._checked - end)
            messages += _parse_bytes(chunk, self._sep.decode())
        return self._check_size(messages)

    @property
    def pending(self) -> int:
        """Bytes fed that belong to no message returned yet (where the next one starts,
        counted back from the end of what was fed)."""
        return len(self._buffer)

    def close(self) -> list[Message]:
        """End of stream: return what is left (marked as not ended by a blank line)."""
        rest, self._buffer = bytes(self._buffer), bytearray()
        self._scan = self._checked = 0
        self._in_follows = False
        if not rest.strip():
            return []
        return _parse_bytes(rest, self._sep.decode()) if self._sep else parse_rawman(rest)

    def _check_size(self, messages: list[Message]) -> list[Message]:
        if len(self._buffer) > self.max_message:
            size = len(self._buffer)
            self._buffer = bytearray()
            self._scan = self._checked = 0
            self._in_follows = False
            raise ProtocolError(
                f"an AMI message still unfinished after {size} bytes (the limit is "
                f"{self.max_message}): no blank line ends it; the reader dropped it",
                messages=messages,
            )
        return messages

    def _take_banner(self) -> bool:
        head = bytes(self._buffer[: len(_BANNER)])
        if not _BANNER.startswith(head):
            self._started = True  # no banner: a recorded stream or an HTTP body
            return True
        if len(head) < len(_BANNER):
            return False
        lf = self._buffer.find(b"\n")
        if lf < 0:
            return False
        self.banner = self._buffer[:lf].rstrip(b"\r").decode("utf-8", "replace")
        del self._buffer[: lf + 1]
        self._started = True
        return True

    def _complete_end(self) -> int:
        """How many leading bytes of the buffer are whole messages (0: none yet)."""
        assert self._sep is not None
        buffer, blank = self._buffer, self._sep + self._sep
        end_command = _END_COMMAND.encode()
        if self._in_follows:
            at = buffer.find(end_command, self._scan)
            if at < 0:
                self._scan = max(self._scan, len(buffer) - len(end_command) + 1)
                return 0
            self._in_follows = False
            self._scan = self._checked = at + len(end_command)
        end = buffer.rfind(blank, self._scan)
        if end < 0:
            self._scan = max(self._scan, len(buffer) - len(blank) + 1)
            return 0
        end += len(blank)
        # Every Follows reply starting before ``end`` must have its --END COMMAND--, as its
        # free text may hold blank lines; cut before the first one that has not.
        while (follows := self._follows_start(self._checked, end)) >= 0:
            at = buffer.find(end_command, follows, end)
            if at < 0:
                self._in_follows = True
                self._scan = max(follows, end - len(end_command))
                return follows
            self._checked = at + len(end_command)
        self._scan = self._checked = end
        return end

    def _follows_start(self, start: int, end: int) -> int:
        """Where the first Follows reply in ``buffer[start:end]`` begins, or -1."""
        assert self._sep is not None
        buffer, sep = self._buffer, self._sep
        for match in _FOLLOWS_LINE.finditer(buffer, start, end):
            at = match.start()
            # only at the start of a block, as parse_rawman reads it: after a blank line
            # or at the start of the buffer, stray line ends before it allowed
            if at == 0 or buffer[max(0, at - 2 * len(sep)):at] in (sep + sep, sep):
                return at
        return -1


# -- encoding ----------------------------------------------------------------------------
def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _TOKEN.fullmatch(name):
        raise InvalidAction(
            f"header name {name!r} is not a token (letters, digits and !#$%&'*+-.^_`|~ only)",
            header=name if isinstance(name, str) else None,
        )


def _check_value(name: str, value: str) -> None:
    for bad in _FORBIDDEN_IN_VALUES:
        if bad in value:
            raise InvalidAction(
                f"header {name!r} holds {bad!r}: CR, LF and NUL are refused in values "
                "(Asterisk echoes them raw, which would let a value forge AMI messages)",
                header=name,
            )
    if not value.isascii():
        try:
            # surrogate escapes (text read from bytes that were not UTF-8) go back as
            # those bytes; any other surrogate has no bytes at all
            value.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError as exc:
            raise InvalidAction(
                f"header {name!r} holds the lone surrogate {value[exc.start]!r} at "
                f"{exc.start}: it is no character and has no bytes to send",
                header=name,
            ) from None
    if "," in value and name.lower() == "variable":
        # Asterisk splits a Variable header on commas (manager.c, astman_get_variables):
        # "A=1,B=2" sets two variables, so a comma in a value would set others the caller
        # never named ("Bob,__INHERIT=1").
        raise InvalidAction(
            f"header 'Variable' {value[:60]!r} holds a comma: Asterisk splits Variable on "
            "commas, which would set other variables; send one Variable header per "
            "variable (a dict or a list: Variable={'A': '1', 'B': '2'}), values without commas",
            header=name,
        )


def _as_values(name: str, value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, str):
        return [value]
    if isinstance(value, int | float):
        return [str(value)]
    if isinstance(value, Mapping):
        return [f"{k}={v}" for k, v in value.items()]
    if isinstance(value, list | tuple):
        return [v for item in value for v in _as_values(name, item)]
    raise InvalidAction(
        f"header {name!r}: cannot send a {type(value).__name__} (use str, int, bool, a list "
        "of them, or a dict for Variable)",
        header=name,
    )


def action_headers(
    name: str, headers: Mapping[str, Any] | Iterable[tuple[str, Any]] = ()
) -> list[tuple[str, str]]:
    """The checked ``(name, value)`` pairs of an action, ``Action`` first.

    Values are turned into text: numbers as digits, booleans as ``true``/``false``, a list
    repeats the header, a dict gives ``key=value`` entries (for ``Variable``), ``None``
    leaves the header out. Raises :class:`~amikit.errors.InvalidAction` for a name that is
    not a token, a value holding CR, LF, NUL or a lone surrogate, or a ``Variable`` value
    holding a comma: Asterisk splits that header on commas, so ``"Bob,INJECTED=1"`` would
    set ``INJECTED`` too. Send several ``Variable`` headers instead (a dict or a list).

        >>> action_headers("Originate", {"Priority": 1, "Variable": {"A": "1", "B": "2"}})
        [('Action', 'Originate'), ('Priority', '1'), ('Variable', 'A=1'), ('Variable', 'B=2')]
        >>> action_headers("Ping", {"ActionID": "x\\r\\nEvent: Forged"})
        Traceback (most recent call last):
        ...
        amikit.errors.InvalidAction: header 'ActionID' holds '\\r': CR, LF and NUL ...
    """
    _check_name(name)
    pairs = [("Action", name)]
    items = headers.items() if isinstance(headers, Mapping) else headers
    for header, value in items:
        _check_name(header)
        for text in _as_values(header, value):
            _check_value(header, text)
            pairs.append((header, text))
    return pairs


def encode_action(name: str, headers: Mapping[str, Any] | None = None, /, **kw: Any) -> bytes:
    """The rawman (TCP) text of an action, checked.

        >>> encode_action("Hangup", {"Channel": "PJSIP/A-00000001"}, Cause=16)
        b'Action: Hangup\\r\\nChannel: PJSIP/A-00000001\\r\\nCause: 16\\r\\n\\r\\n'
    """
    merged = {**(headers or {}), **kw}
    return _render(action_headers(name, merged))


def encode_message(message: Message) -> bytes:
    """The rawman text of any message, checked like an action (a Follows body included).

        >>> encode_message(Message([("Event", "Hangup"), ("Cause", "16")]))
        b'Event: Hangup\\r\\nCause: 16\\r\\n\\r\\n'
    """
    for name, value in message.headers:
        _check_name(name)
        _check_value(name, value)
    body = None
    if message.body is not None:
        if _END_COMMAND in message.body:
            raise InvalidAction(f"a Follows body may not contain {_END_COMMAND!r}")
        body = message.body + _END_COMMAND
    return _render(message.headers, body)


def _render(pairs: Iterable[tuple[str, str]], body: str | None = None) -> bytes:
    text = "".join(f"{n}: {v}\r\n" for n, v in pairs)
    if body is not None:
        text += body + "\r\n"
    return (text + "\r\n").encode("utf-8", "surrogateescape")
