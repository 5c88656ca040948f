"""The Queue application (apps/app_queue.c ``queue_exec``) and the events of queue members.

A caller's life in a queue, as AMI shows it (``20_behaviour/queue_answered``,
``queue_abandon``):

- ``queue_exec`` clears ANSWEREDTIME(_MS), DIALEDTIME(_MS) and QUEUEWAIT(_MS); ``join_queue``
  refuses a full queue (QUEUESTATUS=FULL) or an empty one under ``joinempty``
  (JOINEMPTY), else sends ``QueueCallerJoin`` and the caller hears music on hold;
- ``wait_our_turn`` checks once a second (``RECHECK``) whether the caller may ring members
  (``is_our_turn``: the head caller for ringall), ``try_calling`` rings them
  (``ring_entry``: each member's channel gets ``AppQueue``, the caller's extension and the
  stored caller id, then ``AgentCalled`` and ``DialBegin``); a member that does not answer
  within the queue's ``timeout`` gets ``AgentRingNoAnswer`` (``rna``) and the caller waits
  ``retry`` seconds;
- the first member to answer wins: the others get ``DialEnd CANCEL`` (twice, as every real
  run shows) and are hung up with cause 26 (answered elsewhere, ``hangupcalls``); the caller's
  music stops, ``QueueCallerLeave`` and QUEUEPOSITION/QUEUEWAIT(_MS) come before
  ``AgentConnect`` (HoldTime, RingTime) and the bridge; when it ends, ``AgentComplete``
  (HoldTime, TalkTime, Reason ``agent``/``caller``), the times, and the caller's dialplan
  ends;
- a caller who hangs up while waiting: QUEUEWAIT(_MS), DIALEDTIME(_MS), ANSWEREDTIME(_MS),
  ABANDONED=TRUE, ``QueueCallerAbandon``, ``QueueCallerLeave``, QUEUEPOSITION
  (``record_abandoned``, ``leave_queue``); the queue's own timeout ends the wait the same way
  but with QUEUESTATUS=TIMEOUT (``leavewhenempty``: LEAVEEMPTY), and the dialplan goes on.

Members' ``QueueMemberStatus`` follows their device's state (``device_state_cb``).
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import TYPE_CHECKING

from amikit.sim import perms
from amikit.sim.channel import HANGUP, UP, Bridge, Channel
from amikit.sim.dialplan import split_args
from amikit.sim.queue_model import DEVICE_STATES, INVALID, NOT_INUSE, Caller, Member, Queue
from amikit.sim.replies import atoi

if TYPE_CHECKING:
    from amikit.sim.pbx import PBX

__all__ = ["Queues"]

# wall-clock seconds: an approximation of the forwarder's hop, long enough that a quick series
# of actions is answered first on a loaded machine too (all five runs of queue_actions)
FORWARD_DELAY = 0.25
RECHECK = 1.0  # wait_our_turn polls this often (seconds)
ANSWERED_ELSEWHERE = 26
TIME_VARIABLES = ("ANSWEREDTIME", "ANSWEREDTIME_MS", "DIALEDTIME", "DIALEDTIME_MS", "QUEUEWAIT",
                  "QUEUEWAIT_MS")


class Queues:
    """The PBX's queues, read from ``queues.conf``, and the Queue application."""

    def __init__(self, pbx: PBX) -> None:
        self.pbx = pbx
        self.rng = random.Random(pbx.seed)
        self.queues: dict[str, Queue] = {}
        for section in pbx.config.queues:
            if section.name != "general" and not section.template:
                self.queues[section.name] = Queue.from_section(section, pbx.config.queues_path)
        for queue in self.queues.values():
            for member in queue.members.values():
                member.status = self.initial_status(member)
        pbx.apps["queue"] = self.queue_app

    def initial_status(self, member: Member) -> int:
        """A member's state before any call: a Local member whose extension does not exist,
        or a phone not configured, is invalid (4), else not in use (1)."""
        tech, _, rest = member.device.partition("/")
        if tech.lower() == "local":
            exten, _, context = rest.partition("@")
            exists = self.pbx.dialplan.exists(context or "default", exten)
            return NOT_INUSE if exists else INVALID
        return NOT_INUSE if rest in self.pbx.config.endpoints else INVALID

    # -- members' events -------------------------------------------------------------
    def member_event(self, name: str, queue: Queue, member: Member, *, forwarded: bool = False
                     ) -> None:
        """A member's event. ``forwarded``: one an action causes, which reaches the manager
        through app_queue's topic forwarder (``stasis_forward_all``) after the action's
        reply (``20_behaviour/queue_actions``: every reply comes before the first event)."""
        body = member.blob(queue.name)
        if forwarded:  # stamped when it happened, delivered a moment later
            at = self.pbx.bus.clock()
            asyncio.get_running_loop().call_later(
                FORWARD_DELAY, lambda: self.pbx.emit(name, perms.AGENT, body, at=at))
        else:
            self.pbx.emit(name, perms.AGENT, body)

    def device_changed(self, device: str, state: str) -> None:
        """``device_state_cb``: members on ``device`` take its state; a change is published.

        A Local device is in use while any channel of it lives (``local_devicestate``), though
        each half reports on its own."""
        if device.startswith("Local/") and state != "INVALID":
            alive = any(c.device == device and not c.dead for c in self.pbx.channels.values())
            state = "INUSE" if alive else "NOT_INUSE"
        status = DEVICE_STATES.get(state, 0)
        for queue in self.queues.values():
            for member in queue.ordered():
                if member.device == device and member.status != status:
                    member.status = status
                    self.member_event("QueueMemberStatus", queue, member)

    def find(self, name: str) -> Queue | None:
        """A queue by name, in any case (app_queue compares names with ``strcasecmp``)."""
        return self.queues.get(name) or next(
            (q for q in self.queues.values() if q.name.lower() == name.lower()), None)

    def is_waiting(self, chan: Channel) -> bool:
        """Whether ``chan`` (or, for a Local ``;1``, its ``;2``) waits in a queue unanswered."""
        names = {chan.name, chan.peer.name if chan.peer is not None else ""}
        return any(c.channel in names for q in self.queues.values() for c in q.callers)

    # -- the application -------------------------------------------------------------
    async def queue_app(self, chan: Channel, data: str) -> int | None:
        """``queue_exec``: ``Queue(name[,options[,URL[,announce[,timeout]]]])``."""
        pbx = self.pbx
        args = [a.strip() for a in split_args(data)] + [""] * 5
        queue = self.find(args[0])
        options = args[1]
        # queue_exec: expire = start + atoi(timeout), so a timeout that is no number is 0
        deadline = time.time() + atoi(args[4]) / pbx.speed if args[4] else None
        for name in TIME_VARIABLES:
            pbx.varset(chan, name, "")
        if queue is None:
            pbx.varset(chan, "QUEUESTATUS", "UNKNOWN")
            return None
        if queue.maxlen and len(queue.callers) >= queue.maxlen:
            pbx.varset(chan, "QUEUESTATUS", "FULL")
            return None
        if queue.empty(queue.joinempty, time.time(), pbx.speed):
            pbx.varset(chan, "QUEUESTATUS", "JOINEMPTY")
            return None
        caller = Caller(chan.name, time.time(), len(queue.callers) + 1)
        queue.callers.append(caller)
        pbx.emit("QueueCallerJoin", perms.AGENT, [
            *chan.state_headers(), ("Queue", queue.name),
            ("Position", str(caller.original_position)), ("Count", str(len(queue.callers)))])
        pbx.moh.start(chan, queue.musicclass)
        call = _Call(self, queue, caller, chan)
        try:
            status = await call.wait(deadline)
        except asyncio.CancelledError:
            await call.stop_ringing()
            if call.bridge is None:
                self._abandon(queue, caller, chan)
            raise
        if status == "CONNECTED":
            if "c" not in options:  # the 'c' option: go on in the dialplan
                return HANGUP
            pbx.varset(chan, "QUEUESTATUS", "CONTINUE")
            return None
        self._abandon(queue, caller, chan, status)
        return None

    def _times(self, chan: Channel, caller: Caller) -> None:
        """QUEUEWAIT in whole seconds (its _MS a multiple of 1000) and DIALEDTIME since the
        channel was made, as ``queue_exec`` sets them when a caller leaves unanswered."""
        wait = int(_elapsed(self.pbx, caller.joined))
        dialed = _elapsed(self.pbx, chan.created)
        for name, value in (("QUEUEWAIT", wait), ("QUEUEWAIT_MS", wait * 1000),
                            ("DIALEDTIME", int(dialed)), ("DIALEDTIME_MS", int(dialed * 1000))):
            self.pbx.varset(chan, name, str(value))

    def leave_queue(self, queue: Queue, caller: Caller, chan: Channel) -> None:
        """``leave_queue``: the music stops and QueueCallerLeave tells the position left."""
        self.pbx.moh.stop(chan)
        position = queue.position_of(caller.channel)
        if caller in queue.callers:
            queue.callers.remove(caller)
        self.pbx.emit("QueueCallerLeave", perms.AGENT, [
            *chan.state_headers(), ("Queue", queue.name), ("Position", str(position)),
            ("Count", str(len(queue.callers)))])
        self.pbx.varset(chan, "QUEUEPOSITION", str(position))

    def _abandon(self, queue: Queue, caller: Caller, chan: Channel, status: str = "") -> None:
        """``queue_exec``'s end without an answer: the times, ``record_abandoned``
        (ABANDONED=TRUE, QueueCallerAbandon) — for a hang-up and for the queue's own exits
        alike — then ``set_queue_result`` (QUEUESTATUS, not for a hang-up) and
        ``leave_queue``. A redirected caller is not abandoned."""
        pbx = self.pbx
        pbx.moh.stop(chan)
        self._times(chan, caller)
        pbx.varset(chan, "ANSWEREDTIME", "0")
        pbx.varset(chan, "ANSWEREDTIME_MS", "0")
        if chan.goto is None:
            pbx.varset(chan, "ABANDONED", "TRUE")
            queue.abandoned_call(int(_elapsed(self.pbx, caller.joined)))
            pbx.emit("QueueCallerAbandon", perms.AGENT, [
                *chan.state_headers(), ("Queue", queue.name),
                ("Position", str(queue.position_of(caller.channel))),
                ("OriginalPosition", str(caller.original_position)),
                ("HoldTime", str(int(_elapsed(self.pbx, caller.joined))))])
        if status:
            pbx.varset(chan, "QUEUESTATUS", status)
        self.leave_queue(queue, caller, chan)


