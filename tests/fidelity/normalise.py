"""Normalising one trace (a real run, or what the simulator sent) so that two can be compared.

Pure functions, no I/O. Everything that legitimately differs between two runs of the same
scenario is replaced by something stable:

- channel names ``Tech/resource-XXXXXXXX`` (8 hex digits) become ``Tech/resource-#k``, k
  numbering the hex part by first appearance in the run, wherever they occur (also inside
  ``/regex/`` text, where the dash may be escaped, and inside data such as AppData);
- Asterisk uniqueids (``1795998112.345``) become ``#Uk`` and bridge UUIDs ``#Bk``, by first
  appearance;
- the recording client's ids (``dt`` + 10 hex digits, new for each run) become ``DT``, their
  suffix kept: ``dt45dca96888-1a`` -> ``DT-1a``;
- timing headers keep their place in the header-name list but lose their value.

    >>> run = normalise_run([Message([("Event", "Newchannel"), ("Channel", "Local/6@s-0000015c;1"),
    ...                               ("Uniqueid", "dt45dca96888-1a")])], ())
    >>> run.messages[0].key, run.messages[0].value("uniqueid")
    (('Newchannel', 'Local/6@s-#1;1', ''), ('DT-1a',))

Each message gets a name (the event name, or ``Response:<Action>`` for a reply) and a key
``(name, channel role, subkey)`` that the scores match messages by.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from amikit import Message
from tests.fidelity.scenario import Action

__all__ = ["MEANINGFUL", "TIMING", "UNKNOWN_REPLY", "Key", "Normalised", "NormalisedRun", "Ordinals",
           "normalise_run", "reply_names"]

#: Headers whose values only say when; compared by name, never by value (lower case).
TIMING = frozenset(h.lower() for h in (
    "Timestamp", "EventTime", "StartTime", "AnswerTime", "EndTime", "Duration", "BillableSeconds",
    "Seconds", "EventTV", "SessionTV", "Uptime", "LastReload"))

_MEANINGFUL_BASE = (
    "ChannelState", "ChannelStateDesc", "Context", "Exten", "Priority", "Application", "AppData",
    "Data", "Extension", "Cause", "Cause-txt", "CallerIDNum", "CallerIDName", "ConnectedLineNum",
    "ConnectedLineName", "AccountCode", "Response", "Message", "Reason", "DialStatus", "Variable",
    "Value", "State", "Device", "ActionID", "ListItems", "Items", "EventName", "Disposition",
    "LastApplication", "LastData", "Source", "Destination", "DestinationContext", "Uniqueid",
    "Linkedid")
#: Headers whose values the ``values`` score compares (lower case; CEL writes ``UniqueID``):
#: the base names and the same behind the prefixes of a second or Local-pair channel.
MEANINGFUL = frozenset(
    (prefix + name).lower() for name in _MEANINGFUL_BASE for prefix in ("", "Dest", "LocalOne", "LocalTwo"))

#: The name of a reply that no action accounts for (a lost or foreign ActionID).
UNKNOWN_REPLY = "Response:?"

# The subkey that tells apart messages of one name on one channel.
_SUBKEY = {"CEL": "EventName", "VarSet": "Variable", "DeviceStateChange": "State",
           "UserEvent": "UserEvent"}
_ROLE_HEADERS = ("Channel", "DestChannel", "LocalOneChannel")

# One pattern for every id, so ordinals follow the text's own order. A channel is a tech
# (letters first), "/", a resource without spaces or separators, "-" (escaped in a regex)
# and exactly 8 hex digits; a uniqueid is epoch seconds "." a counter.
_IDS = re.compile(
    r"(?P<chan>(?P<base>[A-Za-z][A-Za-z0-9_]*/[^\s/,;|\"'()]*?)(?P<dash>\\?-)(?P<hex>[0-9a-fA-F]{8}))"
    r"(?![0-9A-Za-z])"
    r"|(?P<bridge>(?<![0-9A-Za-z])[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}"
    r"-[0-9a-fA-F]{12})(?![0-9A-Za-z])"
    r"|(?P<dt>(?<![0-9A-Za-z])dt[0-9a-f]{10})(?![0-9A-Za-z])"
    r"|(?P<uid>(?<![\w.])\d{9,11}\.\d+)(?![\w.])")

Key = tuple[str, str, str]


class Ordinals:
    """First-appearance numbering of one run's ids: one counter per kind.

    ``channels`` maps a channel's hex part to its k; it is what maps a recorded channel name
    to the simulator's channel with the same role.
    """

    def __init__(self) -> None:
        self.channels: dict[str, int] = {}
        self.bases: dict[str, str] = {}  # hex -> "Tech/resource" as first seen
        self.uniqueids: dict[str, int] = {}
        self.bridges: dict[str, int] = {}

    def _replace(self, match: re.Match[str]) -> str:
        if match["chan"]:
            hexpart = match["hex"].lower()
            k = self.channels.setdefault(hexpart, len(self.channels) + 1)
            self.bases.setdefault(hexpart, match["base"])
            return f"{match['base']}{match['dash']}#{k}"
        if match["bridge"]:
            return f"#B{self.bridges.setdefault(match['bridge'].lower(), len(self.bridges) + 1)}"
        if match["dt"]:
            return "DT"
        return f"#U{self.uniqueids.setdefault(match['uid'], len(self.uniqueids) + 1)}"

    def value(self, text: str) -> str:
        """``text`` with every id replaced by its stable form (numbering new ones)."""
        return _IDS.sub(self._replace, text) if text else text

    def role_of(self, hexpart: str) -> str | None:
        """``Tech/resource-#k`` for a hex part already seen, else None."""
        hexpart = hexpart.lower()
        k = self.channels.get(hexpart)
        return None if k is None else f"{self.bases[hexpart]}-#{k}"


