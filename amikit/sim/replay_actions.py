"""The actions a replaying simulator answers: read-only ones from the replayed state, the
others refused.

``CoreShowChannels``, ``Status``, ``BridgeList``, ``QueueStatus`` and ``Getvar`` (a channel's
variables, as its ``VarSet`` events set them) describe the PBX at the current replay
position (:class:`~amikit.sim.replay_state.ReplayState`), in the reply shapes of a live
Asterisk (``action_coreshowchannels``, ``action_status``, ``manager_bridges_list``,
``manager_queues_status``, ``action_getvar``; QueueParams carries only what events tell:
Calls, and the Completed and Abandoned seen since the recording began). ``CoreStatus``
counts its channels. An action
that would change what was recorded (Originate, Redirect, Hangup, Setvar, UserEvent, the
queue and conference controls) answers ``Response: Error`` saying the server is replaying,
and so does a read-only one the events cannot answer (ShowDialPlan, Command, a global
variable).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from amikit.sim.channel_replies import (
    bridge_list_item,
    core_show_channel_item,
    status_item,
    status_variables,
)
from amikit.sim.replay_state import ReplayState, SeenChannel
from amikit.sim.replies import Pairs, error, header, list_reply, response

if TYPE_CHECKING:
    from amikit.sim.manager import Handler, Output, Request, Session

__all__ = ["REFUSED", "UNKNOWABLE", "ReplayActions", "refusal"]

#: Actions that would change the recording: refused while replaying.
REFUSED = ("Originate", "Redirect", "Hangup", "Setvar", "UserEvent", "QueueAdd", "QueueRemove",
           "QueuePause", "QueuePenalty", "QueueMemberRingInUse", "QueueLog", "QueueReset",
           "ConfbridgeKick", "ConfbridgeMute", "ConfbridgeUnmute", "ConfbridgeLock",
           "ConfbridgeUnlock", "ConfbridgeStartRecord", "ConfbridgeStopRecord")
#: Read-only actions whose answer the events do not hold.
UNKNOWABLE = ("ShowDialPlan", "Command", "QueueSummary", "ConfbridgeList", "ConfbridgeListRooms")


#: Built-in channel variables (``pbx_builtin_getvar_helper``) and the snapshot header each is.
BUILTINS = {"CHANNEL": "Channel", "UNIQUEID": "Uniqueid", "EXTEN": "Exten", "CONTEXT": "Context",
            "PRIORITY": "Priority", "CALLERID(num)": "CallerIDNum", "CALLERID(name)": "CallerIDName",
            "CHANNEL(language)": "Language", "CHANNEL(accountcode)": "AccountCode",
            "CHANNEL(linkedid)": "Linkedid", "CHANNEL(state)": "ChannelStateDesc"}


_BUILTINS = {name.upper(): header for name, header in BUILTINS.items()}


def variable_value(chan: SeenChannel, variable: str) -> str | None:
    """A channel variable as the recorded events know it: a built-in from the snapshot
    (names without case), else its last VarSet ("" when never set, as ``action_getvar``
    answers an unset one); None for a dialplan function, which reads the live channel.

        >>> chan = SeenChannel("1.1", None, [("Channel", "PJSIP/A-1"), ("Uniqueid", "1.1")],
        ...                    variables={"FOO": "bar"})
        >>> variable_value(chan, "uniqueid"), variable_value(chan, "FOO"), variable_value(chan, "X")
        ('1.1', 'bar', '')
        >>> variable_value(chan, "SHELL(id)") is None
        True
    """
    builtin = _BUILTINS.get(variable.upper())
    if builtin is not None:
        return chan.get(builtin)
    if "(" in variable:
        return None
    return chan.variables.get(variable, "")


def refusal(action: str) -> str:
    """The Message of a refused action.

        >>> refusal("Originate")
        'This server is replaying a recording: Originate cannot change it'
    """
    return f"This server is replaying a recording: {action} cannot change it"


def _unknown(action: str) -> str:
    return f"This server is replaying a recording: the recorded events do not answer {action}"


def _unknown_as_ami(value: str) -> str:
    """app_queue writes a missing caller id as ``unknown`` where snapshots say ``<unknown>``."""
    return "unknown" if value in ("", "<unknown>") else value


class ReplayActions:
    """The manager's backend while replaying: handlers by lower-case action name, call counts."""

    def __init__(self, state: Callable[[], ReplayState]) -> None:
        self._state = state
        self.handlers: dict[str, Handler] = {
            "status": self.status, "coreshowchannels": self.coreshowchannels,
            "bridgelist": self.bridgelist, "queuestatus": self.queuestatus, "getvar": self.getvar,
        }
        for name in REFUSED:
            self.handlers[name.lower()] = self._answer(refusal(name))
        for name in UNKNOWABLE:
            self.handlers[name.lower()] = self._answer(_unknown(name))

    @property
    def state(self) -> ReplayState:
        """The replayed PBX now (a seek or a loop starts a new one)."""
        return self._state()

    def call_counts(self) -> tuple[int, int]:
        return self.state.call_counts()

    @staticmethod
    def _answer(text: str) -> Handler:
        async def answer(session: Session, request: Request, msg: Pairs) -> Output:
            return [error(header(msg, "ActionID"), text)]
        return answer

    async def status(self, session: Session, request: Request, msg: Pairs) -> Output:
        action_id = header(msg, "ActionID")
        name = header(msg, "Channel")
        chans = list(self.state.channels.values())
        if name:
            found = self.state.find(name)
            if found is None:
                return [error(action_id, "No such channel")]
            chans = [found]
        items = []
        for chan in chans:
            names = status_variables(msg, chan.variables)
            values = [(var, variable_value(chan, var)) for var in names]
            items.append(status_item(
                chan.snapshot, connected=(chan.get("ConnectedLineNum"), chan.get("ConnectedLineName")),
                bridge_id=chan.bridge, application=chan.application, data=chan.data,
                seconds=self.state.seconds(chan),
                # action_status writes an unset one as (null)
                variables=[(var, value or None) for var, value in values], action_id=action_id))
        return [*list_reply(action_id, "Channel status will follow", items, "StatusComplete",
                          [("Items", str(len(items)))])]

    async def coreshowchannels(self, session: Session, request: Request, msg: Pairs) -> Output:
        action_id = header(msg, "ActionID")
        items = [core_show_channel_item(chan.snapshot, application=chan.application, data=chan.data,
                                        seconds=self.state.seconds(chan), bridge_id=chan.bridge,
                                        action_id=action_id)
                 for chan in self.state.channels.values()]
        return [*list_reply(action_id, "Channels will follow", items, "CoreShowChannelsComplete")]

    async def bridgelist(self, session: Session, request: Request, msg: Pairs) -> Output:
        action_id = header(msg, "ActionID")
        # filter_bridge_type_cb: the BridgeType asked is compared with the technology
        kind = header(msg, "BridgeType")
        items = [bridge_list_item(bridge.headers, action_id)
                 for bridge in self.state.bridges.values()
                 if not kind or dict(bridge.headers).get("BridgeTechnology") == kind]
        return [*list_reply(action_id, "Bridge listing will follow", items, "BridgeListComplete")]

    async def queuestatus(self, session: Session, request: Request, msg: Pairs) -> Output:
        action_id = header(msg, "ActionID")
        wanted, member_filter = header(msg, "Queue").lower(), header(msg, "Member")
        tail = [("ActionID", action_id)] if action_id else []
        items: list[Pairs] = []
        for name, queue in self.state.queues.items():
            if wanted and name.lower() != wanted:
                continue
            callers = [(self.state.channels.get(uid), joined) for uid, joined in queue.callers.items()]
            waiting = [(chan, joined) for chan, joined in callers if chan is not None]
            # only what events tell: app_queue's own settings and averages (Max, Strategy,
            # Holdtime…) are in none; Completed and Abandoned count what the recording saw
            items.append([("Event", "QueueParams"), ("Queue", name), ("Calls", str(len(waiting))),
                          ("Completed", str(queue.completed)), ("Abandoned", str(queue.abandoned)),
                          *tail])
            for blob in queue.members.values():
                member = dict(blob)
                if member_filter not in ("", member.get("Interface"), member.get("MemberName")):
                    continue
                items.append([("Event", "QueueMember"), ("Queue", name),
                              ("Name", member.get("MemberName", "")),
                              ("Location", member.get("Interface", "")),
                              *[(k, member.get(k, "")) for k in (
                                  "StateInterface", "Membership", "Penalty", "CallsTaken",
                                  "LastCall", "LastPause", "LoginTime", "InCall", "Status",
                                  "Paused", "PausedReason", "Wrapuptime")], *tail])
            for position, (chan, joined) in enumerate(waiting, 1):
                items.append(self._entry(name, position, chan, joined, tail))
        return [*list_reply(action_id, "Queue status will follow", items, "QueueStatusComplete")]

    def _entry(self, queue: str, position: int, chan: SeenChannel, joined: float | None,
               tail: Pairs) -> Pairs:
        now = self.state.now
        wait = int(now - joined) if now is not None and joined is not None else 0
        return [("Event", "QueueEntry"), ("Queue", queue), ("Position", str(position)),
                ("Channel", chan.name), ("Uniqueid", chan.uniqueid),
                *[(k, _unknown_as_ami(chan.get(k))) for k in (
                    "CallerIDNum", "CallerIDName", "ConnectedLineNum", "ConnectedLineName")],
                ("Wait", str(wait)), ("Priority", "0"), *tail]

    async def getvar(self, session: Session, request: Request, msg: Pairs) -> Output:
        action_id = header(msg, "ActionID")
        variable = header(msg, "Variable")
        if not variable:
            return [error(action_id, "No variable specified")]
        name = header(msg, "Channel")
        if not name:
            return [error(action_id, _unknown("Getvar without a Channel"))]
        chan = self.state.find(name)
        if chan is None:
            return [error(action_id, "No such channel")]
        value = variable_value(chan, variable)
        if value is None:  # a dialplan function reads the live channel: not in events
            return [error(action_id, _unknown(f"Getvar of {variable}"))]
        return [response("Success", action_id, [("Variable", variable), ("Value", value)])]
