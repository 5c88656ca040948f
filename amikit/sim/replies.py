"""Reading actions and building replies: the helpers every action handler of the simulator uses.

Modelled on ``astman_get_header``, ``astman_send_response_full`` and
``astman_send_listack`` / ``astman_send_list_complete_start`` in main/manager.c.

    >>> header([("Action", "Ping"), ("ActionID", "  a1")], "actionid")
    'a1'
    >>> error("a1", "No such channel")
    [('Response', 'Error'), ('ActionID', 'a1'), ('Message', 'No such channel')]
"""

from __future__ import annotations

import re

__all__ = ["Pairs", "atoi", "error", "header", "header_line", "is_number", "list_reply", "response",
           "with_action_id", "yes_no"]

Pairs = list[tuple[str, str]]

_BLANKS = "".join(chr(c) for c in range(33))


def header(message: Pairs, name: str, *, nonempty: bool = False, raw: bool = False) -> str:
    """``astman_get_header``: the first match, case-insensitive; leading blanks skipped."""
    key = name.lower()
    for n, v in message:
        if n.lower() == key:
            value = v if raw else v.lstrip(_BLANKS)
            if value or not nonempty:
                return value
    return ""


def header_line(line: str) -> tuple[str, str] | None:
    """One ``Name: value`` line of a TCP action as ``__astman_get_header`` reads it: the name is
    everything before the first colon, the value what follows with its leading blanks
    skipped; a line without a colon matches no header (None).

        >>> header_line("Secret:  world"), header_line("Action:Ping"), header_line("junk")
        (('Secret', 'world'), ('Action', 'Ping'), None)
    """
    name, colon, value = line.partition(":")
    return (name, value.lstrip(_BLANKS)) if colon else None


def with_action_id(action_id: str) -> Pairs:
    """The ``ActionID`` line, only when the action carried one (as Asterisk writes it)."""
    return [("ActionID", action_id)] if action_id else []


def response(kind: str, action_id: str, body: Pairs) -> Pairs:
    """``Response: <kind>``, the ActionID if any, then ``body``."""
    return [("Response", kind), *with_action_id(action_id), *body]


def error(action_id: str, text: str) -> Pairs:
    """``astman_send_error``: ``Response: Error`` with a ``Message``."""
    return response("Error", action_id, [("Message", text)])


def list_reply(action_id: str, message: str, items: list[Pairs], complete: str,
               extra: Pairs | None = None) -> list[Pairs]:
    """A list action's whole answer: the ack, the items, the ``…Complete`` event."""
    tail = [("Event", complete), *with_action_id(action_id), ("EventList", "Complete"),
            ("ListItems", str(len(items))), *(extra or [])]
    return [response("Success", action_id, [("EventList", "start"), ("Message", message)]),
            *items, tail]


def atoi(text: str) -> int:
    """C's ``atoi``, as applications and manager.conf read a number: the leading digits, else 0.

        >>> atoi("20"), atoi(" 7s"), atoi("abc"), atoi("-3")
        (20, 7, 0, -3)
    """
    match = re.match(r"\s*([+-]?\d+)", text)
    return int(match.group(1)) if match else 0


def is_number(text: str) -> bool:
    """Plain ASCII decimal digits, as ``sscanf("%d")`` reads them (``str.isdigit`` also
    accepts ``²`` and other digits that ``int`` refuses).

    >>> is_number("21"), is_number("²"), is_number("")
    (True, False, False)
    """
    return text.isascii() and text.isdigit()


def yes_no(flag: bool) -> str:
    """``AST_YESNO``: a flag as the ``Yes``/``No`` of a header value (ConfBridge's ``Admin``,
    ``Muted`` …). Reading one back is :func:`amikit.protocol.is_true`.

        >>> yes_no(True), yes_no(False)
        ('Yes', 'No')
    """
    return "Yes" if flag else "No"