def reply_names(messages: Iterable[Message], actions: Sequence[Action]) -> list[str | None]:
    """``Response:<Action>`` for each reply (None for events), by ActionID.

    Replies to actions sent without an ActionID (UserEvent) are matched, in order, to those
    actions: Asterisk answers one session's actions in the order it got them.
    """
    by_id = {a.action_id: a.name for a in actions if a.action_id is not None}
    without_id = deque(a.name for a in actions if a.action_id is None)
    names: list[str | None] = []
    for msg in messages:
        if msg.is_event:
            names.append(None)
            continue
        action_id = msg.action_id
        if action_id is not None and action_id in by_id:
            names.append(f"Response:{by_id[action_id]}")
        elif action_id is None and without_id:
            names.append(f"Response:{without_id.popleft()}")
        else:
            names.append(UNKNOWN_REPLY)
    return names


@dataclass(frozen=True, slots=True)
class Normalised:
    """One normalised message: its name, key, header names in order and stable values."""

    index: int  # position in the trace, for reports
    name: str
    key: Key
    header_names: tuple[str, ...]
    headers: tuple[tuple[str, str], ...]  # normalised (name, value); timing values emptied

    def value(self, name: str) -> tuple[str, ...]:
        """Every normalised value of header ``name`` (any case), in wire order."""
        lower = name.lower()
        return tuple(v for n, v in self.headers if n.lower() == lower)

    def meaningful(self) -> dict[str, tuple[str, ...]]:
        """Lower-case meaningful header name -> its values (repeats kept, as Variable repeats)."""
        found: dict[str, list[str]] = {}
        for n, v in self.headers:
            lower = n.lower()
            if lower in MEANINGFUL:
                found.setdefault(lower, []).append(v)
        return {n: tuple(vs) for n, vs in found.items()}


@dataclass(frozen=True)
class NormalisedRun:
    """A normalised trace, with the numbering that produced it."""

    messages: tuple[Normalised, ...]
    ordinals: Ordinals = field(compare=False)

    @property
    def channels(self) -> Mapping[str, int]:
        return self.ordinals.channels


def normalise_run(messages: Sequence[Message], actions: Sequence[Action]) -> NormalisedRun:
    """Normalise one trace; ``actions`` are the ones whose replies it holds (to name them)."""
    ordinals = Ordinals()
    names = reply_names(messages, actions)
    out = []
    for index, (msg, reply_name) in enumerate(zip(messages, names, strict=True)):
        # Timing values are emptied before numbering: an epoch Timestamp looks like a
        # uniqueid and must not take an ordinal.
        headers = tuple((n, "" if n.lower() in TIMING else ordinals.value(v)) for n, v in msg.headers)
        norm = Normalised(index, "", ("", "", ""), tuple(n for n, _ in headers), headers)
        name = reply_name or msg.get("Event", "")
        role = next((norm.value(h)[0] for h in _ROLE_HEADERS if norm.value(h)), "")
        subheader = _SUBKEY.get(name)
        subkey = (norm.value(subheader) or ("",))[0] if subheader else ""
        out.append(Normalised(index, name, (name, role, subkey), norm.header_names, headers))
    return NormalisedRun(tuple(out), ordinals)
