"""A small PBX: channels, Local pairs, simulated phones, bridges, a dialplan interpreter.

Enough of Asterisk to run the book's flows and the lab dialplan: Originate (Exten or
Application form, sync or Async), Dial of ``Local/…`` and ``PJSIP/…``, bridges, Redirect
(one channel or two), Hangup with a cause, variables and functions, UserEvent, the ``h``
extension, and the events a real Asterisk 23 sends for them, with its header names,
header order and classes (Newchannel, Newstate, Newexten, VarSet, NewCallerid,
NewConnectedLine, LocalBridge, DialBegin/DialState/DialEnd, Bridge*, HangupRequest,
SoftHangupRequest, Hangup, OriginateResponse, UserEvent, Cdr, CEL, DeviceStateChange).

``speed`` scales the PBX's own durations (Wait, Playback, ringing, timeouts); protocol
timers stay in real seconds. ``seed`` makes ids and timings reproducible.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from amikit.protocol import is_true
from amikit.sim import perms
from amikit.sim.config import Endpoint, SimConfig
from amikit.sim.dialplan import Dialplan, split_args, substitute
from amikit.sim.events import EventBus
from amikit.sim.manager import Manager, Request, Session, _error, _header, _response

__all__ = ["PBX"]

log = logging.getLogger("amikit.sim")

Pairs = list[tuple[str, str]]

STATES = {0: "Down", 1: "Rsrvd", 2: "OffHook", 3: "Dialing", 4: "Ring", 5: "Ringing", 6: "Up",
          7: "Busy", 8: "Dialing Offhook", 9: "Pre-ring"}
CAUSES = {0: "Unknown", 1: "Unallocated (unassigned) number", 3: "No route to destination",
          16: "Normal Clearing", 17: "User busy", 18: "No user responding",
          19: "User alerting, no answer", 21: "Call Rejected", 27: "Destination out of order",
          34: "Circuit/channel congestion", 38: "Network out of order", 41: "Temporary failure"}
REASON = {"ANSWER": 4, "BUSY": 5, "CONGESTION": 8, "NOANSWER": 3, "CHANUNAVAIL": 0, "CANCEL": 1}
DISPOSITION = {"ANSWER": "ANSWERED", "BUSY": "BUSY", "CONGESTION": "CONGESTION",
               "NOANSWER": "NO ANSWER", "CHANUNAVAIL": "FAILED", "CANCEL": "NO ANSWER"}
SOUNDS = {"beep": 0.44, "hello-world": 1.42, "vm-goodbye": 0.92, "tt-monkeys": 7.0,
          "demo-congrats": 6.3}
#: Originate applications that need the system class (``originate_app_permissions``).
SYSTEM_APPS = ("agi", "exec", "system", "mixmonitor", "originate", "reload", "dbdeltree",
               "externalivr")
SYSTEM_DATA = ("SHELL", "EVAL", "CURL", "DB", "FILE", "ODBC", "REALTIME")


class _Unsupported(Exception):
    pass


@dataclass(eq=False)
class Bridge:
    id: str
    members: list[Channel] = field(default_factory=list)
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    def block(self) -> Pairs:
        return [("BridgeUniqueid", self.id), ("BridgeType", "basic"),
                ("BridgeTechnology", "simple_bridge"), ("BridgeCreator", "<unknown>"),
                ("BridgeName", "<unknown>"), ("BridgeNumChannels", str(len(self.members))),
                ("BridgeVideoSourceMode", "none")]


@dataclass(eq=False)
class Channel:
    """One channel and what the events say of it."""

    name: str
    uniqueid: str
    linkedid: str
    tech: str
    device: str
    context: str
    exten: str
    priority: int = 1
    state: int = 0
    caller_num: str = ""
    caller_name: str = ""
    connected_num: str = ""
    connected_name: str = ""
    language: str = "en"
    accountcode: str = ""
    app: str = ""
    data: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    peer: Channel | None = None  # the other half of a Local pair
    bridge: Bridge | None = None
    task: asyncio.Task[None] | None = None
    outcome: asyncio.Future[str] | None = None
    ringing: bool = False
    goto: tuple[str, str, int] | None = None
    hangup_cause: int | None = None
    hungup: bool = False
    ending: bool = False
    in_dialplan: bool = False
    endpoint: Endpoint | None = None
    created: float = field(default_factory=time.time)
    answered: float | None = None
    userfield: str = ""
    timers: list[asyncio.TimerHandle] = field(default_factory=list)
    dialstatus: str = ""
    dialer: Channel | None = None  # who is dialing this channel, while it rings

    def snapshot(self, prefix: str = "") -> Pairs:
        """``ast_manager_build_channel_state_string_prefix``, in Asterisk's order."""
        pairs = [("Channel", self.name), ("ChannelState", str(self.state)),
                 ("ChannelStateDesc", STATES.get(self.state, "Unknown")),
                 ("CallerIDNum", self.caller_num or "<unknown>"),
                 ("CallerIDName", _escape(self.caller_name) or "<unknown>"),
                 ("ConnectedLineNum", self.connected_num or "<unknown>"),
                 ("ConnectedLineName", _escape(self.connected_name) or "<unknown>"),
                 ("Language", self.language), ("AccountCode", self.accountcode),
                 ("Context", self.context), ("Exten", self.exten),
                 ("Priority", str(self.priority)), ("Uniqueid", self.uniqueid),
                 ("Linkedid", self.linkedid)]
        return [(prefix + n, v) for n, v in pairs]


def _escape(text: str) -> str:
    # snapshot names are C-escaped (ast_escape_c): \" \\ and friends
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _localtime(epoch: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch)) if epoch else ""


def _dialstatus_for_cause(cause: int) -> str:
    if cause == 17:
        return "BUSY"
    if cause in (34, 38, 41, 42, 44):
        return "CONGESTION"
    if cause in (1, 3, 27):
        return "CHANUNAVAIL"
    return "NOANSWER"


