"""The PBX a recording describes, at one moment of it: the channels, bridges and queues alive,
derived from the events alone (no I/O, no clock).

Replay answers the read-only actions from it. Only what the events say is known: a
channel's snapshot (the ``Channel`` … ``Linkedid`` headers every channel event carries),
when it appeared, the application it runs (``Newexten``), its bridge (``BridgeEnter`` /
``BridgeLeave``) and its variables (``VarSet``) — CEL and Cdr events, in their own layout,
are not snapshots; a bridge's own ``Bridge…`` headers; a
queue's members (``QueueMember…`` events) and waiting callers (``QueueCallerJoin`` /
``QueueCallerLeave``). A channel is alive from its first event to its ``Hangup``, as
:func:`amikit.tables.channels` counts it (``created``, else ``first_seen``, to ``hungup``).

    >>> from amikit.message import Message
    >>> state = ReplayState()
    >>> state.apply(Message([("Event", "Newchannel"), ("Channel", "PJSIP/A-1"),
    ...                      ("ChannelStateDesc", "Down"), ("Uniqueid", "1.1"),
    ...                      ("Linkedid", "1.1")]), 10.0)
    >>> [c.name for c in state.channels.values()], state.call_counts()
    (['PJSIP/A-1'], (1, 0))
    >>> state.apply(Message([("Event", "Hangup"), ("Channel", "PJSIP/A-1"),
    ...                      ("ChannelStateDesc", "Up"), ("Uniqueid", "1.1")]), 12.0)
    >>> len(state.channels), state.now
    (0, 12.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from amikit.message import Message
from amikit.sim.channel_replies import find_channel

__all__ = ["ReplayState", "SeenBridge", "SeenChannel", "SeenQueue"]

Pairs = list[tuple[str, str]]

#: ``ast_manager_build_channel_state_string_prefix``'s headers, in its order.
SNAPSHOT = ("Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName",
            "ConnectedLineNum", "ConnectedLineName", "Language", "AccountCode", "Context",
            "Exten", "Priority", "Uniqueid", "Linkedid")
_SNAPSHOT = {name.lower() for name in SNAPSHOT}
#: ``ast_manager_build_bridge_state_string_prefix``'s headers.
_BRIDGE = {"bridgeuniqueid", "bridgetype", "bridgetechnology", "bridgecreator", "bridgename",
           "bridgenumchannels", "bridgevideosourcemode", "bridgevideosource"}
#: The member blob of the QueueMember* events (``queue_member_blob_create``).
_MEMBER_EVENTS = {"queuememberadded", "queuememberstatus", "queuememberpause",
                  "queuememberpenalty", "queuememberringinuse"}
_NO_ID = {"", "<unknown>", "none"}


@dataclass
class SeenChannel:
    """A channel as the events last described it."""

    uniqueid: str
    since: float | None  # its Newchannel, else its first event
    snapshot: Pairs = field(default_factory=list)
    application: str = ""
    data: str = ""
    bridge: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    ran_dialplan: bool = False  # a Newexten seen (counted once in ReplayState.dialplan_runs)

    @property
    def name(self) -> str:
        return self.get("Channel")

    def get(self, name: str, default: str = "") -> str:
        key = name.lower()
        return next((v for n, v in self.snapshot if n.lower() == key), default)


@dataclass
class SeenBridge:
    """A bridge: its ``Bridge…`` headers as last seen, and the channels in it."""

    headers: Pairs
    channels: set[str] = field(default_factory=set)


@dataclass
class SeenQueue:
    """A queue: members by interface (their last QueueMember* headers) and callers waiting."""

    members: dict[str, Pairs] = field(default_factory=dict)
    callers: dict[str, float | None] = field(default_factory=dict)  # Uniqueid → joined
    completed: int = 0  # AgentComplete events seen
    abandoned: int = 0  # QueueCallerAbandon events seen


class ReplayState:
    """Channels, bridges and queues alive after the events applied so far."""

    def __init__(self) -> None:
        self.channels: dict[str, SeenChannel] = {}
        self.bridges: dict[str, SeenBridge] = {}
        self.queues: dict[str, SeenQueue] = {}
        self.now: float | None = None
        self.dialplan_runs = 0  # channels seen with a Newexten

    def call_counts(self) -> tuple[int, int]:
        """(current calls, calls processed), as CoreStatus reports them
        (``action_corestatus``): the channels alive (``ast_active_channels``), and the
        channels seen running the dialplan since the recording began (the nearest the
        events come to ``ast_processed_calls``, which counts dialplan runs since start-up)."""
        return len(self.channels), self.dialplan_runs

    def find(self, name: str) -> SeenChannel | None:
        """The live channel of that name or Uniqueid (``ast_channel_get_by_name``)."""
        return find_channel(self.channels.values(), name, lambda c: c.name, lambda c: c.uniqueid)

    def seconds(self, chan: SeenChannel) -> int:
        """How long the channel has been up at the current position (0 when unknown)."""
        if chan.since is None or self.now is None:
            return 0
        return max(0, int(self.now - chan.since))

    def apply(self, event: Message, at: float | None) -> None:
        """Take one event (``at``: when it happened) into the state."""
        if at is not None:
            self.now = at
        name = (event.name or "").lower()
        uniqueid = event.get("Uniqueid")
        # a channel snapshot (ChannelStateDesc is in every one): CEL and Cdr events name the
        # channel too, in their own layout, and come after its Hangup
        if uniqueid is not None and uniqueid not in _NO_ID and "ChannelStateDesc" in event:
            self._channel(name, uniqueid, event, at)
        if "BridgeUniqueid" in event:
            self._bridge(name, event, uniqueid)
        if name.startswith("queue"):
            self._queue(name, event)

    def _channel(self, name: str, uniqueid: str, event: Message, at: float | None) -> None:
        if name == "hangup":
            gone = self.channels.pop(uniqueid, None)
            if gone is not None and gone.bridge in self.bridges:
                self.bridges[gone.bridge].channels.discard(uniqueid)
            return
        chan = self.channels.get(uniqueid)
        if chan is None:
            chan = self.channels[uniqueid] = SeenChannel(uniqueid, at)
        if name == "newchannel":
            chan.since = at
        chan.snapshot = [(n, v) for n, v in event.headers if n.lower() in _SNAPSHOT]
        if name == "newexten":
            if not chan.ran_dialplan:
                chan.ran_dialplan = True
                self.dialplan_runs += 1
            chan.application = event.get("Application", "")
            chan.data = event.get("AppData", "")
        elif name == "varset":
            chan.variables[event.get("Variable", "")] = event.get("Value", "")

    def _bridge(self, name: str, event: Message, uniqueid: str | None) -> None:
        bridge_id = event["BridgeUniqueid"]
        if name == "bridgedestroy":
            self.bridges.pop(bridge_id, None)
            return
        headers = [(n, v) for n, v in event.headers if n.lower() in _BRIDGE]
        bridge = self.bridges.get(bridge_id)
        if bridge is None:
            bridge = self.bridges[bridge_id] = SeenBridge(headers)
        bridge.headers = headers
        chan = self.channels.get(uniqueid or "")
        if chan is None:
            return
        if name == "bridgeenter":
            bridge.channels.add(chan.uniqueid)
            chan.bridge = bridge_id
        elif name == "bridgeleave":
            bridge.channels.discard(chan.uniqueid)
            chan.bridge = ""

    def _queue(self, name: str, event: Message) -> None:
        queue_name = event.get("Queue")
        if not queue_name:
            return
        queue = self.queues.setdefault(queue_name, SeenQueue())
        if name in _MEMBER_EVENTS:
            queue.members[event.get("Interface", "")] = [
                (n, v) for n, v in event.headers if n.lower() not in ("event", "privilege", "timestamp")]
        elif name == "queuememberremoved":
            queue.members.pop(event.get("Interface", ""), None)
        elif name == "queuecallerjoin":
            queue.callers[event.get("Uniqueid", "")] = self.now
        elif name == "queuecallerleave":
            queue.callers.pop(event.get("Uniqueid", ""), None)
        elif name == "agentcomplete":
            queue.completed += 1
        elif name == "queuecallerabandon":
            queue.abandoned += 1
