"""The bytes a real Asterisk 23 writes: AMI text in its three HTTP encodings, and HTTP pages.

Rendering is the mirror of amikit's parsers, with Asterisk's quirks kept on purpose:
values are written raw (a CR or LF in an echoed value goes out as it came in, as in
Asterisk), mxml names are mangled and repeats suffixed ``-2``, ``-3`` (``xml_translate``),
and the ``/manager`` page wraps rows in Asterisk's own HTML.

    >>> rawman([[("Response", "Success"), ("Ping", "Pong")]])
    b'Response: Success\\r\\nPing: Pong\\r\\n\\r\\n'
    >>> mxml([[("Response", "Success"), ("Output", "a"), ("Output", "b")]])
    b"<ajax-response>\\n<response type='object' id='unknown'><generic response='Success' output='a' output-2='b' /></response>\\n</ajax-response>\\n"
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Iterable, Sequence

from amikit.headernames import mangle

__all__ = ["html_manager", "http_page", "mxml", "rawman"]

Pairs = Sequence[tuple[str, str]]

_MANAGER_HEAD = (
    '<title>Asterisk&trade; Manager Interface</title><body bgcolor="#ffffff"><table align=center '
    'bgcolor="#f1f1f1" width="500">\r\n<tr><td colspan="2" bgcolor="#f1f1ff"><h1>Manager Tester'
    '</h1></td></tr>\r\n<tr><td colspan="2" bgcolor="#f1f1ff"><form action="manager" method='
    '"post">\n\tAction: <select name="action">\n\t\t<option value="">-----&gt;</option>\n\t\t'
    '<option value="login">login</option>\n\t\t<option value="command">Command</option>\n\t\t'
    '<option value="waitevent">waitevent</option>\n\t\t<option value="listcommands">listcommands'
    '</option>\n\t</select>\n\tor <input name="action"><br/>\n\tCLI Command <input name='
    '"command"><br>\n\tuser <input name="username"> pass <input type="password" name="secret">'
    '<br>\n\t<input type="submit">\n</form>\n</td></tr>\r\n'
)
_MANAGER_TAIL = "</table></body>\r\n"
_AMANAGER_HEAD = (
    '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\r\n<html><head>\r\n<title>Asterisk&trade; '
    'Manager Interface</title>\r\n</head><body style="background-color: #ffffff;">\r\n<form '
    'method="POST">\r\n<table align="center" style="background-color: #f1f1f1;" width="500">\r\n'
    '<tr><th colspan="2" style="background-color: #f1f1ff;"><h1>Manager Tester</h1></th></tr>\r\n'
    '<tr><th colspan="2" style="background-color: #f1f1ff;">Action: <input name="action" /> Cmd: '
    '<input name="command" /><br><input type="submit" value="Send request" /></th></tr>\r\n'
)
_AMANAGER_TAIL = "</table></form></body></html>\r\n"
_RULE = '<tr><td colspan="2"><hr></td></tr>\r\n'

_PAGES = {
    401: ("Unauthorized", ""),
    404: ("Not Found", "The requested URL was not found on this server."),
    413: ("Request Entity Too Large", "Body too large"),
    400: ("Bad Request", "Bad request"),
    501: ("Not Implemented", "Attempt to use unimplemented / unsupported method"),
}


def rawman(messages: Iterable[Pairs]) -> bytes:
    """AMI text: ``Name: value`` lines, each message ended by a blank line."""
    return "".join(
        "".join(f"{n}: {v}\r\n" for n, v in msg) + "\r\n" for msg in messages
    ).encode("utf-8", "surrogateescape")


def _escape(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&apos;"))


def _lines(msg: Pairs) -> list[tuple[str, str]]:
    """The header lines as xml_translate sees them: split on CR or LF, trailing blanks cut."""
    text = "".join(f"{n}: {v}\r\n" for n, v in msg)
    out = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = line.rstrip("".join(chr(c) for c in range(33)))
        if not line:
            continue
        name, colon, value = line.partition(":")
        if colon:
            out.append((name, value.lstrip(" \t")))
    return out


def mxml(messages: Iterable[Pairs], dest: str = "unknown", objtype: str = "generic") -> bytes:
    """The ``/mxml`` body (``xml_translate``): one ``<response>`` element per message."""
    parts = ["<ajax-response>\n"]
    for msg in messages:
        seen: dict[str, int] = {}
        attrs = []
        for name, value in _lines(msg):
            seen[name] = seen.get(name, 0) + 1
            suffix = f"-{seen[name]}" if seen[name] > 1 else ""
            attrs.append(f" {mangle(name)}{suffix}='{_escape(value)}'")
        parts.append(f"<response type='object' id='{dest}'><{objtype}{''.join(attrs)} />"
                     "</response>\n")
    parts.append("</ajax-response>\n")
    return "".join(parts).encode("utf-8", "surrogateescape")


def html_manager(messages: Iterable[Pairs], digest: bool = False) -> bytes:
    """The ``/manager`` (or, with ``digest``, ``/amanager``) HTML page."""
    parts = [_AMANAGER_HEAD if digest else _MANAGER_HEAD]
    for msg in messages:
        seen: dict[str, int] = {}
        for name, value in _lines(msg):
            seen[name] = seen.get(name, 0) + 1
            shown = name + (f"-{seen[name]}" if seen[name] > 1 else "")
            parts.append(f"<tr><td>{_escape(shown)}</td><td>{_escape(value)}</td></tr>\n")
        parts.append(_RULE)
    parts.append(_AMANAGER_TAIL if digest else _MANAGER_TAIL)
    return "".join(parts).encode("utf-8", "surrogateescape")


def http_page(status: int, server: str) -> bytes:
    """Asterisk's HTML error page for ``status`` (``ast_http_create_response``)."""
    title, text = _PAGES[status]
    address = f"<address>{server}</address>\r\n" if server else ""
    return (f'<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\r\n<html><head>\r\n'
            f"<title>{status} {title}</title>\r\n</head><body>\r\n<h1>{title}</h1>\r\n"
            f"<p>{text}</p>\r\n<hr />\r\n{address}</body></html>\r\n").encode()
