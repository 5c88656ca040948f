"""Reading AMI's two markup encodings: ``/mxml`` (XML) and ``/manager`` (HTML).

Asterisk's ``xml_translate`` (main/manager.c) writes each AMI message as one element::

    <ajax-response>
    <response type='object' id='unknown'><generic response='Success' ping='Pong' /></response>
    </ajax-response>

Attribute names are mangled (see :mod:`amikit.headernames`) and a repeated header gets a
``-2``, ``-3`` … suffix; :func:`parse_mxml` restores the names and folds the repeats back
into repeated headers, in order. Values arrive with leading and trailing blanks already
stripped by Asterisk; nothing more is taken off here.

Asterisk can write XML that is not well-formed (control bytes inside a value, a duplicate
attribute when ``Output`` and ``output`` meet, bytes that are not UTF-8), so each
``<response>`` element is parsed on its own with expat. An element expat refuses is read
with a small reader of Asterisk's fixed attribute layout instead, and the message records a
defect: one bad element never costs the rest of a poll.

Security: each element is handed to expat alone, starting at ``<response``, so no DTD can
precede it and no entity can be declared; only the five predefined entities and character
references expand.
"""

from __future__ import annotations

from html.parser import HTMLParser
from xml.parsers import expat

from amikit.errors import ProtocolError
from amikit.headernames import restore
from amikit.message import Message

__all__ = ["parse_manager_html", "parse_mxml"]

_OPEN_DOC = b"<ajax-response>"
_CLOSE_DOC = b"</ajax-response>"
_OPEN = b"<response"
_CLOSE = b"</response>"
_BLANKS = b" \t\r\n"
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&apos;", "'"), ("&amp;", "&"))


def parse_mxml(data: bytes | str) -> list[Message]:
    """Parse an ``/mxml`` body, or several concatenated (a recorded stream of polls).

        >>> body = (b"<ajax-response>\\n<response type='object' id='unknown'><generic "
        ...         b"event='Hangup' cause='16' cause_txt='Normal Clearing' /></response>\\n"
        ...         b"</ajax-response>\\n")
        >>> list(parse_mxml(body)[0].headers)
        [('Event', 'Hangup'), ('Cause', '16'), ('Cause-txt', 'Normal Clearing')]

    Raises :class:`~amikit.errors.ProtocolError` when the bytes are not a sequence of
    ``<ajax-response>`` documents (its ``messages`` holds what was read before the
    problem). A single bad element is not an error: see ``Message.defects``.
    """
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    elif not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"parse_mxml takes bytes or str, not {type(data).__name__}")
    data = bytes(data)
    reader = _ElementReader()
    messages: list[Message] = []
    pos, size = 0, len(data)
    while True:
        pos = _skip_blanks(data, pos)
        if pos >= size:
            return messages
        if not data.startswith(_OPEN_DOC, pos):
            raise _unexpected(data, pos, "<ajax-response>", messages)
        pos += len(_OPEN_DOC)
        while True:
            pos = _skip_blanks(data, pos)
            if data.startswith(_CLOSE_DOC, pos):
                pos += len(_CLOSE_DOC)
                break
            if not data.startswith(_OPEN, pos):
                raise _unexpected(data, pos, "<response> or </ajax-response>", messages)
            end = data.find(_CLOSE, pos)
            if end < 0:
                raise ProtocolError(
                    f"mxml truncated: the <response> at byte {pos} has no </response>",
                    messages=messages,
                )
            end += len(_CLOSE)
            messages.append(reader.read(data[pos:end]))
            pos = end


def _skip_blanks(data: bytes, pos: int) -> int:
    size = len(data)
    while pos < size and data[pos] in _BLANKS:
        pos += 1
    return pos


def _unexpected(data: bytes, pos: int, wanted: str, messages: list[Message]) -> ProtocolError:
    if pos >= len(data):
        return ProtocolError(f"mxml truncated: expected {wanted} at the end", messages=messages)
    return ProtocolError(
        f"not mxml: expected {wanted} at byte {pos}, found {data[pos:pos + 40]!r}",
        messages=messages,
    )


class _ElementReader:
    """Turns one ``<response>…</response>`` element into a Message."""

    def __init__(self) -> None:
        self._names: dict[tuple[str | None, str], str] = {}

    def read(self, element: bytes) -> Message:
        try:
            attrs = _expat_attributes(element)
            defects: list[str] = []
        except (expat.ExpatError, ValueError) as exc:
            defects = [
                f"element is not well-formed XML ({exc}); read with amikit's reader of "
                "Asterisk's attribute layout"
            ]
            try:
                attrs = _lenient_attributes(element)
            except ValueError as lenient_exc:
                defects.append(f"element could not be read: {lenient_exc}")
                return Message(defects=defects)
        return Message(self._headers(attrs), defects=defects)

    def _headers(self, attrs: list[str]) -> list[tuple[str, str]]:
        event = None
        for i in range(0, len(attrs), 2):
            if attrs[i] == "event":
                event = attrs[i + 1]
                break
        names = self._names
        headers = []
        for i in range(0, len(attrs), 2):
            key = (event, attrs[i])
            name = names.get(key)
            if name is None:
                base, dash, count = attrs[i].rpartition("-")
                # Asterisk turns every "-" of a real name into "_", so "-N" only marks repeats
                mangled = base if dash and count.isdigit() else attrs[i]
                name = names[key] = restore(mangled, event)
            headers.append((name, attrs[i + 1]))
        return headers


