"""What AMI actions exist and what they take: a small built-in catalog, and the server's own list.

The catalog holds facts for the actions the book uses (header names, which are required,
which repeat, the write class Asterisk checks). It lets amikit accept ``channel=`` for
``Channel``, refuse an Originate with no Channel before sending it, and send
``Variable`` as many headers. For anything else, ask the server: :func:`parse_list_commands`
reads the reply of ``ListCommands``.

    >>> canonical_headers("Originate", {"channel": "PJSIP/SOFTPHONE_A", "exten": "103"})
    {'Channel': 'PJSIP/SOFTPHONE_A', 'Exten': '103'}
    >>> check_required("Redirect", {"Channel": "PJSIP/A-00000001"})
    Traceback (most recent call last):
    ...
    amikit.errors.InvalidAction: Redirect needs the Context header (missing: Context, Exten, Priority)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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
    """One action's facts: its headers in the usual order, which are required, which repeat."""

    name: str
    headers: tuple[str, ...]
    required: tuple[str, ...] = ()
    repeatable: tuple[str, ...] = ()
    privilege: tuple[str, ...] = ()
    summary: str = ""
    #: groups of which at least one complete group must be given (Originate: Exten or App)
    one_of: tuple[tuple[str, ...], ...] = field(default=())


_ORIGINATE = ("ActionID", "Channel", "Context", "Exten", "Priority", "Application", "Data",
              "Timeout", "CallerID", "Account", "Variable", "Codecs", "EarlyMedia", "Async",
              "ChannelId", "OtherChannelId", "PreDialGoSub")
_REDIRECT = ("ActionID", "Channel", "Context", "Exten", "Priority", "ExtraChannel",
             "ExtraContext", "ExtraExten", "ExtraPriority")

CATALOG: dict[str, ActionSpec] = {
    spec.name.lower(): spec
    for spec in (
        ActionSpec("Login", ("ActionID", "Username", "Secret", "AuthType", "Key", "Events"),
                   required=("Username",), summary="Start a session."),
        ActionSpec("Logoff", ("ActionID",), summary="End the session."),
        ActionSpec("Ping", ("ActionID",), summary="Check that the server answers."),
        ActionSpec("Originate", _ORIGINATE, required=("Channel",), repeatable=("Variable",),
                   privilege=("originate",),
                   one_of=(("Exten", "Context", "Priority"), ("Application",)),
                   summary="Call a channel, then connect it to an extension or application."),
        ActionSpec("Redirect", _REDIRECT, required=("Channel", "Context", "Exten", "Priority"),
                   privilege=("call",),
                   summary="Send a channel (and optionally a second one) elsewhere in the dialplan."),
        ActionSpec("Hangup", ("ActionID", "Channel", "Cause"), required=("Channel",),
                   privilege=("system", "call"), summary="Hang up a channel (or /regex/)."),
        ActionSpec("Command", ("ActionID", "Command"), required=("Command",),
                   privilege=("command",), summary="Run a CLI command."),
        ActionSpec("Getvar", ("ActionID", "Channel", "Variable"), required=("Variable",),
                   privilege=("call", "reporting"), summary="Read a variable or function."),
        ActionSpec("Setvar", ("ActionID", "Channel", "Variable", "Value"),
                   required=("Variable",), privilege=("call",),
                   summary="Set a variable or function."),
        ActionSpec("CoreShowChannels", ("ActionID",), privilege=("system", "reporting"),
                   summary="List the active channels."),
        ActionSpec("Status", ("ActionID", "Channel", "Variables", "AllVariables"),
                   privilege=("system", "call", "reporting"), summary="Channel status."),
        ActionSpec("ListCommands", ("ActionID",), summary="List the actions this user may run."),
        ActionSpec("WaitEvent", ("ActionID", "Timeout"), summary="Wait for events (HTTP)."),
        ActionSpec("Events", ("ActionID", "EventMask"), required=("EventMask",),
                   summary="Choose which event classes this session receives."),
        ActionSpec("Filter", ("ActionID", "Operation", "Filter"), required=("Filter",),
                   privilege=("system",), summary="Add an event filter to this session."),
        ActionSpec("CoreStatus", ("ActionID",), privilege=("system", "reporting"),
                   summary="Core status: start time, current calls."),
        ActionSpec("CoreSettings", ("ActionID",), privilege=("system", "reporting"),
                   summary="Core settings: version, limits."),
        ActionSpec("UserEvent", ("ActionID", "UserEvent"), required=("UserEvent",),
                   privilege=("user",), summary="Send an event of your own to every client."),
        ActionSpec("ShowDialPlan", ("ActionID", "Context", "Extension"),
                   privilege=("config", "reporting"), summary="List the dialplan."),
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
