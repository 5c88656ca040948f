"""What AMI actions exist and what they take: a small built-in catalog, and the server's own list.

The catalog holds what the client needs to know of the actions the book uses: their header
names in the usual spelling and which are required. It lets amikit accept ``channel=`` for
``Channel`` and refuse an Originate with no Channel before sending it. What a user may run,
and with which write classes, is the server's to say: :func:`parse_list_commands` reads the
reply of ``ListCommands``. (The simulator keeps Asterisk's write class of each action in
:mod:`amikit.sim.perms`, the one copy; the client has no use for it.)

    >>> canonical_headers("Originate", {"channel": "PJSIP/SOFTPHONE_A", "exten": "103"})
    {'Channel': 'PJSIP/SOFTPHONE_A', 'Exten': '103'}
    >>> check_required("Redirect", {"Channel": "PJSIP/A-00000001"})
    Traceback (most recent call last):
    ...
    amikit.errors.InvalidAction: Redirect needs the Context header (missing: Context, Exten, Priority)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from amikit.errors import InvalidAction
from amikit.message import Message

__all__ = [
    "CATALOG",
    "ActionInfo",
    "ActionSpec",
    "canonical_headers",
    "check_required",
    "parse_command_help",
    "parse_list_commands",
]


@dataclass(frozen=True)
class ActionSpec:
    """One action's facts: its headers in the usual order and which are required.

        >>> CATALOG["hangup"]
        ActionSpec(name='Hangup', headers=('ActionID', 'Channel', 'Cause'), required=('Channel',), one_of=())
    """

    name: str
    headers: tuple[str, ...]
    required: tuple[str, ...] = ()
    #: groups of which at least one complete group must be given (Originate: Exten or App)
    one_of: tuple[tuple[str, ...], ...] = ()


_ORIGINATE = ("ActionID", "Channel", "Context", "Exten", "Priority", "Application", "Data",
              "Timeout", "CallerID", "Account", "Variable", "Codecs", "EarlyMedia", "Async",
              "ChannelId", "OtherChannelId", "PreDialGoSub")
_REDIRECT = ("ActionID", "Channel", "Context", "Exten", "Priority", "ExtraChannel",
             "ExtraContext", "ExtraExten", "ExtraPriority")

CATALOG: dict[str, ActionSpec] = {
    spec.name.lower(): spec
    for spec in (
        ActionSpec("Login", ("ActionID", "Username", "Secret", "AuthType", "Key", "Events"),
                   required=("Username",)),
        ActionSpec("Logoff", ("ActionID",)),
        ActionSpec("Ping", ("ActionID",)),
        ActionSpec("Originate", _ORIGINATE, required=("Channel",),
                   one_of=(("Exten", "Context", "Priority"), ("Application",))),
        ActionSpec("Redirect", _REDIRECT, required=("Channel", "Context", "Exten", "Priority")),
        ActionSpec("Hangup", ("ActionID", "Channel", "Cause"), required=("Channel",)),
        ActionSpec("Command", ("ActionID", "Command"), required=("Command",)),
        ActionSpec("Getvar", ("ActionID", "Channel", "Variable"), required=("Variable",)),
        ActionSpec("Setvar", ("ActionID", "Channel", "Variable", "Value"),
                   required=("Variable",)),
        ActionSpec("CoreShowChannels", ("ActionID",)),
        ActionSpec("Status", ("ActionID", "Channel", "Variables", "AllVariables")),
        ActionSpec("ListCommands", ("ActionID",)),
        ActionSpec("WaitEvent", ("ActionID", "Timeout")),
        ActionSpec("Events", ("ActionID", "EventMask"), required=("EventMask",)),
        ActionSpec("Filter", ("ActionID", "Operation", "Filter"), required=("Filter",)),
        ActionSpec("CoreStatus", ("ActionID",)),
        ActionSpec("CoreSettings", ("ActionID",)),
        ActionSpec("UserEvent", ("ActionID", "UserEvent"), required=("UserEvent",)),
        ActionSpec("ShowDialPlan", ("ActionID", "Context", "Extension")),
    )
}


def canonical_headers(action: str, headers: Mapping[str, Any]) -> dict[str, Any]:
    """Headers with the catalog's spelling of each known name (matched case-insensitively).

    Unknown names are kept as given: the server has the last word on what it accepts.
    """
    spec = CATALOG.get(action.lower())
    known = {h.lower(): h for h in spec.headers} if spec else {}
    out: dict[str, Any] = {}
    for name, value in headers.items():
        canonical = known.get(name.lower(), name)
        if canonical in out:
            raise InvalidAction(f"{action}: header {canonical!r} given twice", header=canonical)
        out[canonical] = value
    return out


def check_required(action: str, headers: Mapping[str, Any]) -> None:
    """Refuse an action the catalog knows to be incomplete, before anything is sent."""
    spec = CATALOG.get(action.lower())
    if spec is None:
        return
    given = {name.lower() for name, value in headers.items() if value not in (None, "", [])}
    missing = [h for h in spec.required if h.lower() not in given]
    if missing:
        raise InvalidAction(
            f"{spec.name} needs the {missing[0]} header (missing: {', '.join(missing)})",
            header=missing[0],
        )
    if spec.one_of and not any(all(h.lower() in given for h in group) for group in spec.one_of):
        options = " or ".join("+".join(group) for group in spec.one_of)
        raise InvalidAction(f"{spec.name} needs {options}", header=spec.one_of[0][0])


@dataclass(frozen=True)
class ActionInfo:
    """One line of ``ListCommands``: an action the user may run."""

    name: str
    synopsis: str
    privilege: tuple[str, ...]


def parse_list_commands(reply: Message) -> dict[str, ActionInfo]:
    """The actions in a ``ListCommands`` reply, by name.

    Each header is ``Name: Synopsis  (Priv: class,class,all)`` (two spaces before the
    parenthesis; ``<none>`` for actions anyone may run).

        >>> reply = Message([("Response", "Success"),
        ...                  ("Ping", "Keepalive command.  (Priv: <none>)"),
        ...                  ("Hangup", "Hangup channel.  (Priv: system,call,all)")])
        >>> parse_list_commands(reply)["Hangup"].privilege
        ('system', 'call', 'all')
    """
    actions: dict[str, ActionInfo] = {}
    for name, value in reply.headers:
        if name.lower() in {"response", "actionid", "message"}:
            continue
        synopsis, marker, privs = value.rpartition("(Priv: ")
        if not marker:
            synopsis, privs = value, ""
        privs = privs.rstrip(")").strip()
        classes = () if privs in ("", "<none>") else tuple(privs.split(","))
        actions[name] = ActionInfo(name, synopsis.strip(), classes)
    return actions


def parse_command_help(lines: list[str]) -> list[tuple[str, bool]]:
    """The headers of ``manager show command X``'s ``[Syntax]`` block, with required flags.

    Asterisk writes a required header as ``Channel: <value>`` and an optional one in
    brackets, ``[Exten:] <value>``; the ``Action:`` line itself is left out.

        >>> parse_command_help(["[Syntax]", "Action: Originate", "[ActionID:] <value>",
        ...                     "Channel: <value>", "", "[Arguments]"])
        [('ActionID', False), ('Channel', True)]
    """
    fields: list[tuple[str, bool]] = []
    inside = False
    for raw in lines:
        line = raw.strip()
        if line.startswith("[") and line.endswith("]") and ":" not in line:
            inside = line == "[Syntax]"
            continue
        if not inside or not line:
            continue
        optional = line.startswith("[")
        name = line.lstrip("[").split(":", 1)[0].strip()
        if name and name.lower() != "action":
            fields.append((name, not optional))
    return fields
