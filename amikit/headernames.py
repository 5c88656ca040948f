"""AMI header names as Asterisk writes them, to undo the mangling of the mxml encoding.

Asterisk's XML encoding (``xml_translate`` in main/manager.c) lower-cases every header
name, turns each character that is not a letter or digit into ``_`` and puts ``_`` before
a leading digit: ``Cause-txt`` arrives as ``cause_txt``. :func:`restore` turns such a name
back into Asterisk's own spelling, from a table kept as data (``data/header_names.tsv``,
built from a real Asterisk's rawman output by ``tools/build_header_names.py``). A name
the table does not know stays as Asterisk sent it.

    >>> mangle("Cause-txt")
    'cause_txt'
    >>> restore("cause_txt"), restore("calleridnum"), restore("calleridnum", event="CEL")
    ('Cause-txt', 'CallerIDNum', 'CallerIDnum')
    >>> restore("category_000002"), restore("x_custom_header")
    ('Category-000002', 'x_custom_header')
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

__all__ = ["mangle", "restore", "usual_spelling"]

_NUMBERED = re.compile(r"(category|line)((?:_\d{6}){1,2})")


def mangle(name: str) -> str:
    """The attribute name Asterisk's XML encoding gives a header name."""
    out = "".join(c.lower() if c.isascii() and c.isalnum() else "_" for c in name)
    return "_" + out if out[:1].isdigit() else out


@cache
def _tables() -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    usual: dict[str, str] = {}
    per_event: dict[tuple[str, str], str] = {}
    text = resources.files("amikit").joinpath("data/header_names.tsv").read_text("utf-8")
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        event, name = line.split("\t")
        if event == "*":
            usual[mangle(name)] = name
        else:
            per_event[(event.lower(), mangle(name))] = name
    return usual, per_event


def restore(mangled: str, event: str | None = None) -> str:
    """Asterisk's spelling of an mxml attribute name (``event`` picks that event's own)."""
    usual, per_event = _tables()
    if event is not None:
        own = per_event.get((event.lower(), mangled))
        if own is not None:
            return own
    name = usual.get(mangled)
    if name is not None:
        return name
    numbered = _NUMBERED.fullmatch(mangled)
    if numbered:
        return numbered[1].capitalize() + numbered[2].replace("_", "-")
    return mangled


def usual_spelling(name: str) -> str | None:
    """The spelling most AMI messages use for ``name`` (any case), or None if unknown.

        >>> usual_spelling("UniqueID"), usual_spelling("CallerIDnum"), usual_spelling("X-My")
        ('Uniqueid', 'CallerIDNum', None)
    """
    return _tables()[0].get(mangle(name))
