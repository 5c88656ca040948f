"""The AMI actions and the CLI command of queues (apps/app_queue.c), same bytes as Asterisk.

``QueueStatus`` (``manager_queues_status``), ``QueueSummary`` (``manager_queues_summary``),
``QueueAdd``/``QueueRemove`` (``manager_add_queue_member``, ``manager_remove_queue_member``),
``QueuePause`` (``manager_pause_queue_member``), ``QueuePenalty``
(``manager_queue_member_penalty``), ``QueueMemberRingInUse``
(``manager_queue_member_ringinuse``), ``QueueLog`` (``manager_queue_log_custom``),
``QueueReset`` (``manager_queue_reset``) and ``queue show`` (``__queues_show``). Asterisk
23.4.1 answers ``Queues`` as an unknown action (``04_lists/rawman/024_queues``), so it is
not here.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from amikit.protocol import is_false, is_true
from amikit.sim.queue_model import INVALID, NOT_INUSE, UNAVAILABLE, UNKNOWN, Member, Queue
from amikit.sim.replies import Pairs, error, header, list_reply, response

if TYPE_CHECKING:
    from amikit.sim.manager import Handler, Request, Session
    from amikit.sim.pbx import PBX
    from amikit.sim.queue import Queues

__all__ = ["QueueActions", "queue_show"]

#: ``ast_devstate_str``: a member's device state as ``queue show`` words it.
STATE_WORDS = {0: "Unknown", 1: "Not in use", 2: "In use", 3: "Busy", 4: "Invalid",
               5: "Unavailable", 6: "Ringing", 7: "Ring+Inuse", 8: "On Hold"}


class QueueActions:
    """Action handlers by lower-case name."""

    def __init__(self, pbx: PBX) -> None:
        self.pbx = pbx
        self.handlers: dict[str, Handler] = {
            "queuestatus": self.status, "queuesummary": self.summary, "queueadd": self.add,
            "queueremove": self.remove, "queuepause": self.pause, "queuepenalty": self.penalty,
            "queuememberringinuse": self.ringinuse, "queuelog": self.log,
            "queuereset": self.reset,
        }

    @property
    def queues(self) -> Queues:
        return self.pbx.queues

    def _selected(self, msg: Pairs) -> list[Queue]:
        name = header(msg, "Queue")
        return [q for q in self.queues.queues.values()
                if not name or q.name.lower() == name.lower()]

    def _seconds(self, since: float) -> int:
        return int((time.time() - since) * self.pbx.speed)

    async def status(self, session: Session, request: Request, msg: Pairs) -> list[Pairs]:
        action_id = header(msg, "ActionID")
        member_filter = header(msg, "Member")
        tail = [("ActionID", action_id)] if action_id else []
        items: list[Pairs] = []
        for queue in self._selected(msg):
            items.append([("Event", "QueueParams"), *queue.params(), *tail])
            for member in queue.ordered():
                if member_filter in ("", member.interface, member.name):
                    items.append([("Event", "QueueMember"), *member.status_item(queue.name), *tail])
            for position, caller in enumerate(queue.callers, 1):
                chan = self.pbx.channels.get(caller.channel)
                if chan is None:
                    continue
                items.append([
                    ("Event", "QueueEntry"), ("Queue", queue.name), ("Position", str(position)),
                    ("Channel", chan.name), ("Uniqueid", chan.uniqueid),
                    ("CallerIDNum", chan.caller_num or "unknown"),
                    ("CallerIDName", chan.caller_name or "unknown"),
                    ("ConnectedLineNum", chan.connected_num or "unknown"),
                    ("ConnectedLineName", chan.connected_name or "unknown"),
                    ("Wait", str(self._seconds(caller.joined))), ("Priority", "0"), *tail])
        return list_reply(action_id, "Queue status will follow", items, "QueueStatusComplete")

    async def summary(self, session: Session, request: Request, msg: Pairs) -> list[Pairs]:
        action_id = header(msg, "ActionID")
        tail = [("ActionID", action_id)] if action_id else []
        items: list[Pairs] = []
        for queue in self._selected(msg):
            present = [m for m in queue.members.values() if m.status not in (INVALID, UNAVAILABLE)]
            # member_status_available: not in use, or unknown
            available = [m for m in present
                         if m.status in (NOT_INUSE, UNKNOWN) and not m.paused]
            waits = [self._seconds(c.joined) for c in queue.callers]
            items.append([
                ("Event", "QueueSummary"), ("Queue", queue.name), ("LoggedIn", str(len(present))),
                ("Available", str(len(available))), ("Callers", str(len(queue.callers))),
                ("HoldTime", str(int(queue.holdtime))), ("TalkTime", str(int(queue.talktime))),
                ("LongestHoldTime", str(max(waits, default=0))), *tail])
        return list_reply(action_id, "Queue summary will follow", items, "QueueSummaryComplete")

    def _members(self, msg: Pairs, interface: str) -> list[tuple[Queue, Member]]:
        """The member ``interface`` in the named queue, or in every queue without one."""
        return [(q, q.members[interface.lower()]) for q in self._selected(msg)
                if interface.lower() in q.members]

    async def add(self, session: Session, request: Request, msg: Pairs) -> list[Pairs]:
        action_id = header(msg, "ActionID")
        name, interface = header(msg, "Queue"), header(msg, "Interface")
        if not name:
            return [error(action_id, "'Queue' not specified.")]
        if not interface:
            return [error(action_id, "'Interface' not specified.")]
        queue = self.queues.find(name)
        if queue is None:
            return [error(action_id, "Unable to add interface to queue: No such queue")]
        if interface.lower() in queue.members:
            return [error(action_id, "Unable to add interface: Already there")]
        penalty = header(msg, "Penalty")
        member = queue.add(interface, int(penalty) if penalty.isdigit() else 0,
                           header(msg, "MemberName"), header(msg, "StateInterface"),
                           dynamic=True, paused=is_true(header(msg, "Paused")),
                           reason=header(msg, "Reason"), now=time.time())
        member.status = self.queues.initial_status(member)
        self.queues.member_event("QueueMemberAdded", queue, member, forwarded=True)
        return [response("Success", action_id, [("Message", "Added interface to queue")])]

    async def remove(self, session: Session, request: Request, msg: Pairs) -> list[Pairs]:
        action_id = header(msg, "ActionID")
        name, interface = header(msg, "Queue"), header(msg, "Interface")
        if not name or not interface:
            return [error(action_id, "Need 'Queue' and 'Interface' parameters.")]
        queue = self.queues.find(name)
        if queue is None:
            return [error(action_id, "Unable to remove interface from queue: No such queue")]
        member = queue.members.get(interface.lower())
        if member is None:
            return [error(action_id, "Unable to remove interface: Not there")]
        if not member.dynamic:
            return [error(action_id, "Member not dynamic")]
        del queue.members[interface.lower()]
        self.queues.member_event("QueueMemberRemoved", queue, member, forwarded=True)
        return [response("Success", action_id, [("Message", "Removed interface from queue")])]

    async def pause(self, session: Session, request: Request, msg: Pairs) -> list[Pairs]:
        action_id = header(msg, "ActionID")
        interface, paused = header(msg, "Interface"), header(msg, "Paused")
        if not interface or not paused:
            return [error(action_id, "Need 'Interface' and 'Paused' parameters.")]
        found = self._members(msg, interface)
        if not found:
            return [error(action_id, "Interface not found")]
        on = is_true(paused)
        for queue, member in found:  # set_member_paused: LastPause tells when it paused
            member.paused, member.reason = on, header(msg, "Reason") if on else ""
            if on:
                member.lastpause = time.time()
            self.queues.member_event("QueueMemberPause", queue, member, forwarded=True)
        text = "Interface paused successfully" if on else "Interface unpaused successfully"
        return [response("Success", action_id, [("Message", text)])]

    async def penalty(self, session: Session, request: Request, msg: Pairs) -> list[Pairs]:
        action_id = header(msg, "ActionID")
        interface, penalty = header(msg, "Interface"), header(msg, "Penalty")
        if not interface or not penalty:
            return [error(action_id, "Need 'Interface' and 'Penalty' parameters.")]
        found = self._members(msg, interface)
        if not penalty.isdigit() or not found:
            return [error(action_id, "Invalid interface, queuename or penalty")]
        for queue, member in found:
            member.penalty = int(penalty)
            self.queues.member_event("QueueMemberPenalty", queue, member, forwarded=True)
        return [response("Success", action_id, [("Message", "Interface penalty set successfully")])]

    async def ringinuse(self, session: Session, request: Request, msg: Pairs) -> list[Pairs]:
        action_id = header(msg, "ActionID")
        interface, value = header(msg, "Interface"), header(msg, "RingInUse")
        if not interface or not value:
            return [error(action_id, "Need 'Interface' and 'RingInUse' parameters.")]
        if not is_true(value) and not is_false(value):
            return [error(action_id, "'RingInUse' parameter must be a truth value (yes/no, on/off, "
                                     "0/1, etc)")]
        found = self._members(msg, interface)
        if not found:
            return [error(action_id, "Invalid interface, queuename, or ringinuse value\n")]
        for queue, member in found:
            member.ringinuse = is_true(value)
            self.queues.member_event("QueueMemberRinginuse", queue, member, forwarded=True)
        return [response("Success", action_id,
                         [("Message", "Interface ringinuse set successfully")])]

    async def log(self, session: Session, request: Request, msg: Pairs) -> list[Pairs]:
        action_id = header(msg, "ActionID")
        if not header(msg, "Queue") or not header(msg, "Event"):
            return [error(action_id, "Need 'Queue' and 'Event' parameters.")]
        # ast_queue_log writes queue_log, which AMI does not show
        return [response("Success", action_id, [("Message", "Event added successfully")])]

    async def reset(self, session: Session, request: Request, msg: Pairs) -> list[Pairs]:
        action_id = header(msg, "ActionID")
        selected = self._selected(msg)
        if not selected:
            return [error(action_id, "Error encountered while resetting queue stats")]
        for queue in selected:
            queue.reset()
        return [response("Success", action_id, [("Message", "Queue stats reset successfully")])]


def queue_show(pbx: PBX, name: str | None) -> list[str]:
    """``queue show [name]`` (``__queues_show``): the output lines, every queue or one.

    An unknown queue gets Asterisk's ``No such queue`` line. The numbers (hold and talk
    time, counts, service levels, seconds ago) are in PBX time."""
    queues = [q for q in pbx.queues.queues.values()
              if name is None or q.name.lower() == name.lower()]
    if name is not None and not queues:
        return [f"No such queue: {name}.", ""]
    now = time.time()

    def ago(since: float) -> int:
        return int((now - since) * pbx.speed)

    lines: list[str] = []
    for queue in queues:
        params = dict(queue.params())
        lines.append(
            f"{queue.name} has {len(queue.callers)} calls "
            f"(max {queue.maxlen or 'unlimited'}) in '{queue.strategy}' strategy "
            f"({params['Holdtime']}s holdtime, {params['TalkTime']}s talktime), "
            f"W:{queue.weight}, C:{queue.completed}, A:{queue.abandoned}, "
            f"SL:{params['ServicelevelPerf']}%, SL2:{params['ServicelevelPerf2']}% "
            f"within {queue.servicelevel}s")
        lines.append("   Members: " if queue.members else "   No Members")
        for member in queue.ordered():
            text = f"      {member.name}"
            if member.name != member.interface:
                text += f" ({member.interface}"
                if member.state_interface != member.interface:
                    text += f" from {member.state_interface}"
                text += ")"
            if member.penalty:
                text += f" with penalty {member.penalty}"
            text += f" (ringinuse {'enabled' if member.ringinuse else 'disabled'})"
            text += " (dynamic)" if member.dynamic else ""
            text += " (in call)" if member.in_call else ""
            if member.paused:
                reason = f":{member.reason}" if member.reason else ""
                text += f" (paused{reason} was {ago(member.lastpause)} secs ago)"
            text += f" ({STATE_WORDS.get(member.status, 'Unknown')})"
            if member.calls:
                text += f" has taken {member.calls} calls (last was {ago(member.lastcall)} secs ago)"
            else:
                text += " has taken no calls yet"
            lines.append(text + f" (login was {ago(member.logintime)} secs ago)")
        lines.append("   Callers: " if queue.callers else "   No Callers")
        for position, caller in enumerate(queue.callers, 1):
            wait = ago(caller.joined)
            lines.append(f"      {position}. {caller.channel} (wait: {wait // 60}:{wait % 60:02d}, "
                         "prio: 0)")
        lines.append("")
    return [*lines, ""]