class PBX:
    """The simulated PBX; registers its actions with the :class:`Manager`."""

    def __init__(self, config: SimConfig, bus: EventBus, manager: Manager, *,
                 dialplan: Dialplan | None = None, speed: float = 1.0,
                 seed: int | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.config = config
        self.bus = bus
        self.manager = manager
        self.speed = speed
        self.dialplan = dialplan or Dialplan.parse(config.extensions, config.extensions_path)
        self.globals = dict(self.dialplan.globals)
        self.channels: dict[str, Channel] = {}
        self.processed_calls = 0
        self._seq = itertools.count(0)
        self._names = {"Local": itertools.count(0), "PJSIP": itertools.count(0)}
        self._tasks: set[asyncio.Task[object]] = set()
        manager.pbx_actions.update({
            "originate": self.action_originate, "redirect": self.action_redirect,
            "hangup": self.action_hangup, "status": self.action_status,
            "coreshowchannels": self.action_coreshowchannels, "getvar": self.action_getvar,
            "setvar": self.action_setvar, "command": self.action_command,
            "showdialplan": self.action_showdialplan,
        })
        manager.call_counts = lambda: (len({c.linkedid for c in self.channels.values()}),
                                       self.processed_calls)

    # -- plumbing --------------------------------------------------------------------
    def emit(self, name: str, klass: int, body: Pairs) -> None:
        self.bus.publish(name, klass, body)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)

    def spawn(self, coro: Awaitable[object]) -> asyncio.Task[object]:
        task: asyncio.Task[object] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[object]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("simulated PBX task failed", exc_info=task.exception())

    def _uniqueid(self) -> str:
        return f"{int(time.time())}.{next(self._seq)}"

    # -- channels --------------------------------------------------------------------
    def _new_channel(self, name: str, tech: str, device: str, context: str, exten: str,
                     state: int, linkedid: str | None, uniqueid: str | None = None) -> Channel:
        unique = uniqueid or self._uniqueid()
        chan = Channel(name, unique, linkedid or unique, tech, device, context, exten, state=state)
        self.channels[chan.name] = chan
        return chan

    def request(self, target: str, *, linkedid: str | None = None, caller: Channel | None = None,
                ids: tuple[str | None, str | None] = (None, None)) -> Channel | None:
        """Create the outgoing channel for ``Tech/resource`` (None if it cannot exist)."""
        tech, _, resource = target.partition("/")
        if tech.lower() == "local":
            dest, _, _options = resource.partition("/")
            exten, _, context = dest.partition("@")
            context = context or "default"
            if not exten or not self.dialplan.has_context(context):
                return None
            seq = next(self._names["Local"])
            base = f"Local/{exten}@{context}-{seq:08x}"
            one = self._new_channel(base + ";1", "Local", f"Local/{exten}@{context}", context,
                                    exten, 0, linkedid, ids[0])
            two = self._new_channel(base + ";2", "Local", f"Local/{exten}@{context}", context,
                                    exten, 4, one.linkedid, ids[1])
            one.peer, two.peer = two, one
            for chan in (one, two):
                self._inherit(chan, caller)
                self._cel(chan, "CHAN_START")
            for chan in (one, two):
                self.emit("Newchannel", perms.CALL, chan.snapshot())
            one.app, one.data = "AppDial2", "(Outgoing Line)"
            self._newexten(one)
            return one
        if tech.lower() == "pjsip":
            endpoint = self.config.endpoints.get(resource.split("/")[0])
            if endpoint is None:
                return None
            seq = next(self._names["PJSIP"])
            chan = self._new_channel(f"PJSIP/{endpoint.name}-{seq:08x}", "PJSIP",
                                     f"PJSIP/{endpoint.name}", endpoint.context, "s", 0,
                                     linkedid, ids[0])
            chan.endpoint = endpoint
            self._inherit(chan, caller)
            self._cel(chan, "CHAN_START")
            self.emit("Newchannel", perms.CALL, chan.snapshot())
            return chan
        return None

    def _inherit(self, chan: Channel, caller: Channel | None) -> None:
        if caller is None:
            return
        chan.connected_num, chan.connected_name = caller.caller_num, caller.caller_name
        for name, value in caller.variables.items():
            if name.startswith("__"):
                chan.variables[name] = value
            elif name.startswith("_"):
                chan.variables[name[1:]] = value

    def _set_state(self, chan: Channel, state: int) -> None:
        if chan.state == state or chan.hungup:
            return
        chan.state = state
        if state == 6:
            chan.answered = time.time()
            self._cel(chan, "ANSWER")
        self.emit("Newstate", perms.CALL, chan.snapshot())
        self._device_state(chan, {5: "RINGING", 6: "INUSE", 7: "BUSY"}.get(state, "INUSE"))

    def _device_state(self, chan: Channel, state: str) -> None:
        copies = 2 if chan.tech == "Local" else 1  # Asterisk usually sends Local ones twice
        for _ in range(copies):
            self.emit("DeviceStateChange", perms.CALL, [("Device", chan.device), ("State", state)])

    def _newexten(self, chan: Channel) -> None:
        self.emit("Newexten", perms.DIALPLAN, [*chan.snapshot(), ("Extension", chan.exten),
                                               ("Application", chan.app), ("AppData", chan.data)])

    def _varset(self, chan: Channel | None, name: str, value: str) -> None:
        head = chan.snapshot() if chan else [("Channel", "none"), ("Uniqueid", "none")]
        self.emit("VarSet", perms.DIALPLAN, [*head, ("Variable", name), ("Value", _escape(value))])

    def _cel(self, chan: Channel, event: str, extra: str = "", peer: str = "") -> None:
        self.emit("CEL", perms.CALL, [
            ("EventName", event), ("AccountCode", chan.accountcode),
            ("CallerIDnum", chan.caller_num), ("CallerIDname", chan.caller_name),
            ("CallerIDani", chan.caller_num), ("CallerIDrdnis", ""), ("CallerIDdnid", ""),
            ("Exten", chan.exten), ("Context", chan.context), ("Channel", chan.name),
            ("Application", chan.app), ("AppData", chan.data), ("EventTime", _localtime(time.time())),
            ("AMAFlags", "DOCUMENTATION"), ("UniqueID", chan.uniqueid), ("LinkedID", chan.linkedid),
            ("Userfield", chan.userfield), ("Peer", peer), ("PeerAccount", ""), ("Extra", extra)])

    def answer(self, chan: Channel) -> None:
        """Answer a channel; a Local half answers its other half too."""
        if chan.state == 6:
            return
        self._set_state(chan, 6)
        if chan.peer is not None and not chan.peer.hungup:
            self._set_state(chan.peer, 6)
            self._resolve(chan.peer, "ANSWER")
        self._resolve(chan, "ANSWER")

    def _resolve(self, chan: Channel, status: str) -> None:
        if chan.outcome is not None and not chan.outcome.done():
            chan.outcome.set_result(status)

    # -- placing calls ---------------------------------------------------------------
    async def dial(self, callee: Channel, dialstring: str, timeout: float | None,
                   caller: Channel | None) -> str:
        """Ring ``callee`` until it answers, fails or ``timeout`` (seconds); its DialStatus."""
        callee.outcome = asyncio.get_running_loop().create_future()
        callee.dialer = caller
        head = caller.snapshot() if caller else []
        if callee.tech == "Local":
            assert callee.peer is not None
            self.emit("LocalBridge", perms.CALL, [
                *callee.snapshot("LocalOne"), *callee.peer.snapshot("LocalTwo"),
                ("Context", callee.peer.context), ("Exten", callee.peer.exten),
                ("LocalOptimization", "No" if "/n" in dialstring else "Yes")])
        self.emit("DialBegin", perms.CALL, [*head, *callee.snapshot("Dest"),
                                            ("DialString", dialstring)])
        if callee.peer is not None:
            self.start(callee.peer)
        else:
            self.spawn(self._phone(callee))
        try:
            status = await asyncio.wait_for(asyncio.shield(callee.outcome),
                                            None if timeout is None else timeout / self.speed)
        except TimeoutError:
            status = "NOANSWER"
        if caller is not None and status != "ANSWER" and caller.hungup:
            status = "CANCEL"
        self.emit("DialEnd", perms.CALL, [*head, *callee.snapshot("Dest"), ("DialStatus", status)])
        callee.dialstatus = status
        if status != "ANSWER" and not callee.hungup:
            cause = {"BUSY": 17, "CONGESTION": 34, "NOANSWER": 16}.get(status, 16)
            await self.hangup(callee, cause, requested=True)
        return status

    async def _phone(self, chan: Channel) -> None:
        """A simulated phone behind a PJSIP channel answers, rings out, or refuses."""
        endpoint = chan.endpoint
        assert endpoint is not None
        await self.sleep(0.05)
        if chan.hungup:
            return
        behaviour = endpoint.behaviour
        if behaviour in ("busy", "congestion", "reject"):
            cause = {"busy": 17, "congestion": 34, "reject": 21}[behaviour]
            self._resolve(chan, _dialstatus_for_cause(cause))
            chan.hangup_cause = cause
            return
        self._set_state(chan, 5)
        self._ringing(chan)
        if behaviour == "noanswer":
            return
        await self.sleep(endpoint.answer_after)
        if chan.hungup:
            return
        self.answer(chan)
        if endpoint.hangup_after > 0:
            await self.sleep(endpoint.hangup_after)
            if not chan.hungup:
                await self.request_hangup(chan, 16)

    async def originate(self, target: str, *, context: str | None, exten: str | None,
                        priority: int, app: str | None, data: str, timeout: float,
                        callerid: tuple[str, str], account: str, variables: list[tuple[str, str]],
                        ids: tuple[str | None, str | None]) -> tuple[str, Channel | None]:
        """Originate; returns the DialStatus and the channel (None when none could be made)."""
        chan = self.request(target, ids=ids)
        if chan is None:
            return "CHANUNAVAIL", None
        self.processed_calls += 1
        chan.accountcode = account
        for name, value in variables:
            chan.variables[name] = value
        if callerid[0] or callerid[1]:
            for one in (chan, chan.peer) if chan.peer else (chan,):
                one.caller_name, one.caller_num = callerid
                one.connected_name, one.connected_num = callerid
                self.emit("NewCallerid", perms.CALL, [
                    *one.snapshot(), ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")])
                self.emit("NewConnectedLine", perms.CALL, one.snapshot())
        dialstring = target.partition("/")[2]
        status = await self.dial(chan, dialstring, timeout, None)
        if status != "ANSWER":
            return status, chan
        if app:
            chan.context, chan.exten, chan.priority = chan.context, chan.exten, 1
            self.spawn(self._run_app_then_hangup(chan, app, data))
        else:
            assert context is not None and exten is not None
            chan.context, chan.exten, chan.priority = context, exten, priority
            self.start(chan)
        return status, chan

    async def _run_app_then_hangup(self, chan: Channel, app: str, data: str) -> None:
        chan.task = asyncio.current_task()  # type: ignore[assignment]
        cause = 16
        try:
            chan.app, chan.data = app, data
            result = await self.execute(chan, app, data)
            cause = result if isinstance(result, int) else 16
        except asyncio.CancelledError:
            cause = chan.hangup_cause or 16
            if chan.goto is not None:
                self._uncancel()
                chan.task = None
                self.start(chan)
                return
        self._uncancel()
        await self.hangup(chan, cause)

    # -- the dialplan ----------------------------------------------------------------
    def start(self, chan: Channel) -> None:
        """Run ``chan`` through the dialplan from where it stands."""
        chan.in_dialplan = True
        chan.task = self.spawn(self._run(chan))  # type: ignore[assignment]

    @staticmethod
    def _uncancel() -> None:
        task = asyncio.current_task()
        if task is not None:
            while task.uncancel():
                pass

    async def _run(self, chan: Channel) -> None:
        cause = 16
        while True:
            try:
                cause = await self._steps(chan)
                break
            except asyncio.CancelledError:
                self._uncancel()
                if chan.goto is not None and not chan.hungup:
                    chan.context, chan.exten, chan.priority = chan.goto
                    chan.goto = None
                    continue
                cause = chan.hangup_cause or 16
                break
        await self.hangup(chan, cause)

    async def _steps(self, chan: Channel) -> int:
        while not chan.hungup:
            step = self.dialplan.find(chan.context, chan.exten, chan.priority)
            if step is None:
                return 16 if chan.priority > 1 else 1  # fell off the end / no such extension
            chan.app = step.app
            chan.data = substitute(step.data, lambda name, c=chan: self.lookup(c, name))
            self._newexten(chan)
            position = (chan.context, chan.exten, chan.priority)
            try:
                result = await self.execute(chan, chan.app, chan.data)
            except _Unsupported:
                log.warning("amikit sim: application %s is not simulated (%s,%s,%s); hanging up",
                            chan.app, *position)
                return 16
            if isinstance(result, int):
                return result
            if (chan.context, chan.exten, chan.priority) == position:
                chan.priority += 1
        return chan.hangup_cause or 16

    async def execute(self, chan: Channel, app: str, data: str) -> int | None:
        """Run one application; an int return hangs the channel up with that cause."""
        handler = self._apps().get(app.lower())
        if handler is None:
            raise _Unsupported(app)
        return await handler(chan, data)

    def unsupported(self) -> list[str]:
        """Where the dialplan uses an application this simulator does not run."""
        known = self._apps()
        return [f"{ctx.name},{exten},{number}: {step.app}"
                for ctx in self.dialplan.contexts.values()
                for exten, priorities in ctx.extensions.items()
                for number, step in sorted(priorities.items())
                if step.app.lower() not in known]

    def _apps(self) -> dict[str, Callable[[Channel, str], Awaitable[int | None]]]:
        return {
            "noop": self._noop, "verbose": self._noop, "log": self._noop,
            "answer": self._app_answer, "hangup": self._app_hangup, "wait": self._app_wait,
            "playback": self._app_playback, "echo": self._app_echo,
            "ringing": self._app_ringing, "progress": self._noop, "busy": self._app_busy,
            "congestion": self._app_congestion, "set": self._app_set, "goto": self._app_goto,
            "gotoif": self._app_gotoif, "dial": self._app_dial, "userevent": self._app_userevent,
        }

    async def _noop(self, chan: Channel, data: str) -> None:
        return None

    async def _app_answer(self, chan: Channel, data: str) -> None:
        self.answer(chan)

    async def _app_hangup(self, chan: Channel, data: str) -> int:
        cause = int(data) if data.strip().isdigit() else 16
        self.emit("SoftHangupRequest", perms.CALL, [*chan.snapshot(), ("Cause", str(cause))])
        return cause

    async def _app_wait(self, chan: Channel, data: str) -> None:
        await self.sleep(float(data or 0))

    async def _app_playback(self, chan: Channel, data: str) -> None:
        for sound in split_args(data)[0].split("&"):
            self._cel(chan, "STREAM_BEGIN")
            await self.sleep(SOUNDS.get(sound.strip(), 1.0))
            self._cel(chan, "STREAM_END")
        self._setvar(chan, "PLAYBACKSTATUS", "SUCCESS")

    async def _app_echo(self, chan: Channel, data: str) -> None:
        self.answer(chan)
        await asyncio.get_running_loop().create_future()  # until hung up or redirected

    async def _app_ringing(self, chan: Channel, data: str) -> None:
        self._ringing(chan.peer if chan.peer is not None else chan)

    def _ringing(self, callee: Channel) -> None:
        """A dialed channel rings: the dialer hears of it (DialState RINGING)."""
        if callee.ringing:
            return
        callee.ringing = True
        if callee.outcome is not None and not callee.outcome.done():
            head = callee.dialer.snapshot() if callee.dialer else []
            self.emit("DialState", perms.CALL, [*head, *callee.snapshot("Dest"),
                                                ("DialStatus", "RINGING")])

    async def _refuse(self, chan: Channel, status: str, cause: int, data: str) -> int:
        self._resolve(chan, status)
        if chan.peer is not None:
            self._resolve(chan.peer, status)
        self._set_state(chan, 7 if status == "BUSY" else chan.state)
        timeout = split_args(data)[0]
        await self.sleep(float(timeout) if timeout.strip() else 0)
        return cause

    async def _app_busy(self, chan: Channel, data: str) -> int:
        return await self._refuse(chan, "BUSY", 17, data)

    async def _app_congestion(self, chan: Channel, data: str) -> int:
        return await self._refuse(chan, "CONGESTION", 34, data)

    async def _app_set(self, chan: Channel, data: str) -> None:
        name, _, value = data.partition("=")
        self.assign(chan, name.strip(), value)

    async def _app_goto(self, chan: Channel, data: str) -> None:
        self._goto(chan, data)

    async def _app_gotoif(self, chan: Channel, data: str) -> None:
        condition, _, targets = data.partition("?")
        when_true, _, when_false = targets.partition(":")
        target = when_true if condition.strip() not in ("", "0") else when_false
        if target:
            self._goto(chan, target)

    def _goto(self, chan: Channel, target: str) -> None:
        parts = [p.strip() for p in target.split(",")]
        context, exten = chan.context, chan.exten
        if len(parts) == 3:
            context, exten, prio = parts
        elif len(parts) == 2:
            exten, prio = parts
        else:
            prio = parts[0]
        number = int(prio) if prio.isdigit() else self.dialplan.label(context, exten, prio)
        if number is None:
            raise _Unsupported(f"Goto to unknown label {target}")
        chan.context, chan.exten, chan.priority = context, exten, number

    async def _app_userevent(self, chan: Channel, data: str) -> None:
        name, *fields = split_args(data)
        body = []
        for item in fields:
            key, _, value = item.partition(":")
            body.append((key.strip(), value.strip()))
        self.emit("UserEvent", perms.USER, [*chan.snapshot(), ("UserEvent", name), *body])

    async def _app_dial(self, chan: Channel, data: str) -> None:
        args = split_args(data)
        target = args[0].split("&")[0].strip()
        timeout = float(args[1]) if len(args) > 1 and args[1].strip() else None
        callee = self.request(target, linkedid=chan.linkedid, caller=chan)
        if callee is None:
            self._setvar(chan, "DIALSTATUS", "CHANUNAVAIL")
            return
        callee.caller_num, callee.caller_name = chan.caller_num, chan.caller_name
        status = await self.dial(callee, target.partition("/")[2], timeout, chan)
        self._setvar(chan, "DIALSTATUS", status)
        if status != "ANSWER":
            return
        self.answer(chan)
        bridge = Bridge(str(uuid.UUID(int=self.manager.rng.getrandbits(128))))
        self.emit("BridgeCreate", perms.CALL, bridge.block())
        for member in (chan, callee):
            self._enter(bridge, member)
        try:
            await bridge.ended.wait()
        finally:
            if chan.bridge is bridge:
                self._leave(chan)
            for other in list(bridge.members):
                self._leave(other)
                if other.task is None and not other.hungup:  # no dialplan of its own: it ends
                    self.spawn(self.hangup(other, 16, requested=True))

    def _enter(self, bridge: Bridge, chan: Channel) -> None:
        bridge.members.append(chan)
        chan.bridge = bridge
        self.emit("BridgeEnter", perms.CALL, [*bridge.block(), *chan.snapshot()])
        self._cel(chan, "BRIDGE_ENTER")

    def _leave(self, chan: Channel) -> None:
        bridge = chan.bridge
        if bridge is None:
            return
        bridge.members.remove(chan)
        chan.bridge = None
        self.emit("BridgeLeave", perms.CALL, [*bridge.block(), *chan.snapshot()])
        self._cel(chan, "BRIDGE_EXIT")
        bridge.ended.set()
        if not bridge.members:
            self.emit("BridgeDestroy", perms.CALL, bridge.block())

    # -- variables and functions -----------------------------------------------------
    def lookup(self, chan: Channel | None, name: str) -> str:
        """The value of ``${name}`` for ``chan`` (functions included)."""
        func, paren, arg = name.partition("(")
        arg = arg[:-1] if paren else ""
        upper = func.upper()
        if paren:
            if upper == "GLOBAL":
                return self.globals.get(arg, "")
            if chan is None:
                return ""
            if upper == "CALLERID":
                which = arg.lower()
                if which in ("num", "number"):
                    return chan.caller_num
                if which == "name":
                    return chan.caller_name
                if which == "all":
                    return f'"{chan.caller_name}" <{chan.caller_num}>'
            if upper == "CHANNEL":
                return {"language": chan.language, "name": chan.name,
                        "uniqueid": chan.uniqueid, "linkedid": chan.linkedid,
                        "state": STATES.get(chan.state, "")}.get(arg.lower(), "")
            return ""
        if chan is not None:
            builtin = {"CHANNEL": chan.name, "UNIQUEID": chan.uniqueid, "CONTEXT": chan.context,
                       "EXTEN": chan.exten, "PRIORITY": str(chan.priority),
                       "HANGUPCAUSE": str(chan.hangup_cause or 0),
                       "CALLERID(num)": chan.caller_num}.get(name)
            if builtin is not None:
                return builtin
            for key in (name, "_" + name, "__" + name):
                if key in chan.variables:
                    return chan.variables[key]
        return self.globals.get(name, "")

    def assign(self, chan: Channel | None, name: str, value: str) -> bool:
        """Set a variable or function (``GLOBAL()``, ``CALLERID()``, ``CHANNEL()`` …)."""
        func, paren, arg = name.partition("(")
        arg = arg[:-1] if paren else ""
        upper = func.upper()
        if upper == "GLOBAL" or (chan is None and not paren):
            key = arg if upper == "GLOBAL" else name
            self.globals[key] = value
            self._varset(None, key, value)
            return True
        if chan is None:
            return False
        if upper == "CALLERID":
            which = arg.lower()
            if which == "all":
                match = re.match(r'\s*"?([^"<]*)"?\s*<([^>]*)>', value)
                chan.caller_name, chan.caller_num = (match[1].strip(), match[2]) if match else (value, "")
            elif which == "name":
                chan.caller_name = value
            elif which in ("num", "number"):
                chan.caller_num = value
            self.emit("NewCallerid", perms.CALL, [
                *chan.snapshot(), ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")])
            return True
        if upper == "CHANNEL":
            if arg.lower() == "language":
                chan.language = value
            return True
        if upper == "TIMEOUT":
            seconds = float(value or 0)
            loop = asyncio.get_running_loop()
            chan.timers.append(loop.call_later(
                seconds / self.speed, lambda: self.spawn(self.request_hangup(chan, 16, soft=True))))
            return True
        if upper == "CDR":
            if arg.lower() == "userfield":
                chan.userfield = value
            return True
        if paren:
            return False
        self._setvar(chan, name, value)
        return True

    def _setvar(self, chan: Channel, name: str, value: str) -> None:
        chan.variables[name] = value
        self._varset(chan, name, value)

    # -- hanging up ------------------------------------------------------------------
    async def request_hangup(self, chan: Channel, cause: int, *, soft: bool = False,
                             announced: bool = False) -> None:
        """Ask a channel to hang up (Hangup action, a peer leaving, an absolute timeout)."""
        if chan.hungup or chan.ending:
            return
        if not soft and not announced:
            self.emit("HangupRequest", perms.CALL, [*chan.snapshot(), ("Cause", str(cause))])
        chan.hangup_cause = cause
        if chan.task is not None and not chan.task.done():
            self.emit("SoftHangupRequest", perms.CALL, [*chan.snapshot(), ("Cause", str(cause))])
            chan.task.cancel()
            return
        self._resolve(chan, _dialstatus_for_cause(cause))
        await self.hangup(chan, cause)

    async def hangup(self, chan: Channel, cause: int, *, requested: bool = False) -> None:
        """The end of a channel: ``h`` extension, bridge, its other half, the events."""
        if chan.hungup or chan.ending:
            return
        chan.ending = True
        chan.hangup_cause = cause
        if requested:
            self.emit("HangupRequest", perms.CALL, [*chan.snapshot(), ("Cause", str(cause))])
        for timer in chan.timers:
            timer.cancel()
        if chan.in_dialplan and self.dialplan.exists(chan.context, "h"):
            chan.exten, chan.priority = "h", 1
            while (step := self.dialplan.find(chan.context, "h", chan.priority)) is not None:
                chan.app = step.app
                chan.data = substitute(step.data, lambda name, c=chan: self.lookup(c, name))
                self._newexten(chan)
                chan.priority += 1
        self._leave(chan)
        self._resolve(chan, _dialstatus_for_cause(cause) if chan.state != 6 else "ANSWER")
        chan.hungup = True
        peer = chan.peer
        if peer is not None and not peer.hungup and not peer.ending:
            if peer.state != 6:
                self._resolve(peer, _dialstatus_for_cause(cause))
            # the other half hears of it before this half's Hangup event, as in Asterisk
            self.emit("HangupRequest", perms.CALL, [*peer.snapshot(), ("Cause", str(cause))])
            self.spawn(self.request_hangup(peer, cause, announced=True))
        self.emit("Hangup", perms.CALL, [*chan.snapshot(), ("Cause", str(cause)),
                                         ("Cause-txt", CAUSES.get(cause, "Unknown"))])
        extra = json.dumps({"hangupcause": cause, "hangupsource": "dialplan/builtin",
                            "dialstatus": chan.dialstatus}, separators=(",", ":"))
        self._cel(chan, "HANGUP", extra)
        self._cel(chan, "CHAN_END")
        self._cdr(chan, cause)
        self._device_state(chan, "NOT_INUSE")
        self.channels.pop(chan.name, None)
        if not any(c.linkedid == chan.linkedid for c in self.channels.values()):
            self._cel(chan, "LINKEDID_END")

    def _cdr(self, chan: Channel, cause: int) -> None:
        end = time.time()
        status = "ANSWER" if chan.answered else chan.dialstatus or _dialstatus_for_cause(cause)
        duration = int(end - chan.created)
        billable = int(end - chan.answered) if chan.answered else 0
        callerid = f'"{chan.caller_name}" <{chan.caller_num}>'
        self.emit("Cdr", perms.CDR, [
            ("AccountCode", chan.accountcode), ("Source", chan.caller_num),
            ("Destination", chan.exten), ("DestinationContext", chan.context),
            ("CallerID", callerid), ("Channel", chan.name),
            ("DestinationChannel", chan.peer.name if chan.peer and chan.tech != "Local" else ""),
            ("LastApplication", chan.app), ("LastData", chan.data),
            ("StartTime", _localtime(chan.created)), ("AnswerTime", _localtime(chan.answered)),
            ("EndTime", _localtime(end)), ("Duration", str(duration)),
            ("BillableSeconds", str(billable)), ("Disposition", DISPOSITION.get(status, "FAILED")),
            ("AMAFlags", "DOCUMENTATION"), ("UniqueID", chan.uniqueid),
            ("UserField", chan.userfield)])

    def redirect(self, chan: Channel, context: str, exten: str, priority: int) -> None:
        """Move a channel to another place in the dialplan (it leaves any bridge)."""
        if chan.task is not None and not chan.task.done():
            chan.goto = (context, exten, priority)
            chan.task.cancel()
            return
        self._leave(chan)
        chan.context, chan.exten, chan.priority = context, exten, priority
        self.start(chan)

    def find_channel(self, name: str) -> Channel | None:
        return self.channels.get(name) or next(
            (c for c in self.channels.values() if c.uniqueid == name), None)

    async def shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    # -- actions ---------------------------------------------------------------------
    async def action_originate(self, session: Session, request: Request, msg: Pairs) -> list[Pairs]:
        action_id = _header(msg, "ActionID")
        channel = _header(msg, "Channel")
        if not channel:
            return [_error(action_id, "Channel not specified")]
        app, data = _header(msg, "Application"), _header(msg, "Data")
        context, exten, prio = _header(msg, "Context"), _header(msg, "Exten"), _header(msg, "Priority")
        timeout_text = _header(msg, "Timeout")
        try:
            timeout = int(timeout_text) / 1000 if timeout_text else 30.0
        except ValueError:
            return [_error(action_id, "Invalid timeout")]
        if "/" not in channel:
            return [_error(action_id, "Invalid channel")]
        priority = 1
        if not app:
            if not (exten and context and prio):
                return [_error(action_id, "Originate with 'Exten' requires 'Context' and 'Priority'")]
            if prio.isdigit():
                priority = int(prio)
            else:
                label = self.dialplan.label(context, exten, prio)
                if label is None:
                    return [_error(action_id, "Invalid priority")]
                priority = label
        restricted = app.lower() in SYSTEM_APPS or any(w in data.upper() for w in SYSTEM_DATA)
        if restricted and not session.writeperm & perms.SYSTEM:
            return [_error(action_id, "Originate Access Forbidden: app or data blacklisted")]
        callerid = _split_callerid(_header(msg, "CallerID"))
        variables = []
        for name, value in msg:
            if name.lower() == "variable":
                for item in split_args(value):
                    key, _, val = item.partition("=")
                    variables.append((key.strip(), val))
        ids = (_header(msg, "ChannelId") or None, _header(msg, "OtherChannelId") or None)
        run = self.originate(channel, context=context or None, exten=exten or None,
                             priority=priority, app=app or None, data=data, timeout=timeout,
                             callerid=callerid, account=_header(msg, "Account"),
                             variables=variables, ids=ids)
        if is_true(_header(msg, "Async")):
            self.spawn(self._originate_response(run, action_id, channel, context, exten, app,
                                                data, callerid, ids[0]))
            return [_response("Success", action_id, [("Message", "Originate successfully queued")])]
        status, _chan = await run
        if status != "ANSWER":
            return [_error(action_id, "Originate failed")]
        return [_response("Success", action_id, [("Message", "Originate successfully queued")])]

    async def _originate_response(self, run: Awaitable[tuple[str, Channel | None]], action_id: str,
                                  target: str, context: str, exten: str, app: str, data: str,
                                  callerid: tuple[str, str], channel_id: str | None) -> None:
        status, chan = await run
        ok = status == "ANSWER" and chan is not None
        place = [("Application", app), ("Data", data)] if app else [("Context", context),
                                                                    ("Exten", exten)]
        reason = REASON.get(status, 0) if chan is not None else 0
        if status == "NOANSWER" and chan is not None and not chan.ringing:
            reason = 1
        self.emit("OriginateResponse", perms.CALL, [
            *([("ActionID", action_id)] if action_id else []),
            ("Response", "Success" if ok else "Failure"),
            ("Channel", chan.name if ok and chan else target), *place,
            ("Reason", str(reason)),
            ("Uniqueid", chan.uniqueid if ok and chan else channel_id or "<unknown>"),
            ("CallerIDNum", callerid[1] or "<unknown>"), ("CallerIDName", callerid[0] or "<unknown>")])

    async def action_redirect(self, session: Session, request: Request, msg: Pairs) -> list[Pairs]:
        action_id = _header(msg, "ActionID")
        for header, text in (("Channel", "Channel not specified"), ("Context", "Context not specified"),
                             ("Exten", "Exten not specified"), ("Priority", "Priority not specified")):
            if not _header(msg, header):
                return [_error(action_id, text)]
        moves = []
        for prefix in ("", "Extra"):
            chan_name = _header(msg, prefix + "Channel")
            if not chan_name:
                continue
            chan = self.find_channel(chan_name)
            if chan is None:
                return [_error(action_id, f"Channel does not exist: {chan_name}")]
            context = _header(msg, prefix + "Context") or _header(msg, "Context")
            exten = _header(msg, prefix + "Exten") or _header(msg, "Exten")
            prio = _header(msg, prefix + "Priority") or _header(msg, "Priority")
            number = int(prio) if prio.isdigit() else self.dialplan.label(context, exten, prio)
            if number is None:
                return [_error(action_id, "Priority is invalid")]
            moves.append((chan, context, exten, number))
        for chan, context, exten, number in moves:
            self.redirect(chan, context, exten, number)
        text = "Dual Redirect successful" if len(moves) == 2 else "Redirect successful"
        return [_response("Success", action_id, [("Message", text)])]

    async def action_hangup(self, session: Session, request: Request, msg: Pairs) -> list[Pairs]:
        action_id = _header(msg, "ActionID")
        name = _header(msg, "Channel")
        if not name:
            return [_error(action_id, "No channel specified")]
        cause_text = _header(msg, "Cause")
        cause = int(cause_text) if cause_text.isdigit() and int(cause_text) <= 127 else 16
        if len(name) > 2 and name.startswith("/") and name.endswith("/"):
            try:
                pattern = re.compile(name[1:-1])
            except re.error:
                return [_error(action_id, "Invalid regex")]
            matched = [c for c in list(self.channels.values()) if pattern.search(c.name)]
            items = [[("Event", "ChannelHungup"), ("Channel", c.name),
                      *([("ActionID", action_id)] if action_id else [])] for c in matched]
            for chan in matched:
                await self.request_hangup(chan, cause)
            return [_response("Success", action_id, [("EventList", "start"),
                                                     ("Message", "Channels hung up will follow")]),
                    *items, [("Event", "ChannelsHungupListComplete"),
                             *([("ActionID", action_id)] if action_id else []),
                             ("EventList", "Complete"), ("ListItems", str(len(items)))]]
        chan = self.find_channel(name)
        if chan is None:
            return [_error(action_id, "No such channel")]
        await self.request_hangup(chan, cause)
        return [_response("Success", action_id, [("Message", "Channel Hungup")])]

    def _list(self, action_id: str, message: str, items: list[Pairs], complete: str,
              extra: Pairs | None = None) -> list[Pairs]:
        tail = [("Event", complete), *([("ActionID", action_id)] if action_id else []),
                ("EventList", "Complete"), ("ListItems", str(len(items))), *(extra or [])]
        return [_response("Success", action_id, [("EventList", "start"), ("Message", message)]),
                *items, tail]

    async def action_status(self, session: Session, request: Request, msg: Pairs) -> list[Pairs]:
        action_id = _header(msg, "ActionID")
        name = _header(msg, "Channel")
        wanted = [n.strip() for n in _header(msg, "Variables").split(",") if n.strip()]
        if name:
            chan = self.find_channel(name)
            if chan is None:
                return [_error(action_id, "No such channel")]
            chans = [chan]
        else:
            chans = list(self.channels.values())
        items = []
        for chan in chans:
            seconds = int(time.time() - chan.created)
            item = [("Event", "Status"), ("Privilege", "Call"), *chan.snapshot(),
                    ("Type", chan.tech), ("DNID", ""),
                    ("EffectiveConnectedLineNum", chan.connected_num or "<unknown>"),
                    ("EffectiveConnectedLineName", chan.connected_name or "<unknown>"),
                    ("TimeToHangup", "0"), ("BridgeID", chan.bridge.id if chan.bridge else ""),
                    ("Application", chan.app), ("Data", chan.data), ("Nativeformats", "(slin)"),
                    ("Readformat", "slin"), ("Readtrans", ""), ("Writeformat", "slin"),
                    ("Writetrans", ""), ("Callgroup", "0"), ("Pickupgroup", "0"),
                    ("Seconds", str(seconds))]
            names = list(chan.variables) if is_true(_header(msg, "AllVariables")) else wanted
            for var in names:
                value = self.lookup(chan, var) if var in chan.variables or "(" in var else None
                item.append(("Variable", f"{var}={value if value is not None else '(null)'}"))
            if action_id:
                item.append(("ActionID", action_id))
            items.append(item)
        return self._list(action_id, "Channel status will follow", items, "StatusComplete",
                          [("Items", str(len(items)))])

    async def action_coreshowchannels(self, session: Session, request: Request,
                                      msg: Pairs) -> list[Pairs]:
        action_id = _header(msg, "ActionID")
        items = []
        for chan in self.channels.values():
            seconds = int(time.time() - chan.created)
            items.append([("Event", "CoreShowChannel"),
                          *([("ActionID", action_id)] if action_id else []), *chan.snapshot(),
                          ("Application", chan.app), ("ApplicationData", chan.data),
                          ("Duration", f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"),
                          ("BridgeId", chan.bridge.id if chan.bridge else "")])
        return self._list(action_id, "Channels will follow", items, "CoreShowChannelsComplete")

    def _channel_header(self, msg: Pairs, action_id: str) -> tuple[Channel | None, list[Pairs]]:
        """The channel an optional Channel header names, or the error reply for a bad one."""
        name = _header(msg, "Channel")
        if not name:
            return None, []
        chan = self.find_channel(name)
        return chan, [] if chan is not None else [_error(action_id, "No such channel")]

    async def action_getvar(self, session: Session, request: Request, msg: Pairs) -> list[Pairs]:
        action_id = _header(msg, "ActionID")
        variable = _header(msg, "Variable")
        if not variable:
            return [_error(action_id, "No variable specified")]
        if re.match(r"(SHELL|EVAL)\(", variable, re.I) and not session.writeperm & perms.SYSTEM:
            return [_error(action_id, "GetVar Access Forbidden: Variable")]
        chan, error = self._channel_header(msg, action_id)
        if error:
            return error
        return [_response("Success", action_id, [("Variable", variable),
                                                 ("Value", self.lookup(chan, variable))])]

    async def action_setvar(self, session: Session, request: Request, msg: Pairs) -> list[Pairs]:
        action_id = _header(msg, "ActionID")
        variable = _header(msg, "Variable")
        if not variable:
            return [_error(action_id, "No variable specified")]
        chan, error = self._channel_header(msg, action_id)
        if error:
            return error
        if not self.assign(chan, variable, _header(msg, "Value", raw=True)):
            return [_error(action_id, "Variable not set")]
        return [_response("Success", action_id, [("Message", "Variable Set")])]

    async def action_showdialplan(self, session: Session, request: Request,
                                  msg: Pairs) -> list[Pairs]:
        action_id = _header(msg, "ActionID")
        want_ctx, want_ext = _header(msg, "Context"), _header(msg, "Extension")
        items, contexts, extens = [], set(), set()
        for ctx in self.dialplan.contexts.values():
            if want_ctx and ctx.name != want_ctx:
                continue
            for exten, priorities in ctx.extensions.items():
                if want_ext and exten != want_ext:
                    continue
                for number, step in sorted(priorities.items()):
                    items.append([("Event", "ListDialplan"),
                                  *([("ActionID", action_id)] if action_id else []),
                                  ("Context", ctx.name), ("Extension", exten),
                                  ("Priority", str(number)), ("Application", step.app),
                                  ("AppData", step.data), ("Registrar", "pbx_config")])
                    contexts.add(ctx.name)
                    extens.add((ctx.name, exten))
        if not items:
            return [_error(action_id, f"Did not find context {want_ctx}" if want_ctx
                           else "Did not find any dialplan")]
        return self._list(action_id, "DialPlan list will follow", items, "ShowDialPlanComplete",
                          [("ListExtensions", str(len(extens))), ("ListPriorities", str(len(items))),
                           ("ListContexts", str(len(contexts)))])

    async def action_command(self, session: Session, request: Request, msg: Pairs) -> list[Pairs]:
        action_id = _header(msg, "ActionID")
        command = _header(msg, "Command")
        if not command:
            return [_error(action_id, "No command provided")]
        words = command.split()
        lowered = [w.lower() for w in words]
        output: list[str] | None = None
        if lowered[:3] == ["core", "show", "version"]:
            output = ["Asterisk 23.4.1 (amikit simulator) built by amikit on a python running "
                      "the amikit sim"]
        elif lowered[:3] == ["core", "show", "channels"]:
            output = ["Channel              Location             State   Application(Data)"]
            for chan in self.channels.values():
                output.append(f"{chan.name[:20]:<20} {chan.exten}@{chan.context}:{chan.priority:<6} "
                              f"{STATES.get(chan.state, ''):<7} {chan.app}({chan.data})")
            calls = len({c.linkedid for c in self.channels.values()})
            output += [f"{len(self.channels)} active channels", f"{calls} active calls",
                       f"{self.processed_calls} calls processed"]
        elif lowered[:3] == ["manager", "show", "commands"]:
            output = ["  Action                       Synopsis", "  ------                       --------"]
            from amikit.sim.manager import SYNOPSIS
            output += [f"  {n:<28} {s}" for n, s in sorted(SYNOPSIS.items(), key=lambda i: i[0].lower())]
        elif lowered[:3] == ["manager", "show", "command"] and len(words) > 3:
            from amikit.sim.manager import SYNOPSIS
            name = next((n for n in SYNOPSIS if n.lower() == lowered[3]), None)
            if name is not None:
                from amikit.actions import CATALOG

                spec = CATALOG.get(name.lower())
                headers = spec.headers if spec else ("ActionID",)
                required = set(spec.required) if spec else set()
                syntax = [f"{h}: <value>" if h in required else f"[{h}:] <value>"
                          for h in headers]
                output = ["", f"  -= Info about Manager Command '{name}' =- ", "", "[Synopsis]",
                          f"{SYNOPSIS[name]} ", "", "[Syntax]", f"Action: {name} ", *syntax, "",
                          "[Arguments]", ""]
        elif lowered[:3] == ["manager", "show", "user"] and len(words) > 3:
            user = self.config.users.get(words[3])
            if user is not None:
                output = ["", f"          username: {user.name}", "            secret: <Set>",
                          "               ACL: no", f"         read perm: {perms.privilege(user.read)}",
                          f"        write perm: {perms.privilege(user.write)}",
                          "   displayconnects: yes", "allowmultiplelogin: yes"]
        elif lowered[:2] == ["dialplan", "show"]:
            target = words[2] if len(words) > 2 else None
            context = target.split("@")[-1] if target else None
            output = self.dialplan.show(context) or [f"There is no existence of '{target}' context"]
        if output is None:
            text = " ".join(words)
            return [_response("Error", action_id, [
                ("Message", "Command output follows"),
                ("Output", f"No such command '{text}' (type 'core show help {text}' for other "
                           "possible commands)")])]
        return [_response("Success", action_id, [("Message", "Command output follows"),
                                                  *[("Output", line) for line in output]])]


def _split_callerid(text: str) -> tuple[str, str]:
    """``"Name" <number>`` into (name, number)."""
    match = re.match(r'\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$', text)
    if match:
        return match[1].strip(), match[2].strip()
    return ("", text.strip()) if text.strip().replace("+", "").isdigit() else (text.strip(), "")