def _expat_attributes(element: bytes) -> list[str]:
    """The inner element's attributes, flat ``[name, value, name, value …]``, in order."""
    parser = expat.ParserCreate("utf-8")
    parser.ordered_attributes = True
    found: list[list[str]] = []

    def start(name: str, attributes: list[str]) -> None:
        found.append(attributes)

    parser.StartElementHandler = start
    if b"\t" in element:
        # XML normalises a TAB in an attribute value to a space; Asterisk meant the TAB.
        element = element.replace(b"\t", b"&#9;")
    parser.Parse(element, True)
    if len(found) < 2:
        raise ValueError("<response> holds no message element")
    return found[1]


def _lenient_attributes(element: bytes) -> list[str]:
    """Read ``<response …><obj name='value' … /></response>`` without an XML parser.

    Only for elements expat refused. Asterisk always quotes with ``'`` and escapes ``'``
    inside values as ``&apos;``, so the next ``'`` closes a value.
    """
    pos = element.find(b"><")
    if pos < 0:
        raise ValueError("no message element inside <response>")
    pos = element.find(b" ", pos + 2)
    attrs: list[str] = []
    while pos >= 0:
        while element[pos:pos + 1] in (b" ", b"\t", b"\n", b"\r"):
            pos += 1
        if element[pos:pos + 1] in (b"/", b">", b""):
            break
        eq = element.find(b"=", pos)
        if eq < 0 or element[eq + 1:eq + 2] != b"'":
            raise ValueError(f"attribute at byte {pos} is not name='value'")
        close = element.find(b"'", eq + 2)
        if close < 0:
            raise ValueError(f"attribute value at byte {eq + 2} is not closed")
        attrs.append(element[pos:eq].decode("utf-8", "surrogateescape"))
        value = element[eq + 2:close].decode("utf-8", "surrogateescape")
        for entity, char in _ENTITIES:
            value = value.replace(entity, char)
        attrs.append(value)
        pos = close + 1
    return attrs


# -- /manager (HTML) ---------------------------------------------------------------------
def parse_manager_html(data: bytes | str) -> list[Message]:
    """Parse the HTML of ``/manager`` (or ``/amanager``) into messages, for teaching.

    Each header is a ``<tr><td>Name</td><td>value</td></tr>`` row and each message ends
    with a ``<hr>`` row; names keep Asterisk's spelling. The page's own test form is
    skipped.

        >>> page = ("<table><tr><td>Response</td><td>Success</td></tr>\\n"
        ...         "<tr><td>Ping</td><td>Pong</td></tr>\\n"
        ...         '<tr><td colspan="2"><hr></td></tr>\\r\\n</table>')
        >>> parse_manager_html(page)[0]["Ping"]
        'Pong'
    """
    if isinstance(data, bytes | bytearray | memoryview):
        data = bytes(data).decode("utf-8", "surrogateescape")
    elif not isinstance(data, str):
        raise TypeError(f"parse_manager_html takes bytes or str, not {type(data).__name__}")
    reader = _ManagerPage()
    try:
        reader.feed(_plain_brackets(data))
        reader.close()
    except AssertionError as exc:  # the standard library's parser asserts on some markup
        raise ProtocolError(f"not a /manager page: {exc}", messages=reader.messages) from None
    return reader.finish()


def _plain_brackets(text: str) -> str:
    """``text`` with every ``<`` that opens no complete tag written as ``&lt;``.

    The standard library's HTML parser re-reads the rest of the page after each ``<``
    that opens nothing it can finish (``"<a " * n`` takes quadratic time). A ``<`` not
    closed by a ``>`` before the next ``<`` is text anyway, and so is an unclosed
    comment; writing them as ``&lt;`` gives the same text in one linear pass. Complete
    comments are dropped (a page's comments carry no message).
    """
    if "<" not in text:
        return text
    out: list[str] = []
    pos, size = 0, len(text)
    gt = -1  # the next ">" at or after the current "<", found once per ">" (linear)
    while pos < size:
        lt = text.find("<", pos)
        if lt < 0:
            out.append(text[pos:])
            break
        out.append(text[pos:lt])
        if text.startswith("<!--", lt):
            close = text.find("-->", lt + 4)
            if close < 0:
                out.append(text[lt:].replace("<", "&lt;"))
                break
            pos = close + 3
            continue
        if gt <= lt:
            gt = text.find(">", lt + 1)
            if gt < 0:
                out.append(text[lt:].replace("<", "&lt;"))
                break
        following = text.find("<", lt + 1, gt)
        if following >= 0:
            out.append("&lt;")  # text: another "<" comes before this one is closed
            pos = lt + 1
            continue
        out.append(text[lt:gt + 1])
        pos = gt + 1
    return "".join(out)


class _ManagerPage(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.messages: list[Message] = []
        self._headers: list[tuple[str, str]] = []
        self._cells: list[list[str]] | None = None
        self._spanning = False
        self._rule = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self._cells, self._spanning, self._rule = [], False, False
        elif tag == "td" and self._cells is not None:
            self._cells.append([])
            self._spanning = self._spanning or any(name == "colspan" for name, _ in attrs)
        elif tag == "hr" and self._cells is not None:
            self._rule = True

    def handle_data(self, data: str) -> None:
        if self._cells:
            self._cells[-1].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag != "tr" or self._cells is None:
            return
        if self._rule and self._spanning:
            self._end_message()
        elif not self._spanning and len(self._cells) == 2:
            name, value = ("".join(cell) for cell in self._cells)
            self._headers.append((name, value))
        self._cells = None

    def _end_message(self, defects: tuple[str, ...] = ()) -> None:
        if self._headers:
            self.messages.append(Message(self._headers, defects=defects))
        self._headers = []

    def finish(self) -> list[Message]:
        self._end_message(("message not ended by an <hr> row (truncated page?)",))
        return self.messages
