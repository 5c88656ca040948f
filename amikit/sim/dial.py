"""Placing calls: the dial API (main/dial.c) behind Originate and call files, the Dial
application (apps/app_dial.c) with its bridge, and the simulated phones behind PJSIP.

What AMI shows of a dial: ``DialBegin`` once the channel is called, ``DialState`` when it
rings, ``DialEnd`` with the outcome — except that the dial API gives up on an unanswered
channel at its timeout without a DialEnd, the channel's cause then being 19 (``User
alerting, no answer``). ``Dial()`` also sets its variables as ``dial_exec_full`` does: the
eleven it clears when it starts, ``DIALEDPEERNUMBER`` on the callee, ``DIALSTATUS``,
``DIALEDPEERNAME``, ``DIALEDPEERNUMBER`` when answered, the times when the bridge ends; and
the bridge sets ``BRIDGEPEER`` on both sides.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from amikit.sim import perms
from amikit.sim.channel import HANGUP, RINGING, UP, Bridge, Channel
from amikit.sim.dialplan import split_args

if TYPE_CHECKING:
    from amikit.sim.pbx import PBX

__all__ = ["REASON", "Dialer"]

#: OriginateResponse Reason for each dial outcome (``enum ast_control_frame_type`` values).
REASON = {"ANSWER": 4, "BUSY": 5, "CONGESTION": 8, "NOANSWER": 3, "CHANUNAVAIL": 0, "CANCEL": 1}
#: The variables ``dial_exec_full`` clears when Dial starts, in its order.
DIAL_VARIABLES = ("DIALSTATUS", "DIALEDPEERNUMBER", "DIALEDPEERNAME", "ANSWEREDTIME",
                  "ANSWEREDTIME_MS", "DIALEDTIME", "DIALEDTIME_MS", "RINGTIME", "RINGTIME_MS",
                  "PROGRESSTIME", "PROGRESSTIME_MS")
OUTGOING_LINE = "(Outgoing Line)"
Result = Callable[[str, "Channel | None"], None]


def status_for_cause(cause: int) -> str:
    """The DIALSTATUS a dialer reports for a channel that hung up with ``cause``."""
    if cause == 17:
        return "BUSY"
    if cause in (34, 38, 41, 42, 44):
        return "CONGESTION"
    if cause in (1, 3, 27):
        return "CHANUNAVAIL"
    return "NOANSWER"


class Dialer:
    """The PBX's ways of placing a call."""

    def __init__(self, pbx: PBX) -> None:
        self.pbx = pbx
        pbx.apps["dial"] = self.dial_app

    def status_for(self, chan: Channel) -> str:
        return "ANSWER" if chan.state == UP else status_for_cause(chan.hangupcause)

    # -- the dial core ---------------------------------------------------------------
    def indicate(self, chan: Channel, what: int | str) -> None:
        """``ast_indicate``: a Local ``;2`` passes it to ``;1``, where the dialer reads it."""
        target = chan.peer if chan.outbound and chan.peer is not None else chan
        if what == RINGING:
            if target.state != UP:
                self.pbx.set_state(target, RINGING)
            if not target.ringing and target.outcome is not None:
                target.ringing = True
                asyncio.get_running_loop().call_soon(self._dial_state, target)
        elif target.outcome is not None and not target.outcome.done():
            target.outcome.set_result(str(what))

    def _dial_state(self, callee: Channel) -> None:
        if callee.outcome is not None and not callee.outcome.done():
            head = callee.dialer.state_headers() if callee.dialer else []
            self.pbx.emit("DialState", perms.CALL, [*head, *callee.state_headers("Dest"),
                                                    ("DialStatus", "RINGING")])

    def place(self, callee: Channel, dialstring: str, caller: Channel | None,
              before_begin: Callable[[], None] | None = None) -> bool:
        """``ast_dial_run``'s start: call ``callee`` (``ast_call``) and send its DialBegin
        (``before_begin`` runs just before it). False when the call could not be placed."""
        callee.outcome = asyncio.get_running_loop().create_future()
        callee.dialer = caller
        if not self.pbx.call(callee, dialstring):
            callee.outcome = None
            return False
        if before_begin is not None:
            before_begin()
        head = caller.state_headers() if caller else []
        self.pbx.emit("DialBegin", perms.CALL, [*head, *callee.state_headers("Dest"),
                                                ("DialString", dialstring)])
        return True

    def dial_end(self, callee: Channel, caller: Channel | None, status: str) -> None:
        head = caller.state_headers() if caller else []
        self.pbx.emit("DialEnd", perms.CALL, [*head, *callee.state_headers("Dest"),
                                              ("DialStatus", status)])

    async def dial(self, callee: Channel, dialstring: str, timeout: float | None,
                   caller: Channel | None,
                   before_end: Callable[[str], None] | None = None) -> str:
        """Call ``callee`` and wait until it answers, fails or ``timeout`` (PBX seconds)."""
        if not self.place(callee, dialstring, caller):
            return "CHANUNAVAIL"
        return await self.outcome(callee, timeout, caller, before_end)

    async def outcome(self, callee: Channel, timeout: float | None, caller: Channel | None,
                      before_end: Callable[[str], None] | None = None) -> str:
        """Wait for a placed call's outcome: its DialEnd (none when the dial API gives up on
        its own timeout), the callee Up when it answered, hung up when this is cancelled."""
        pbx = self.pbx
        assert callee.outcome is not None
        timed_out = False
        try:
            status = await asyncio.wait_for(asyncio.shield(callee.outcome),
                                            None if timeout is None else timeout / pbx.speed)
        except TimeoutError:
            status, timed_out = "NOANSWER", True
            callee.hangupcause = 19
        except asyncio.CancelledError:
            status = "CANCEL"  # the caller hung up while this rang
            callee.outcome = None
            await pbx.hangup(callee)
            self.dial_end(callee, caller, status)
            raise
        callee.outcome = None
        callee.dialstatus = status
        if status == "ANSWER":
            pbx.set_state(callee, UP)
        if before_end is not None:
            before_end(status)
        if not (timed_out and caller is None):
            self.dial_end(callee, caller, status)
        return status

    async def phone(self, chan: Channel) -> None:
        """A simulated phone behind a PJSIP channel answers, rings out, or refuses."""
        endpoint = chan.endpoint
        assert endpoint is not None
        await self.pbx.sleep(0.05)
        if chan.dead or chan.softhangup:
            return
        behaviour = endpoint.behaviour
        if behaviour in ("busy", "congestion", "reject"):
            chan.hangupcause = {"busy": 17, "congestion": 34, "reject": 21}[behaviour]
            self.indicate(chan, status_for_cause(chan.hangupcause))
            return
        self.indicate(chan, RINGING)
        if behaviour == "noanswer":
            return
        await self.pbx.sleep(endpoint.answer_after)
        if chan.dead or chan.softhangup:
            return
        self.pbx.answer(chan)
        hangup_after = endpoint.hangup_after
        if hangup_after > 0:
            await self.pbx.sleep(hangup_after)
            # the phone hangs up (a BYE): chan_pjsip queues a hangup with a normal clearing
            self.pbx.queue_hangup(chan, 16)

    # -- Originate and call files ----------------------------------------------------
    async def originate(self, target: str, *, context: str | None, exten: str | None,
                        priority: int, app: str | None, data: str, timeout: float,
                        callerid: tuple[str, str], account: str,
                        variables: list[tuple[str, str]], ids: tuple[str | None, str | None],
                        on_result: Result | None = None) -> tuple[str, Channel | None]:
        """``ast_pbx_outgoing_exten`` / ``_app`` through the dial API.

        ``on_result(status, channel)`` is called where Asterisk sends the OriginateResponse:
        after the DialEnd of an answered call, before the call runs; for a failed one, once
        the other half heard of the hangup and before the channel's own Hangup event.
        """
        pbx = self.pbx
        report = on_result or (lambda status, chan: None)
        chan = pbx.request(target, ids=ids)
        if chan is None:
            report("CHANUNAVAIL", None)
            return "CHANUNAVAIL", None
        pbx.processed_calls += 1
        chan.home = chan.cdr_app = ("AppDial2", OUTGOING_LINE)
        chan.appl, chan.data = chan.home
        if callerid[0] or callerid[1]:
            chan.caller_name, chan.caller_num = callerid
            chan.connected_name, chan.connected_num = callerid
            chan.ani = callerid[1]
        chan.accountcode = account
        pbx.publish(chan)
        for name, value in reversed(variables):
            pbx.varset(chan, name, value)
        status = await self.dial(chan, target.partition("/")[2], timeout, None)
        if status == "CHANUNAVAIL":  # ast_call failed: the channel is gone before the report
            await pbx.hangup(chan)
            report(status, chan)
            return status, chan
        if status != "ANSWER":
            await pbx.hangup(chan, before=lambda: report(status, chan))
            return status, chan
        report(status, chan)
        if app:
            chan.task = pbx.spawn(self._run_app(chan, app, data))  # type: ignore[assignment]
        else:
            assert context is not None and exten is not None
            chan.context, chan.exten, chan.priority = context, exten, priority
            pbx.start(chan)
        return status, chan

    async def _run_app(self, chan: Channel, app: str, data: str) -> None:
        """An Originate's Application runs on the channel without a dialplan around it."""
        try:
            await self.pbx.execute(chan, app, data)
        except asyncio.CancelledError:
            if self.pbx.closing:
                raise
            task = asyncio.current_task()
            while task is not None and task.uncancel():
                pass
        chan.task = None
        chan.appl, chan.data = chan.home  # the dial API's AppDial2 again, as CEL shows at the end
        if chan.goto is not None:
            chan.context, chan.exten, chan.priority = chan.goto
            chan.goto, chan.softhangup = None, 0
            self.pbx.start(chan)
            return
        await self.pbx.hangup(chan)

    @staticmethod
    def identify_callee(chan: Channel, callee: Channel, app: str) -> None:
        """What ``dial_exec_full`` and app_queue's ``ring_entry`` give a channel they call: the
        application ``app`` with ``(Outgoing Line)``, party B of the caller's CDR, and — having
        no caller id of its own — the "stored" one: the caller's extension as its number, the
        caller's connected name as its name, and the caller's own caller id as its connected
        line."""
        callee.home = callee.cdr_app = (app, OUTGOING_LINE)
        callee.cdr_party_b = True
        callee.appl, callee.data = callee.home
        callee.caller_num, callee.caller_name = chan.exten, chan.connected_name
        callee.connected_num, callee.connected_name = chan.caller_num, chan.caller_name

    # -- the Dial application ----------------------------------------------------------
    async def dial_app(self, chan: Channel, data: str) -> int | None:
        """``dial_exec_full`` for one destination, with its bridge (``ast_bridge_call``)."""
        pbx = self.pbx
        args = split_args(data)
        target = args[0].split("&")[0].strip()
        timeout = float(args[1]) if len(args) > 1 and args[1].strip() else None
        number = target.partition("/")[2]
        for name in DIAL_VARIABLES:
            pbx.varset(chan, name, "")
        started = time.monotonic()
        callee = pbx.request(target, linkedid=chan.linkedid)
        if callee is None:
            pbx.varset(chan, "DIALSTATUS", "CHANUNAVAIL")
            return None
        pbx.varset(callee, "DIALEDPEERNUMBER", number)
        self.identify_callee(chan, callee, "AppDial")
        callee.exten = chan.exten
        pbx.publish(callee)

        def set_dialstatus(status: str) -> None:
            pbx.varset(chan, "DIALSTATUS", status)
            if status == "ANSWER":
                # the answered callee leaves the caller's extension (its DialEnd shows none,
                # its Newexten comes as it joins the bridge: 20_behaviour/dial_cause21)
                callee.exten = ""
                chan.cdr_peer = callee.name
                pbx.varset(chan, "DIALEDPEERNAME", callee.name)
                pbx.varset(chan, "DIALEDPEERNUMBER", number)

        status = await self.dial(callee, number, timeout, chan, before_end=set_dialstatus)
        if status != "ANSWER":
            if not chan.variables.get("DIALSTATUS"):
                set_dialstatus(status)  # the call failed before it was placed
            await pbx.hangup(callee)
            return None
        answer_time = time.monotonic()
        pbx.answer(chan)
        bridge = self.create_bridge()
        # The caller's own dialer (an Originate's) reports before the members enter the bridge,
        # as the OriginateResponse comes before the BridgeEnters in 20_behaviour/dial_cause21.
        await asyncio.sleep(0)
        pbx.publish(callee)
        self.join(bridge, callee, chan)
        try:
            await bridge.ended.wait()
        except asyncio.CancelledError:  # the caller was hung up while bridged
            await self._dissolve(bridge, first=chan, other=callee)
            self._bridge_ended(chan, started, answer_time)
            raise
        if chan.goto is not None or callee.goto is not None:
            self.clear_peers(callee, chan)
            self.leave(chan)
            # the CDR of the bridged call ends here; the redirected dialplan starts another
            chan.cdr_segments.append((chan.cdr_peer, chan.cdr_app))
            chan.cdr_peer = ""
            pbx.varset(chan, "DIALSTATUS", "ANSWER")
            asyncio.get_running_loop().call_soon(self._after_bridge, bridge, callee)
            return None
        first, other = (chan, callee) if chan.softhangup else (callee, chan)
        await self._dissolve(bridge, first=first, other=other)
        self._bridge_ended(chan, started, answer_time)
        return HANGUP

    def _bridge_ended(self, chan: Channel, started: float, answer_time: float) -> None:
        """After a bridged Dial: its times and DIALSTATUS (``dial_exec_full``)."""
        now, speed = time.monotonic(), self.pbx.speed  # in PBX time, like every duration
        elapsed, talked = (now - started) * speed, (now - answer_time) * speed
        for name, value in (("ANSWEREDTIME", str(int(talked))),
                            ("ANSWEREDTIME_MS", str(int(talked * 1000))),
                            ("DIALEDTIME", str(int(elapsed))),
                            ("DIALEDTIME_MS", str(int(elapsed * 1000))), ("DIALSTATUS", "ANSWER")):
            self.pbx.varset(chan, name, value)

    async def _dissolve(self, bridge: Bridge, *, first: Channel, other: Channel) -> None:
        """A member hung up: both leave, and a member without a dialplan of its own ends.

        A member the bridge ends under, with no cause of its own yet, ends with a normal
        clearing (16), whoever left first (20_behaviour/dial_cause21, 05_originate/200).
        """
        self.clear_peers(first, other)
        for member in (first, other):
            if not member.hangupcause:
                member.hangupcause = 16
        for member in (first, other):
            self.leave(member)
            if not member.in_pbx and member.task is None and not member.dead:
                await self.pbx.hangup(member)
        self.destroy(bridge)

    def _after_bridge(self, bridge: Bridge, callee: Channel) -> None:
        self.leave(callee)
        if callee.goto is not None:
            callee.context, callee.exten, callee.priority = callee.goto
            callee.goto = None
            callee.cdr_party_b = False  # running a dialplan of its own, it is party A now
            self.pbx.start(callee)
        elif not callee.dead:
            self.pbx.spawn(self.pbx.hangup(callee))
        self.destroy(bridge)

    def create_bridge(self) -> Bridge:
        """``ast_bridge_basic_new``: a two-party bridge and its BridgeCreate."""
        bridge = Bridge(self.pbx.bridge_id())
        self.pbx.emit("BridgeCreate", perms.CALL, bridge.block())
        return bridge

    def join(self, bridge: Bridge, callee: Channel, caller: Channel) -> None:
        """Both parties enter, the callee first, then each learns the other's name
        (``set_bridge_peer_vars_2party``: BRIDGEPEER)."""
        for member in (callee, caller):
            self.enter(bridge, member)
        self.pbx.varset(callee, "BRIDGEPEER", caller.name)
        self.pbx.varset(caller, "BRIDGEPEER", callee.name)

    def clear_peers(self, *members: Channel) -> None:
        """The bridge is breaking up: BRIDGEPEER is emptied on every member still there."""
        for member in members:
            if not member.dead:
                self.pbx.varset(member, "BRIDGEPEER", "")

    def enter(self, bridge: Bridge, chan: Channel) -> None:
        bridge.members.append(chan)
        chan.bridge = bridge
        self.pbx.emit("BridgeEnter", perms.CALL, [*bridge.block(), *chan.state_headers()])
        self.pbx.cel(chan, "BRIDGE_ENTER", bridge.cel_extra())

    def leave(self, chan: Channel) -> None:
        bridge = chan.bridge
        if bridge is None:
            return
        bridge.members.remove(chan)
        chan.bridge = None
        self.pbx.emit("BridgeLeave", perms.CALL, [*bridge.block(), *chan.state_headers()])
        self.pbx.cel(chan, "BRIDGE_EXIT", bridge.cel_extra())

    def destroy(self, bridge: Bridge) -> None:
        if not bridge.members:
            self.pbx.emit("BridgeDestroy", perms.CALL, bridge.block())

