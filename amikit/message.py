"""One AMI message: a response, an event or an action, with its headers in wire order.

AMI headers are case-insensitive and may repeat (``Output``, ``Variable``,
``ChanVariable``); a dict loses both facts. :class:`Message` keeps every
``(name, value)`` pair exactly as it came, in order, and offers mapping-style lookup on
top. It does no I/O and knows nothing about HTTP.

    >>> msg = Message([("Response", "Success"), ("Output", "line 1"), ("Output", "line 2")])
    >>> msg["response"], msg.getall("OUTPUT"), msg.ok
    ('Success', ['line 1', 'line 2'], True)
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, SupportsIndex, overload

__all__ = ["MASK", "SECRET_HEADERS", "Headers", "Message", "is_stream_event"]

#: Header names whose values are secret (compared case-insensitively): never shown by a
#: repr or :meth:`Message.redacted`, and never sent in a URL by the clients.
SECRET_HEADERS = frozenset({"secret", "key"})
#: What a secret value is shown as.
MASK = "********"
_REPR_HEADERS = 6
_OK_RESPONSES = frozenset({"success", "goodbye", "follows"})
_MISSING: Any = object()

HeaderPairs = Iterable[tuple[str, str]]


class Headers(tuple[tuple[str, str], ...]):
    """A message's ``(name, value)`` pairs in wire order: an immutable tuple.

    Immutable so that nothing can change a message's headers behind its case-insensitive
    lookup index. It also compares equal to a *list* of the same pairs, so code written
    when ``headers`` was a list keeps working; a slice is a :class:`Headers` too. Its repr
    (and so its text in an f-string or an error message) masks ``Secret`` and ``Key``
    values as :meth:`Message.redacted` does; the pairs themselves are untouched.

        >>> headers = Message([("Event", "Hangup"), ("Cause", "16")]).headers
        >>> headers[:1], headers == [("Event", "Hangup"), ("Cause", "16")]
        (Headers((('Event', 'Hangup'),)), True)
    """

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, list):
            other = tuple(other)
        return super().__eq__(other)

    def __ne__(self, other: object) -> bool:
        if isinstance(other, list):
            other = tuple(other)
        return super().__ne__(other)

    __hash__ = tuple.__hash__

    @overload
    def __getitem__(self, index: SupportsIndex) -> tuple[str, str]: ...
    @overload
    def __getitem__(self, index: slice) -> Headers: ...

    def __getitem__(self, index: SupportsIndex | slice) -> tuple[str, str] | Headers:
        if isinstance(index, slice):
            return Headers(super().__getitem__(index))
        return super().__getitem__(index)

    def __repr__(self) -> str:
        # masked: headers end up in error messages and logs (a ProtocolError quotes the
        # first headers of a reply), which must never show a secret
        masked = tuple((n, MASK if n.lower() in SECRET_HEADERS else v) for n, v in self)
        return f"Headers({masked!r})"


def _masked(headers: Iterable[tuple[str, str]]) -> Headers:
    return Headers((n, MASK if n.lower() in SECRET_HEADERS else v) for n, v in headers)


def _split(text: str, sep: str) -> list[tuple[str, str]]:
    # The name is what precedes the first ":"; the value is what follows ": " (or ":"
    # alone). Nothing is trimmed or re-cased: the wire is the truth. Most lines are
    # "Name: value", so that split is tried first and checked.
    headers: list[tuple[str, str]] = []
    append = headers.append
    for line in text.split(sep):
        name, found, value = line.partition(": ")
        if found and ":" not in name:
            append((name, value))
            continue
        name, colon, rest = line.partition(":")
        if colon:
            append((name, rest[1:] if rest[:1] == " " else rest))
    return headers


def _line_defects(text: str, sep: str) -> list[str]:
    return [f"line without a colon kept out of headers: {line!r}"
            for line in text.split(sep) if line and ":" not in line]


class Message(Mapping[str, str]):
    """An AMI message: ordered ``(name, value)`` headers, repeated names kept.

    Build one from pairs or a mapping (a list value repeats the header)::

        >>> list(Message({"Action": "Originate", "Variable": ["A=1", "B=2"]}).headers)
        [('Action', 'Originate'), ('Variable', 'A=1'), ('Variable', 'B=2')]

    Lookup (``msg[name]``, ``msg.get``, ``in``) ignores case and returns the first value;
    :meth:`getall` returns every value of a repeated header. Iteration and ``len`` see each
    name once, in the spelling it first had. :attr:`headers` is immutable (a
    :class:`Headers` tuple). Parsers build messages lazily: the header tuple is made from
    the message's text the first time it is read.

    Attributes:
        body: the free text of a legacy ``Response: Follows`` reply (``None`` otherwise).
        received_at: epoch seconds at which amikit received the message live, or ``None``.
    """

    __slots__ = ("_defects", "_events", "_headers", "_index", "_sep", "_text", "body",
                 "received_at")

    def __init__(
        self,
        headers: HeaderPairs | Mapping[str, str | list[str]] = (),
        *,
        body: str | None = None,
        defects: Iterable[str] = (),
    ) -> None:
        pairs: list[tuple[str, str]] = []
        items = headers.items() if isinstance(headers, Mapping) else headers
        for item in items:
            name, value = item
            values = value if isinstance(value, list | tuple) else [value]
            for one in values:
                if not isinstance(name, str) or not isinstance(one, str):
                    raise TypeError(
                        f"Message headers are (str, str) pairs, got ({name!r}, {one!r})"
                    )
                pairs.append((name, one))
        self._headers: Headers | None = Headers(pairs)
        self._text: str | None = None
        self._sep = "\r\n"
        self._index: dict[str, str] | None = None
        self._defects: list[str] = list(defects)
        self._events: list[Message] | None = None
        self.body = body
        self.received_at: float | None = None

    @classmethod
    def _from_text(cls, text: str, sep: str, defects: list[str] | None = None) -> Message:
        """A message whose headers are parsed from ``text`` on first use (parsers' fast path)."""
        msg = object.__new__(cls)
        msg._text = text
        msg._sep = sep
        msg._headers = None
        msg._index = None
        msg._defects = defects if defects is not None else []
        msg._events = None
        msg.body = None
        msg.received_at = None
        return msg

    # -- the header list -------------------------------------------------------------
    @property
    def headers(self) -> Headers:
        """Every ``(name, value)`` pair in wire order, repeated names kept (immutable)."""
        headers = self._headers
        if headers is None:
            text, sep = self._text, self._sep
            assert text is not None
            headers = self._headers = Headers(_split(text, sep))
            if len(headers) != text.count(sep) + 1:  # an empty line, or one without ":"
                self._defects.extend(_line_defects(text, sep))
        return headers

    @property
    def defects(self) -> list[str]:
        """What the parser found wrong with this message (empty when it was clean)."""
        if self._headers is None:
            self.headers  # noqa: B018 - splitting the text is what finds line defects
        return self._defects

    @property
    def events(self) -> list[Message]:
        """The item events of a list reply (``EventList: start``), in order; else empty."""
        if self._events is None:
            self._events = []
        return self._events

    @events.setter
    def events(self, events: list[Message]) -> None:
        self._events = list(events)

    # -- mapping behaviour ----------------------------------------------------------------
    def _lookup(self) -> dict[str, str]:
        index = self._index
        if index is None:
            # reversed: for a repeated name the first value is written last and so wins
            # (over a plain tuple: reversed() of Headers would call its __getitem__ per pair)
            index = self._index = {n.lower(): v for n, v in reversed(tuple(self.headers))}
        return index

    def __getitem__(self, name: str) -> str:
        try:
            return self._lookup()[name.lower()]
        except KeyError:
            raise KeyError(name) from None
        except AttributeError:
            raise KeyError(name) from None

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: str) -> str: ...
    @overload
    def get(self, name: str, default: Any) -> Any: ...

    def get(self, name: str, default: Any = None) -> Any:
        """The first value of ``name`` (any case), or ``default``."""
        return self._lookup().get(name.lower(), default) if isinstance(name, str) else default

    def getall(self, name: str) -> list[str]:
        """Every value of ``name`` (any case), in wire order; ``[]`` when absent.

        >>> Message([("Output", "a"), ("output", "b")]).getall("Output")
        ['a', 'b']
        """
        key = name.lower()
        return [v for n, v in self.headers if n.lower() == key]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._lookup()

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for name, _ in self.headers:
            key = name.lower()
            if key not in seen:
                seen.add(key)
                yield name

    def __len__(self) -> int:
        return len(self._lookup())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return self.headers == other.headers and self.body == other.body

    __hash__ = None  # type: ignore[assignment]  # mutable, like a dict

    # -- what kind of message --------------------------------------------------------
    @property
    def is_event(self) -> bool:
        """True for an event (it has an ``Event`` header)."""
        return "event" in self._lookup()

    @property
    def is_response(self) -> bool:
        """True for a reply to an action (it has a ``Response`` header)."""
        return "response" in self._lookup()

    @property
    def is_action(self) -> bool:
        """True for an action (it has an ``Action`` header)."""
        return "action" in self._lookup()

    @property
    def name(self) -> str | None:
        """The event's name (``Newchannel``), the action's name for an action, else None."""
        index = self._lookup()
        return index.get("event", index.get("action"))

    @property
    def action_id(self) -> str | None:
        """The ``ActionID`` header, or None."""
        return self._lookup().get("actionid")

    @property
    def ok(self) -> bool:
        """True when ``Response`` is Success, Goodbye or Follows."""
        response = self._lookup().get("response")
        return response is not None and response.lower() in _OK_RESPONSES

    # -- display ---------------------------------------------------------------------
    def redacted(self) -> Message:
        """A copy with the value of every ``Secret`` and ``Key`` header masked, as a repr shows it.

        The copy keeps the body, the defects, ``received_at`` and the list items in
        :attr:`events` (redacted too). Print or log this, never the message itself::

            >>> login = Message([("Action", "Login"), ("Username", "hello"), ("Secret", "pw")])
            >>> login.redacted().headers
            Headers((('Action', 'Login'), ('Username', 'hello'), ('Secret', '********')))
        """
        copy = Message(_masked(self.headers), body=self.body, defects=self.defects)
        copy.received_at = self.received_at
        if self._events:
            copy.events = [event.redacted() for event in self._events]
        return copy

    def __repr__(self) -> str:
        shown = _masked(self.headers)
        parts = [f"{n}={v!r}" for n, v in shown[:_REPR_HEADERS]]
        if len(shown) > _REPR_HEADERS:
            parts.append(f"... +{len(shown) - _REPR_HEADERS} more")
        if self.body is not None:
            parts.append(f"body={len(self.body)} chars")
        return f"<Message {' '.join(parts)}>"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(n)}</th>"
            f"<td style='text-align:left'>{html.escape(v)}</td></tr>"
            for n, v in _masked(self.headers)
        )
        body = f"<pre>{html.escape(self.body)}</pre>" if self.body is not None else ""
        return f"<table class='amikit-message'>{rows}</table>{body}"


def is_stream_event(message: Message) -> bool:
    """Whether a message of a recorded or polled stream is one of its events: it has an
    ``Event`` header and is not WaitEvent's own ``WaitEventComplete`` marker (the rule
    :func:`amikit.read_events`, ``amikit show --events`` and replay share).

        >>> is_stream_event(Message([("Event", "Hangup")]))
        True
        >>> is_stream_event(Message([("Event", "WaitEventComplete")]))
        False
        >>> is_stream_event(Message([("Response", "Success")]))
        False
    """
    name = message.get("Event")
    return name is not None and name != "WaitEventComplete"
