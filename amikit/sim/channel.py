"""Channels and bridges of the simulated PBX, and the events their snapshots produce.

Asterisk publishes a new *snapshot* of a channel whenever something about it changes, and
main/manager_channels.c turns the difference between the previous snapshot and the new one
into AMI events (``channel_snapshot_update`` running its ``channel_monitors``): a first
snapshot is a ``Newchannel``; one that marks the channel dead is a ``Hangup``; a new state is
a ``Newstate``; a new context, extension or priority (or a first application) is a
``Newexten``; new caller id a ``NewCallerid``; new connected line a ``NewConnectedLine``; a new
account code a ``NewAccountCode``. :func:`snapshot_events` is that rule, as a pure function, so
the PBX never decides by hand which of these to send.

    >>> chan = Channel("Local/101@sets-00000000;1", "1.1", "1.1", "Local", "Local/101@sets",
    ...                "sets", "101")
    >>> [name for name, _ in snapshot_events(None, chan.snapshot())]
    ['Newchannel']
    >>> old = chan.snapshot(); chan.appl, chan.data = "AppDial2", "(Outgoing Line)"
    >>> [name for name, _ in snapshot_events(old, chan.snapshot())]
    ['Newexten']
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from amikit.sim.config import Endpoint
from amikit.sim.replies import Pairs

__all__ = ["CAUSES", "HANGUP", "STATES", "Bridge", "Channel", "Snapshot", "escape", "snapshot_events"]

STATES = {0: "Down", 1: "Rsrvd", 2: "OffHook", 3: "Dialing", 4: "Ring", 5: "Ringing", 6: "Up",
          7: "Busy", 8: "Dialing Offhook", 9: "Pre-ring"}
#: ``ast_cause2str`` for the causes a call in the simulator can end with.
CAUSES = {0: "Unknown", 1: "Unallocated (unassigned) number", 3: "No route to destination",
          16: "Normal Clearing", 17: "User busy", 18: "No user responding",
          19: "User alerting, no answer", 21: "Call Rejected",
          26: "Answered elsewhere", 27: "Destination out of order",
          34: "Circuit/channel congestion", 38: "Network out of order", 41: "Temporary failure"}
DOWN, RING, RINGING, UP, BUSY = 0, 4, 5, 6, 7

#: Soft hangup flags (``enum ast_channel_softhangup_flags``): a SoftHangupRequest's Cause.
SOFTHANGUP_DEV, SOFTHANGUP_ASYNCGOTO, SOFTHANGUP_TIMEOUT = 1, 2, 8
SOFTHANGUP_APPUNLOAD, SOFTHANGUP_EXPLICIT = 16, 32
#: What an application returns to end the channel's dialplan (Asterisk's -1).
HANGUP = -1


def escape(text: str) -> str:
    """Snapshot names are C-escaped (``ast_escape_c``): ``\\"`` and ``\\\\``."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


@dataclass(frozen=True)
class Snapshot:
    """What ``ast_channel_snapshot`` holds of a channel, as far as AMI shows it."""

    state: int
    caller: tuple[str, str]
    connected: tuple[str, str]
    accountcode: str
    cep: tuple[str, str, int]
    appl: str
    data: str
    dead: bool
    cause: int
    headers: tuple[tuple[str, str], ...]


@dataclass(eq=False)
class Bridge:
    """A bridge: by default a basic two-party one (``bridge_basic``, technology
    ``simple_bridge``); a conference's is a ``base`` bridge mixed by ``softmix``, made by
    ``ConfBridge`` and named after the conference (``ast_bridge_base_new``)."""

    id: str
    members: list[Channel] = field(default_factory=list)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    type: str = "basic"
    technology: str = "simple_bridge"
    creator: str = "<unknown>"
    name: str = "<unknown>"

    def block(self) -> Pairs:
        """``ast_manager_build_bridge_state_string``."""
        return [("BridgeUniqueid", self.id), ("BridgeType", self.type),
                ("BridgeTechnology", self.technology), ("BridgeCreator", self.creator),
                ("BridgeName", self.name), ("BridgeNumChannels", str(len(self.members))),
                ("BridgeVideoSourceMode", "none")]

    def cel_extra(self) -> str:
        """The Extra of a member's CEL BRIDGE_ENTER and BRIDGE_EXIT."""
        return f'{{"bridge_id":"{self.id}","bridge_technology":"{self.technology}"}}'

    def leave(self, chan: Channel) -> None:
        """``chan`` must leave (it hangs up or is redirected). A two-party bridge ends for
        both members; a multi-party bridge lets only that member go (:meth:`leave` is
        overridden there)."""
        self.ended.set()