class _Call:
    """One caller's rounds of ringing members, and the bridge with the one who answers."""

    def __init__(self, queues: Queues, queue: Queue, caller: Caller, chan: Channel) -> None:
        self.queues, self.queue, self.caller, self.chan = queues, queue, caller, chan
        self.pbx = queues.pbx
        self.ringing: dict[Channel, tuple[Member, float]] = {}
        self.bridge: Bridge | None = None

    async def wait(self, deadline: float | None) -> str:
        """Wait for a turn and ring, round after round, until connected or out of time."""
        queue, pbx = self.queue, self.pbx
        while True:
            if deadline is not None and time.time() >= deadline:
                return "TIMEOUT"
            if queue.empty(queue.leavewhenempty, time.time(), pbx.speed):
                return "LEAVEEMPTY"
            members = self._turn()
            if not members:
                await pbx.sleep(_until(deadline, RECHECK, pbx.speed))
                continue
            answered = await self._ring(members, deadline)
            if answered is not None:
                await self._connect(*answered)
                return "CONNECTED"
            await pbx.sleep(_until(deadline, queue.retry, pbx.speed))

    def _turn(self) -> list[Member]:
        """``is_our_turn`` and ``ring_one``: whom to ring, when it is this caller's turn."""
        queue = self.queue
        now = time.time()
        ringable = queue.ringable(now, self.pbx.speed)
        available = 1 if queue.strategy == "ringall" and ringable else len(ringable)
        if queue.position_of(self.caller.channel) > available:
            return []
        return queue.pick(ringable, self.queues.rng, now)

    async def _ring(self, members: list[Member], deadline: float | None
                    ) -> tuple[Member, Channel, float] | None:
        """``ring_entry`` for each member, then ``wait_for_answer`` for one round."""
        pbx, chan = self.pbx, self.chan
        started = time.time()
        for member in members:
            callee = pbx.request(member.interface, linkedid=chan.linkedid)
            if callee is None:
                continue
            pbx.dial.identify_callee(chan, callee, "AppQueue")
            pbx.publish(callee)
            number = member.interface.partition("/")[2]
            pbx.varset(callee, "DIALEDPEERNUMBER", number)
            placed = pbx.dial.place(callee, number, chan, before_begin=lambda m=member, c=callee:
                                    self._called(m, c))
            # ring_entry: the member inherits the caller's extension (its next snapshot shows it)
            callee.exten = chan.exten
            if placed:
                member.ringing = True
                self.ringing[callee] = (member, time.time())
            else:
                await pbx.hangup(callee)
        # try_calling: a member timeout of 0 rings until the caller's own time is up
        timeout = self.queue.timeout or None
        if deadline is not None:
            left = max(0.0, (deadline - time.time()) * pbx.speed)
            timeout = left if timeout is None else min(timeout, left)
        end = None if timeout is None else started + timeout / pbx.speed
        while self.ringing:
            futures = {callee.outcome: callee for callee in self.ringing
                       if callee.outcome is not None}
            if not futures:
                break
            wait = None if end is None else max(0.0, end - time.time())
            done, _ = await asyncio.wait(list(futures), timeout=wait,
                                         return_when=asyncio.FIRST_COMPLETED)
            if not done:
                break
            for future in done:
                callee = futures[future]
                if future.result() == "ANSWER":
                    member, rung = self.ringing.pop(callee)
                    return member, callee, rung
                await self._failed(callee, future.result())
        for callee in list(self.ringing):  # rna(orig, …): the whole ring timeout
            await self._failed(callee, "NOANSWER", ring_ms=int((timeout or 0) * 1000))
        return None

    def _called(self, member: Member, callee: Channel) -> None:
        self.pbx.emit("AgentCalled", perms.AGENT, [
            *self.chan.state_headers(), *callee.state_headers("Dest"),
            ("Queue", self.queue.name), ("Interface", member.interface),
            ("MemberName", member.name)])

    async def _failed(self, callee: Channel, status: str, ring_ms: int | None = None) -> None:
        """``rna``: a member that did not answer (no answer in time, busy, gone); its
        RingTime is the ring timeout, or how long it rang before it refused."""
        member, rung = self.ringing.pop(callee)
        member.ringing = False
        callee.outcome = None
        self.pbx.emit("AgentRingNoAnswer", perms.AGENT, [
            *self.chan.state_headers(), *callee.state_headers("Dest"),
            ("Queue", self.queue.name), ("Interface", member.interface),
            ("MemberName", member.name),
            ("RingTime", str(int(_elapsed(self.pbx, rung) * 1000) if ring_ms is None
                             else ring_ms))])
        self.pbx.dial.dial_end(callee, self.chan, status)
        await self.pbx.hangup(callee)

    async def stop_ringing(self, cause: int = 0) -> None:
        """``hangupcalls``: every member still ringing is cancelled and hung up."""
        for callee in list(self.ringing):
            member, _ = self.ringing.pop(callee)
            member.ringing = False
            callee.outcome = None
            for _ in range(2):  # hangupcalls and the dial's own end each publish one
                self.pbx.dial.dial_end(callee, self.chan, "CANCEL")
            if cause:
                callee.hangupcause = cause
            await self.pbx.hangup(callee)

    async def _connect(self, member: Member, callee: Channel, rung: float) -> None:
        """``try_calling`` after an answer: the others hung up, the caller leaves the queue,
        AgentConnect, the bridge, and AgentComplete when it ends."""
        pbx, chan, queue, caller, queues = self.pbx, self.chan, self.queue, self.caller, self.queues
        member.ringing = False
        callee.outcome = None
        callee.dialstatus = "ANSWER"
        pbx.set_state(callee, UP)
        pbx.dial.dial_end(callee, chan, "ANSWER")
        try:
            await self.stop_ringing(ANSWERED_ELSEWHERE)
        except asyncio.CancelledError:  # the caller went meanwhile: so does the one who answered
            await pbx.hangup(callee)
            raise
        hold = int(_elapsed(pbx, caller.joined))
        in_sl = queue.connected(hold)
        queues.leave_queue(queue, caller, chan)
        pbx.varset(chan, "QUEUEWAIT", str(hold))
        pbx.varset(chan, "QUEUEWAIT_MS", str(hold * 1000))
        ring_time = int(_elapsed(pbx, rung))
        pbx.emit("AgentConnect", perms.AGENT, [
            *chan.state_headers(), *callee.state_headers("Dest"), ("Queue", queue.name),
            ("Interface", member.interface), ("MemberName", member.name),
            ("HoldTime", str(hold)), ("RingTime", str(ring_time))])
        member.in_call = True
        connected = time.time()
        bridge = self.bridge = pbx.dial.create_bridge()
        pbx.dial.join(bridge, callee, chan)
        try:
            await bridge.ended.wait()
        except asyncio.CancelledError:
            await self._complete(member, callee, hold, connected, "caller", in_sl)
            raise
        reason = "caller" if chan.softhangup else "agent"
        await self._complete(member, callee, hold, connected, reason, in_sl)

    async def _complete(self, member: Member, callee: Channel, hold: int, connected: float,
                        reason: str, in_sl: bool) -> None:
        pbx, chan, queue = self.pbx, self.chan, self.queue
        bridge = self.bridge
        assert bridge is not None
        pbx.dial.clear_peers(callee, chan)
        for party in (callee, chan):
            pbx.dial.leave(party)
        talk = _elapsed(pbx, connected)
        pbx.emit("AgentComplete", perms.AGENT, [
            *chan.state_headers(), *callee.state_headers("Dest"), ("Queue", queue.name),
            ("Interface", member.interface), ("MemberName", member.name),
            ("HoldTime", str(hold)), ("TalkTime", str(int(talk))), ("Reason", reason)])
        member.in_call = False
        member.calls += 1
        member.lastcall = time.time()
        queue.completed_call(int(talk), in_sl)
        if not callee.hangupcause:
            callee.hangupcause = 16
        if not chan.hangupcause:
            chan.hangupcause = 16
        await pbx.hangup(callee)
        dialed = _elapsed(pbx, chan.created)
        for name, value in (("ANSWEREDTIME", str(int(talk))),
                            ("ANSWEREDTIME_MS", str(int(talk * 1000))),
                            ("DIALEDTIME", str(int(dialed))),
                            ("DIALEDTIME_MS", str(int(dialed * 1000)))):
            pbx.varset(chan, name, value)
        pbx.dial.destroy(bridge)


def _elapsed(pbx: PBX, since: float) -> float:
    """PBX seconds since the wall-clock time ``since``."""
    return (time.time() - since) * pbx.speed


def _until(deadline: float | None, seconds: float, speed: float) -> float:
    """``seconds`` of PBX time, cut short at ``deadline`` (wall clock)."""
    if deadline is None:
        return seconds
    return max(0.0, min(seconds, (deadline - time.time()) * speed))
