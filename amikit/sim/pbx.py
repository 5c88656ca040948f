"""The simulated PBX's core: channels and their life, Local pairs, and the dialplan loop.

Each rule is Asterisk's, written once, with the function it comes from:

- a channel's events come from its snapshots (:func:`amikit.sim.channel.snapshot_events`),
  published where Asterisk publishes one (``ast_setstate``, ``pbx_exec``, …);
- ``__ast_pbx_run``: a channel runs its dialplan priority by priority; when the dialplan ends,
  for whatever reason, it is soft-hung-up with ``AST_SOFTHANGUP_APPUNLOAD`` (a
  ``SoftHangupRequest`` with ``Cause: 16``), its ``h`` extension runs, then it hangs up;
- ``ast_softhangup_nolock`` (the AMI Hangup action, a redirect) sends no event;
  ``ast_queue_hangup_with_cause`` sends a ``HangupRequest`` with the cause;
- a channel's ``hangupcause`` starts at 0 (``Unknown``) and only an application, a hangup
  request with a cause, or the AMI Hangup action with a ``Cause`` sets it;
- the Local channel driver (main/core_local.c, main/core_unreal.c): ``;1`` is the owner,
  ``;2`` runs the dialplan; ``local_call`` copies caller id, connected line and variables to
  ``;2`` and starts its dialplan; when one half hangs up, the other gets a hangup request
  with its cause (``unreal_hangup``), or is hung up at once if it never ran.

Applications live in :mod:`amikit.sim.apps`, Dial and the dial API in
:mod:`amikit.sim.dial`, variables and functions in :mod:`amikit.sim.variables`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Awaitable, Callable

from amikit.sim import perms, records
from amikit.sim.channel import (
    DOWN,
    HANGUP,
    RING,
    SOFTHANGUP_APPUNLOAD,
    SOFTHANGUP_ASYNCGOTO,
    SOFTHANGUP_DEV,
    UP,
    Channel,
    snapshot_events,
)
from amikit.sim.channel_replies import find_channel
from amikit.sim.config import SimConfig
from amikit.sim.dialplan import Dialplan, substitute
from amikit.sim.events import EventBus
from amikit.sim.replies import Pairs
from amikit.sim.variables import Variables

__all__ = ["PBX"]

log = logging.getLogger("amikit.sim")

App = Callable[[Channel, str], Awaitable[int | None]]


class PBX:
    """The simulated PBX: its channels, its dialplan, its applications and its timers.

    ``speed`` scales the PBX's own durations (Wait, Playback, ringing, timeouts); ``seed``
    makes its channel ids reproducible.
    """

    def __init__(self, config: SimConfig, bus: EventBus, *, dialplan: Dialplan | None = None,
                 speed: float = 1.0, seed: int | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.config = config
        self.bus = bus
        self.speed = speed
        self.seed = seed
        self.dialplan = dialplan or Dialplan.parse(config.extensions, config.extensions_path)
        self.vars = Variables(self)
        self.channels: dict[str, Channel] = {}
        self.processed_calls = 0
        self.apps: dict[str, App] = {}
        self._seq = itertools.count(0)
        self._names: dict[str, itertools.count[int]] = {}
        self._tasks: set[asyncio.Task[object]] = set()
        self._bridge_ids = itertools.count(1)
        self.closing = False  # shutting down: a cancelled task ends, it does not hang up
        # they need the PBX type; the PBX needs them
        from amikit.sim import apps, confbridge, dial, moh, queue

        apps.install(self)
        self.dial = dial.Dialer(self)
        self.moh = moh.MusicOnHold(self)
        self.queues = queue.Queues(self)
        self.conferences = confbridge.Conferences(self)

    # -- plumbing --------------------------------------------------------------------
    def emit(self, name: str, klass: int, body: Pairs, *, at: float | None = None) -> None:
        self.bus.publish(name, klass, body, at=at)

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of PBX time (``speed`` times faster than real time)."""
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

    async def shutdown(self) -> None:
        """Stop every call at once: no hangup runs, no event is sent."""
        self.closing = True
        while self._tasks:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task
                self._tasks.discard(task)

    def call_counts(self) -> tuple[int, int]:
        """(current calls, calls processed), as CoreStatus reports them."""
        # action_corestatus: CoreCurrentCalls is ast_active_channels(), a count of channels
        # (04_lists 021 says 16 while 002, the same second, lists 16 channels of 6 calls)
        return len(self.channels), self.processed_calls

    def bridge_id(self) -> str:
        """A bridge's unique id: a UUID, as ``ast_bridge_base_new`` makes one."""
        return f"{self.seed or 0:08x}-0000-4000-8000-{next(self._bridge_ids):012x}"

    # -- events of a channel ---------------------------------------------------------
    def publish(self, chan: Channel) -> None:
        """``ast_channel_publish_snapshot``: the events the change since the last one makes."""
        new = chan.snapshot()
        for name, body in snapshot_events(chan.published, new):
            self.emit(name, perms.DIALPLAN if name == "Newexten" else perms.CALL, body)
        chan.published = new

    def cel(self, chan: Channel, event: str, extra: str = "", peer: str = "") -> None:
        self.emit("CEL", perms.CALL, records.cel(chan, event, extra, peer))

    def device_state(self, chan: Channel, *, ended: bool = False) -> None:
        exists = chan.tech != "Local" or self.dialplan.exists(*_local_target(chan.device))
        # main/devicestate.c asks for the device's state when it gets to the change, once the
        # rest of this Local pair is gone: another call on the device keeps it in use
        # (20_behaviour/conference: the first caller's hangups report INUSE)
        if ended and any(c.device == chan.device and c is not chan and c is not chan.peer
                         and not c.dead for c in self.channels.values()):
            ended = False
        state = records.device_state(chan, ended=ended, exists=exists)
        self.queues.device_changed(chan.device, state)
        self.emit("DeviceStateChange", perms.CALL, [("Device", chan.device), ("State", state)])

    def varset(self, chan: Channel | None, name: str, value: str) -> None:
        """Set a channel variable (or a global, with no channel): a VarSet event."""
        if chan is None:
            self.vars.globals[name] = value
            head = [("Channel", "none"), ("Uniqueid", "none")]
        else:
            chan.variables[name] = value
            head = chan.state_headers()
        self.emit("VarSet", perms.DIALPLAN, [*head, ("Variable", name), ("Value", value)])

    # -- channels --------------------------------------------------------------------
    def _uniqueid(self) -> str:
        return f"{int(time.time())}.{next(self._seq)}"

    def _name_seq(self, tech: str) -> int:
        return next(self._names.setdefault(tech, itertools.count(0)))

    def unreal_seq(self) -> int:
        """The next number of ``ast_unreal_new_channels``' ``name_sequence``: Local and the
        bridge media channels (CBAnn, CBRec) share it, as the captures show
        (``Local/800@sets-00000170``, ``CBAnn/1-00000171``, ``Local/800@sets-00000172``)."""
        return self._name_seq("Local")

    def new_channel(self, name: str, tech: str, device: str, context: str, exten: str, *,
                    state: int = DOWN, linkedid: str | None = None,
                    uniqueid: str | None = None) -> Channel:
        """``__ast_channel_alloc``: a Newchannel event and the CEL CHAN_START."""
        unique = uniqueid or self._uniqueid()
        chan = Channel(name, unique, linkedid or unique, tech, device, context, exten,
                       state=state)
        self.channels[name] = chan
        self.publish(chan)
        self.cel(chan, "CHAN_START")
        return chan

    def request(self, target: str, *, linkedid: str | None = None,
                ids: tuple[str | None, str | None] = (None, None)) -> Channel | None:
        """``ast_request``: the outgoing channel for ``Tech/resource`` (None: no such tech or
        endpoint). For ``Local/exten@context`` both halves are made and ``;1`` returned."""
        tech, _, resource = target.partition("/")
        if tech.lower() == "local":
            dest = resource.partition("/")[0]
            exten, _, context = dest.partition("@")
            if not exten:
                return None
            context = context or "default"
            base = f"Local/{exten}@{context}-{self.unreal_seq():08x}"
            device = f"Local/{exten}@{context}"
            # ast_unreal_new_channels: the ;2 id is used only beside a ;1 id, and defaults
            # to the ;1 id with ";2" appended (ChannelId tcp-orig-1 → tcp-orig-1;2)
            first, second = ids
            second = (second or f"{first};2") if first else None
            one = self.new_channel(base + ";1", "Local", device, context, exten,
                                   linkedid=linkedid, uniqueid=first)
            two = self.new_channel(base + ";2", "Local", device, context, exten, state=RING,
                                   linkedid=one.linkedid, uniqueid=second)
            one.peer, two.peer, two.outbound = two, one, True
            return one
        if tech.lower() == "pjsip":
            endpoint = self.config.endpoints.get(resource.split("/")[0])
            if endpoint is None:
                return None
            chan = self.new_channel(f"PJSIP/{endpoint.name}-{self._name_seq('PJSIP'):08x}",
                                    "PJSIP", f"PJSIP/{endpoint.name}", endpoint.context, "s",
                                    linkedid=linkedid, uniqueid=ids[0])
            chan.endpoint = endpoint
            return chan
        return None

    def call(self, chan: Channel, dialstring: str) -> bool:
        """``ast_call``: ring the channel. For a Local ``;1`` this is ``local_call``: it copies
        the caller's identity and variables to ``;2`` and starts ``;2``'s dialplan — or fails
        when the extension does not exist."""
        two = chan.peer
        if two is None:
            self.spawn(self.dial.phone(chan))
            return True
        if not self.dialplan.exists(two.context, two.exten):
            return False
        # the variables first (ast_channel_inherit_variables), then the identity:
        # ast_connected_line_copy_to_caller / _from_caller — each half sees the other's side
        # (the ;2's VarSets still show its old identity: 20_behaviour/dial_cause21)
        for name, value in reversed(list(chan.variables.items())):
            self.varset(two, name, value)
        two.caller_num, two.caller_name = chan.connected_num, chan.connected_name
        two.connected_num, two.connected_name = chan.caller_num, chan.caller_name
        self.publish(two)
        self.emit("LocalBridge", perms.CALL, [
            *chan.state_headers("LocalOne"), *two.state_headers("LocalTwo"),
            ("Context", two.context), ("Exten", two.exten),
            ("LocalOptimization", "No" if "/n" in dialstring else "Yes")])
        self.start(two)
        return True

    def set_state(self, chan: Channel, state: int) -> None:
        """``ast_setstate``: a Newstate, the CEL ANSWER on Up, and the device's state."""
        if chan.state == state or chan.dead:
            return
        chan.state = state
        if state == UP:
            chan.answered = time.time()
        self.publish(chan)
        if state == UP:
            self.cel(chan, "ANSWER")
        self.device_state(chan)

    def answer(self, chan: Channel) -> None:
        """``ast_raw_answer``; a Local ``;2`` tells ``;1``, whose dialer sees the answer."""
        if chan.state == UP:
            return
        self.set_state(chan, UP)
        if chan.outbound and chan.peer is not None:
            resolve(chan.peer, "ANSWER")
        resolve(chan, "ANSWER")

    def unsupported(self) -> list[str]:
        """Where the dialplan uses an application this simulator does not run."""
        return [f"{ctx.name},{exten},{number}: {step.app}"
                for ctx in self.dialplan.contexts.values()
                for exten, priorities in ctx.extensions.items()
                for number, step in sorted(priorities.items())
                if step.app.lower() not in self.apps]

    def find_channel(self, name: str) -> Channel | None:
        """``ast_channel_get_by_name`` (see :func:`~amikit.sim.channel_replies.find_channel`)."""
        return self.channels.get(name) or find_channel(
            self.channels.values(), name, lambda c: c.name, lambda c: c.uniqueid)

    # -- the dialplan ----------------------------------------------------------------
    def start(self, chan: Channel) -> None:
        """``ast_pbx_start``: run the channel's dialplan from where it stands."""
        chan.in_pbx = True
        chan.task = self.spawn(self._pbx(chan))  # type: ignore[assignment]

    def set_app(self, chan: Channel, app: str, data: str) -> None:
        """``pbx_exec``: the channel now runs ``app`` (a snapshot, so maybe a Newexten)."""
        chan.appl, chan.data = app, data
        if chan.exten != "h":
            chan.cdr_app = (app, data)
        self.publish(chan)

    async def execute(self, chan: Channel, app: str, data: str) -> int | None:
        handler = self.apps.get(app.lower())
        if handler is None:
            log.info("application %s is not simulated; %s hangs up", app, chan.name)
            return HANGUP
        self.set_app(chan, app, data)
        try:
            return await handler(chan, data)
        except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
            raise
        except Exception:  # a simulator bug must not leave a channel that never hangs up
            log.exception("application %s(%s) failed on %s; it hangs up", app, data, chan.name)
            return HANGUP

    async def _pbx(self, chan: Channel) -> None:
        """``__ast_pbx_run``."""
        while True:
            try:
                await self._steps(chan)
            except asyncio.CancelledError:
                if self.closing:
                    raise
                _uncancel()
            if chan.goto is not None and not chan.softhangup & ~SOFTHANGUP_ASYNCGOTO:
                chan.context, chan.exten, chan.priority = chan.goto
                chan.goto, chan.softhangup = None, 0
                continue
            break
        chan.in_pbx = False
        self.softhangup(chan, SOFTHANGUP_APPUNLOAD)
        # Let the threads that asked for this hangup go on first: a failed Originate reports
        # between this SoftHangupRequest and the h extension (20_behaviour/noanswer, congestion).
        # A later hangup request must not cancel this channel's own end.
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            if self.closing:
                raise
            _uncancel()
        if self.dialplan.exists(chan.context, "h"):
            chan.cdr_exten = chan.exten
            chan.exten, chan.priority = "h", 1
            while (step := self.dialplan.find(chan.context, "h", chan.priority)) is not None:
                data = substitute(step.data, lambda name, c=chan: self.vars.lookup(c, name))
                self.set_app(chan, step.app, data)
                chan.priority += 1
        chan.appl, chan.data = chan.home
        await self.hangup(chan)

    async def _steps(self, chan: Channel) -> int | None:
        while not chan.softhangup:
            step = self.dialplan.find(chan.context, chan.exten, chan.priority)
            if step is None:
                return HANGUP
            position = (chan.context, chan.exten, chan.priority)
            data = substitute(step.data, lambda name, c=chan: self.vars.lookup(c, name))
            if await self.execute(chan, step.app, data) == HANGUP:
                return HANGUP
            if chan.goto is not None:
                return None
            if (chan.context, chan.exten, chan.priority) == position:
                chan.priority += 1
        return None

    def redirect(self, chan: Channel, context: str, exten: str, priority: int) -> None:
        """``ast_async_goto``: a bridged channel shows its new place at once and leaves the
        bridge; one in the dialplan continues there after its current application."""
        chan.goto = (context, exten, priority)
        if chan.bridge is not None:
            chan.context, chan.exten, chan.priority = chan.goto
            self.publish(chan)
            chan.bridge.leave(chan)
            return
        if chan.in_pbx or chan.task is not None:  # the dialplan, or an Originate's application
            chan.softhangup |= SOFTHANGUP_ASYNCGOTO
            _wake(chan)
            return
        chan.context, chan.exten, chan.priority = chan.goto
        chan.goto = None
        self.start(chan)

    # -- hanging up ------------------------------------------------------------------
    def softhangup(self, chan: Channel, flag: int, *, cause: int | None = None,
                   publish: bool = True) -> None:
        """``ast_softhangup`` (a SoftHangupRequest) or, with ``publish=False``,
        ``ast_softhangup_nolock`` as the AMI Hangup action uses it (no event)."""
        if chan.dead:
            return
        if cause is not None:
            chan.hangupcause = cause
        chan.softhangup |= flag
        if publish:
            self.emit("SoftHangupRequest", perms.CALL,
                      [*chan.state_headers(), ("Cause", str(flag))])
        if flag == SOFTHANGUP_APPUNLOAD:
            return
        _wake(chan)
        if chan.bridge is not None:
            chan.bridge.leave(chan)
        elif chan.outcome is not None:  # being dialed: its dialer hears it and hangs it up
            resolve(chan, self.dial.status_for(chan))
        elif not chan.in_pbx and chan.task is None:
            self.spawn(self.hangup(chan))

    def queue_hangup(self, chan: Channel, cause: int) -> None:
        """``ast_queue_hangup_with_cause``: a HangupRequest, and the channel ends."""
        if chan.dead or chan.ending:
            return
        self.emit("HangupRequest", perms.CALL, [*chan.state_headers(), ("Cause", str(cause))])
        if cause:
            chan.hangupcause = cause
        self.softhangup(chan, SOFTHANGUP_DEV, publish=False)

    async def hangup(self, chan: Channel, *, before: Callable[[], None] | None = None) -> None:
        """``ast_hangup``: the channel's end. ``before`` runs just before its Hangup event."""
        if chan.dead or chan.ending:
            return
        chan.ending = True
        for timer in chan.timers:
            timer.cancel()
        if chan.bridge is not None:
            chan.bridge.leave(chan)
        resolve(chan, self.dial.status_for(chan))
        other = chan.peer
        if other is not None and not other.dead and not other.ending:
            await self._unreal_hangup(chan, other)
            if before is not None:
                await asyncio.sleep(0)
        if before is not None:
            before()
        chan.dead = True
        self.publish(chan)
        self.cel(chan, "HANGUP", records.hangup_extra(chan, chan.hangupsource))
        self.cel(chan, "CHAN_END")
        for peer, last in chan.cdr_segments:
            self.emit("Cdr", perms.CDR, records.cdr(chan, peer, last))
        if not chan.cdr_party_b:
            self.emit("Cdr", perms.CDR, records.cdr(chan, chan.cdr_peer, chan.cdr_app))
        self.device_state(chan, ended=True)
        self.channels.pop(chan.name, None)
        if not any(c.linkedid == chan.linkedid for c in self.channels.values()):
            self.cel(chan, "LINKEDID_END")

    async def _unreal_hangup(self, chan: Channel, other: Channel) -> None:
        """``unreal_hangup``: tell the other half of a Local pair."""
        if chan.outbound:
            status = chan.variables.get("DIALSTATUS")
            if status is not None:
                other.hangupcause = chan.hangupcause
                self.varset(other, "CHANLOCALSTATUS", status)
        if other.in_pbx or other.task is not None or other.outcome is not None \
                or other.bridge is not None:
            self.queue_hangup(other, chan.hangupcause)
        else:  # it never ran: unreal_hangup hangs it up itself
            await self.hangup(other)


def resolve(chan: Channel, status: str) -> None:
    """Tell whoever dials ``chan`` how it went (the frame its dialer reads)."""
    if chan.outcome is not None and not chan.outcome.done():
        chan.outcome.set_result(status)


def _wake(chan: Channel) -> None:
    """Interrupt what the channel's thread is waiting for (``ast_softhangup``'s signal)."""
    if chan.task is not None and not chan.task.done() and chan.task is not asyncio.current_task():
        chan.task.cancel()


def _uncancel() -> None:
    """Forget a cancellation that was a hangup or redirect request (see :func:`_wake`)."""
    task = asyncio.current_task()
    if task is not None:
        while task.uncancel():
            pass


def _local_target(device: str) -> tuple[str, str]:
    exten, _, context = device.partition("/")[2].partition("@")
    return context, exten