@dataclass(eq=False)
class Channel:
    """One channel: what its snapshots say, and where it stands in its life."""

    name: str
    uniqueid: str
    linkedid: str
    tech: str
    device: str
    context: str
    exten: str
    priority: int = 1
    state: int = DOWN
    caller_num: str = ""
    ani: str = ""
    caller_name: str = ""
    connected_num: str = ""
    connected_name: str = ""
    language: str = "en"
    musicclass: str = ""  # CHANNEL(musicclass): music on hold prefers it to any other
    accountcode: str = ""
    appl: str = ""
    data: str = ""
    #: the application the channel shows when it runs none (the dial API's AppDial2, …)
    home: tuple[str, str] = ("", "")
    variables: dict[str, str] = field(default_factory=dict)
    peer: Channel | None = None  # the other half of a Local pair
    outbound: bool = False  # the ;2 half, which runs the dialplan of a Local pair
    bridge: Bridge | None = None
    task: asyncio.Task[None] | None = None
    in_pbx: bool = False
    softhangup: int = 0
    goto: tuple[str, str, int] | None = None
    hangupcause: int = 0
    hangupsource: str = ""
    dead: bool = False
    ending: bool = False
    published: Snapshot | None = None
    outcome: asyncio.Future[str] | None = None  # a dialed channel's answer, busy, …
    ringing: bool = False
    dialer: Channel | None = None
    dialstatus: str = ""
    created: float = field(default_factory=time.time)
    answered: float | None = None
    userfield: str = ""
    cdr_app: tuple[str, str] = ("", "")  # the last application the CDR saw
    cdr_peer: str = ""  # the party B of the channel's current CDR (whom its Dial reached)
    cdr_party_b: bool = False  # only ever dialed: it has no CDR of its own (main/cdr.c)
    #: CDRs finished before the current one, (party B, last application), sent at hangup
    cdr_segments: list[tuple[str, tuple[str, str]]] = field(default_factory=list)
    cdr_exten: str = ""  # the extension before the h extension ran
    timers: list[asyncio.TimerHandle] = field(default_factory=list)
    endpoint: Endpoint | None = None  # the simulated phone behind a PJSIP channel

    def state_headers(self, prefix: str = "") -> Pairs:
        """``ast_manager_build_channel_state_string_prefix``, in Asterisk's order."""
        pairs = [("Channel", self.name), ("ChannelState", str(self.state)),
                 ("ChannelStateDesc", STATES.get(self.state, "Unknown")),
                 ("CallerIDNum", self.caller_num or "<unknown>"),
                 ("CallerIDName", escape(self.caller_name) or "<unknown>"),
                 ("ConnectedLineNum", self.connected_num or "<unknown>"),
                 ("ConnectedLineName", escape(self.connected_name) or "<unknown>"),
                 ("Language", self.language), ("AccountCode", self.accountcode),
                 ("Context", self.context), ("Exten", self.exten),
                 ("Priority", str(self.priority)), ("Uniqueid", self.uniqueid),
                 ("Linkedid", self.linkedid)]
        return [(prefix + n, v) for n, v in pairs] if prefix else pairs

    def snapshot(self) -> Snapshot:
        return Snapshot(self.state, (self.caller_num, self.caller_name),
                        (self.connected_num, self.connected_name), self.accountcode,
                        (self.context, self.exten, self.priority), self.appl, self.data,
                        self.dead, self.hangupcause, tuple(self.state_headers()))


def snapshot_events(old: Snapshot | None, new: Snapshot) -> list[tuple[str, Pairs]]:
    """The AMI events (name, body) that a snapshot update produces (``channel_monitors``)."""
    head = list(new.headers)
    events: list[tuple[str, Pairs]] = []
    # channel_state_change: Newchannel, Hangup and Newstate exclude one another
    if old is None:
        events.append(("Newchannel", head))
    elif new.dead and not old.dead:
        events.append(("Hangup", [*head, ("Cause", str(new.cause)),
                                  ("Cause-txt", CAUSES.get(new.cause, "Unknown"))]))
    elif old.state != new.state:
        events.append(("Newstate", head))
    # channel_newexten: an application is needed, and a new CEP (or a first application)
    if new.appl and not new.dead and (
            old is None or (not old.appl) or old.cep != new.cep):
        events.append(("Newexten", [*head, ("Extension", new.cep[1]), ("Application", new.appl),
                                    ("AppData", new.data)]))
    if old is not None and old.caller != new.caller:
        events.append(("NewCallerid", [*head, ("CID-CallingPres",
                                               "0 (Presentation Allowed, Not Screened)")]))
    if old is not None and old.accountcode != new.accountcode:
        events.append(("NewAccountCode", [*head, ("OldAccountCode", old.accountcode)]))
    if old is not None and old.connected != new.connected:
        events.append(("NewConnectedLine", head))
    return events
