"""Replay: a recording's events published through the simulator's fronts as if they happened now.

``Simulator(replay="busy.rawman", speed=20)`` serves the same HTTP and TCP AMI as ever, but
its events come from the recording: every logged-in session receives them in the recorded
order, the recorded gaps divided by ``speed``, every header as recorded except
``Timestamp``, and filtered by each user's read permission and event mask as live events
are. Playback begins when the first session logs in (or on :meth:`Replay.play`), so a client
that connects first misses nothing.

``Timestamp`` is moved to the replay's clock (``timestamps="shifted"``, the default): the
recording is moved to the moment playback began, gaps kept as recorded, so durations and
the tables of what was watched read as they did on the day (at any speed).
``timestamps="original"`` keeps the recorded values; ``timestamps="wall"`` stamps each
event with the moment it is published (gaps shrink with the speed).

The read-only actions describe the PBX at the replay position
(:mod:`amikit.sim.replay_actions`); control is :meth:`~Replay.pause`, :meth:`~Replay.resume`,
:meth:`~Replay.seek` and :attr:`~Replay.speed`, from any thread::

    >>> import amikit
    >>> from amikit import AMIClient, Simulator
    >>> with Simulator(port=0, replay=amikit.sample_recording(), speed=float("inf")) as sim:
    ...     with AMIClient(sim.url, "hello", "world") as ami:
    ...         sim.replay.wait(30)
    ...         sim.replay.published
    True
    610

No session loses an event to the speed: while one holds half its queue
(:data:`~amikit.sim.manager.QUEUE_LIMIT`) unread, publishing waits for it, so "unlimited"
speed means as fast as the slowest reader takes them.

The recording streams from disk (:mod:`amikit.sim.replay_source`): memory holds one chunk of
the file and the PBX state, whatever the file's size. A backward seek reads again from the
nearest checkpoint (the state kept every 50,000 events) or from the start.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import datetime as dt
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable
from typing import Literal

from amikit.errors import AMIError
from amikit.sim.events import Event, EventBus
from amikit.sim.manager import QUEUE_LIMIT
from amikit.sim.perms import parse_privilege
from amikit.sim.replay_source import Recorded, Recording
from amikit.sim.replay_state import ReplayState

__all__ = ["Replay", "ReplayError", "Timestamps", "recording_time"]

log = logging.getLogger("amikit.sim")

Timestamps = Literal["shifted", "original", "wall"]
TimeLike = float | int | str | dt.datetime
_TIME_OF_DAY = re.compile(r"\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$")
CHECKPOINT_EVERY = 50_000  # events between kept states, for backward seeks
SEEK_WAIT = 60.0  # seconds seek() waits for the state to reach its target
CONTROL_WAIT = 5.0  # seconds a control call from another thread waits for the loop
YIELD_EVERY = 200  # events published at unlimited speed before the loop serves the fronts
READER_LAG = QUEUE_LIMIT // 2  # unread events in a session's queue that pause publishing
SLOW_READER_WAIT = 0.02  # seconds between looks at a lagging reader


class ReplayError(AMIError, ValueError):
    """A replay setting out of range: a speed that is not positive, a time outside the
    recording, an unknown ``timestamps`` mode."""


def recording_time(value: TimeLike, first: float) -> float:
    """A time in the recording as epoch seconds: a number is seconds from its first event;
    a datetime (naive: UTC) or an ISO string is absolute; ``"HH:MM[:SS]"`` is that time of
    the first event's day (UTC).

        >>> recording_time(90, 1000.0)
        1090.0
        >>> recording_time("1970-01-01T00:20:00+00:00", 0.0), recording_time("00:20", 0.0)
        (1200.0, 1200.0)
    """
    if isinstance(value, bool):
        raise ReplayError(f"not a time in the recording: {value!r}")
    if isinstance(value, int | float):
        return first + float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return first + float(text)
        except ValueError:
            pass
        try:
            if _TIME_OF_DAY.match(text):
                day = dt.datetime.fromtimestamp(first, dt.UTC).date()
                value = dt.datetime.combine(day, dt.time.fromisoformat(text))
            else:
                value = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ReplayError(f"not a time in the recording: {text!r} (seconds from its start, "
                              "HH:MM:SS or an ISO date and time)") from None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp()
    raise ReplayError(f"not a time in the recording: {value!r}")


def _utc(seconds: float | None) -> dt.datetime | None:
    return None if seconds is None else dt.datetime.fromtimestamp(seconds, dt.UTC)


def _check_speed(speed: float) -> float:
    try:
        speed = float(speed)
    except (TypeError, ValueError):
        raise ReplayError(f"speed must be a number, not {speed!r}") from None
    if not speed > 0:  # also refuses NaN
        raise ReplayError(f"speed must be above 0 (float('inf') for no waiting), not {speed}")
    return speed


class Replay:
    """The playback of one recording on a simulator's loop. Made by :class:`~amikit.Simulator`
    (``replay=``); its methods may be called from any thread.

    Attributes:
        recording: the :class:`~amikit.sim.replay_source.Recording` played.
        state: the PBX the events so far describe (:class:`~amikit.sim.replay_state.ReplayState`).
        published: events published so far (all loops).
        loops: how many times playback started again from the beginning (``loop=True``).
    """

    def __init__(self, source: str | os.PathLike[str] | bytes | Recording,
                 bus: EventBus | None = None, *,
                 speed: float = 1.0, start: TimeLike | None = None, end: TimeLike | None = None,
                 loop: bool = False, timestamps: Timestamps = "shifted") -> None:
        self.recording = source if isinstance(source, Recording) else Recording(source)
        if timestamps not in ("shifted", "original", "wall"):
            raise ReplayError(f"timestamps must be 'shifted', 'original' or 'wall', not {timestamps!r}")
        first = self.recording.first_time or 0.0
        self.start_time = recording_time(start, first) if start is not None else first
        last = self.recording.last_time
        self.end_time = recording_time(end, first) if end is not None else None
        if self.end_time is not None and self.end_time < self.start_time:
            raise ReplayError(f"the replay would end ({_utc(self.end_time)}) before it starts "
                              f"({_utc(self.start_time)})")
        if last is not None and self.start_time > last:
            raise ReplayError(f"the recording ends at {_utc(last)}, before {_utc(self.start_time)}")
        self.bus = bus
        self.loop = loop
        self.timestamps: Timestamps = timestamps
        self._speed = _check_speed(speed)
        self._paused = False
        self._aloop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._finished = threading.Event()
        self._seekers: list[threading.Event] = []  # seek() calls waiting for their target
        self._reset()

    def _reset(self) -> None:
        """Back to before the first event (a simulator started again replays from the start)."""
        self.state = ReplayState()
        self.published = 0
        self.loops = 0
        self.error: BaseException | None = None
        self._playing = False
        self._finished.clear()
        self._settle()
        self._position: float | None = None  # recording time reached (last event taken)
        self._seek_to: float | None = None
        self._offset = 0.0  # shifted Timestamp = recorded + offset
        self._anchor: tuple[float, float] | None = None  # (wall, recording) of the pace
        self._played_wall = 0.0  # seconds spent playing (not paused), for the rate
        self._since: float | None = None
        self._checkpoints: list[tuple[float, int, ReplayState]] = []

    def __repr__(self) -> str:
        where = self.position.isoformat(timespec="seconds") if self.position else "the start"
        status = ("finished" if self.finished else "paused" if self.paused
                  else "playing" if self._playing else "waiting for a login")
        return (f"<Replay {self.recording.name} {status} at {where}, {self.published} events, "
                f"speed {self._speed:g}>")

    # -- what it shows ---------------------------------------------------------------------
    @property
    def speed(self) -> float:
        """How many times faster than recorded (``float("inf")``: no waiting at all)."""
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        value = _check_speed(value)
        self._control(lambda: self._set_speed(value))

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def playing(self) -> bool:
        """Started, not paused and not finished."""
        return self._playing and not self._paused and not self.finished

    @property
    def finished(self) -> bool:
        """The last event (of the last loop) has been published."""
        return self._finished.is_set()

    @property
    def start(self) -> dt.datetime:
        """Where playback begins (the recording's first event, or ``start=``), UTC."""
        return _utc(self.start_time)  # type: ignore[return-value]

    @property
    def end(self) -> dt.datetime | None:
        """Where it ends (``end=``, else the recording's last Timestamp), UTC; None if unknown."""
        return _utc(self.end_time if self.end_time is not None else self.recording.last_time)

    @property
    def position(self) -> dt.datetime | None:
        """The recording time reached (the last event published or skipped), UTC."""
        return _utc(self._position if self._position is not None else self.start_time)

    @property
    def elapsed(self) -> float:
        """Seconds of the recording played from ``start`` to ``position``."""
        return max(0.0, (self._position or self.start_time) - self.start_time)

    @property
    def duration(self) -> float | None:
        """Seconds from ``start`` to ``end`` (None when the end is unknown)."""
        end = self.end_time if self.end_time is not None else self.recording.last_time
        return None if end is None else max(0.0, end - self.start_time)

    @property
    def rate(self) -> float:
        """Events published per second of playing time so far (pauses not counted)."""
        seconds = self._played_wall + (time.monotonic() - self._since if self._since else 0.0)
        return self.published / seconds if seconds > 0 else 0.0

    def wait(self, timeout: float | None = None) -> bool:
        """Block until playback finished (True) or ``timeout`` seconds passed (False)."""
        return self._finished.wait(timeout)

    # -- control ---------------------------------------------------------------------------
    def play(self) -> None:
        """Start now, without waiting for a login; or resume after :meth:`pause`."""
        self._control(self._begin_or_resume, needs_loop=True)

    def pause(self) -> None:
        """Hold the next event until :meth:`resume` (or :meth:`play`)."""
        self._control(self._pause)

    def resume(self) -> None:
        """Go on after :meth:`pause` (and start, if no one has logged in yet)."""
        self._control(self._begin_or_resume, needs_loop=True)

    def seek(self, when: TimeLike) -> None:
        """Jump to a time of the recording (see :func:`recording_time`): the state becomes
        the PBX's at that time and playback goes on from there (paused, if it was); the
        events skipped over are not published (those after the target, after a backward
        seek, are published again). Once playing, it returns when the state has reached the
        target, so the next read-only action describes that moment; a finished replay plays
        on from the target."""
        target = recording_time(when, self.recording.first_time or 0.0)
        end = self.end_time if self.end_time is not None else self.recording.last_time
        if target < self.start_time or (end is not None and target > end):
            raise ReplayError(f"{_utc(target)} is outside the replay ({self.start} to {self.end})")
        reached = threading.Event()
        self._control(lambda: self._seek(target, reached))
        if self._playing and not self._on_loop():
            # the state is the PBX's at the target once this returns (a read from disk)
            reached.wait(SEEK_WAIT)

    # -- on the loop -------------------------------------------------------------------------
    def attach(self, loop: asyncio.AbstractEventLoop, bus: EventBus) -> None:
        """Start the playback task on the simulator's loop (from within it), publishing to
        ``bus``; a replay attached again starts from the beginning."""
        if self._task is not None:
            self._reset()
        self.bus = bus
        self._aloop = loop
        self._changed = asyncio.Event()
        self._go = asyncio.Event()
        self._task = loop.create_task(self._run())

    def detach(self) -> None:
        """Stop the playback task (the simulator is closing)."""
        if self._task is not None:
            self._task.cancel()

    def current_state(self) -> ReplayState:
        """The state at the current position (a new object after a seek or a loop)."""
        return self.state

    def on_login(self) -> None:
        """A session started receiving events: the first one starts playback (still held if
        :meth:`pause` came first)."""
        if not self._playing:
            self._start()

    def _start(self) -> None:
        self._playing = True
        self._go.set()
        if not self._paused and self._since is None:
            self._since = time.monotonic()
        self._anchor = None
        self._wake()

    def _control(self, action: Callable[[], None], *, needs_loop: bool = False) -> None:
        loop = self._aloop
        if loop is None or loop.is_closed():
            if needs_loop:
                raise AMIError("start the simulator before playing its replay (sim.start(), "
                               "or with); pause, seek and speed may be set before")
            action()  # nothing runs yet: the setting waits for the start
            return
        if self._on_loop() or not loop.is_running():
            action()  # on the loop, or a loop that runs nothing now (the simulator stopped)
            return
        # from another thread: done on the loop, and waited for, so that what a control
        # call changes (paused, speed, the state after a seek) is so when it returns
        done: concurrent.futures.Future[None] = concurrent.futures.Future()

        def run() -> None:
            try:
                action()
            except BaseException as exc:  # pragma: no cover - the actions only set fields
                done.set_exception(exc)
            else:
                done.set_result(None)

        loop.call_soon_threadsafe(run)
        try:
            done.result(CONTROL_WAIT)
        except concurrent.futures.TimeoutError:
            log.warning("the replay's loop did not take a control call within %s s", CONTROL_WAIT)

    def _on_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._aloop
        except RuntimeError:
            return False

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()

    def _begin_or_resume(self) -> None:
        self._paused = False
        self._start()

    def _pause(self) -> None:
        if not self._paused and self._since is not None:
            self._played_wall += time.monotonic() - self._since
            self._since = None
        self._paused = True
        self._wake()

    def _set_speed(self, value: float) -> None:
        self._speed = value
        self._anchor = None  # the pace starts again from the next event
        self._wake()

    def _seek(self, target: float, reached: threading.Event) -> None:
        self._seek_to = target
        self._seekers.append(reached)
        self._wake()

    def _settle(self) -> None:
        """The seeks asked for have reached their target (or the end): their callers go on."""
        while self._seekers:
            self._seekers.pop().set()

    async def _run(self) -> None:
        await self._go.wait()
        self._offset = time.time() - self.start_time
        skip_to = self.start_time
        while True:
            try:
                await self._play_through(skip_to)
                while self.loop:
                    span = (self._position or self.start_time) - self.start_time
                    self.loops += 1
                    self._offset += span + 1.0  # the next loop's clock goes on, a second later
                    await self._play_through(self.start_time)
            except Exception as exc:  # a recording that goes bad mid-way ends the replay, said once
                self.error = exc
                log.error("the replay of %s stopped: %s", self.recording.name, exc)
            if self._since is not None:
                self._played_wall += time.monotonic() - self._since
                self._since = None
            self._finished.set()
            self._settle()
            skip_to = await self._next_seek()  # a seek after the end plays on from there
            self._finished.clear()
            if not self._paused:
                self._since = time.monotonic()

    async def _next_seek(self) -> float:
        assert self._changed is not None
        while self._seek_to is None:
            self._changed.clear()
            await self._changed.wait()
        target, self._seek_to = self._seek_to, None
        return target

    async def _play_through(self, skip_to: float) -> None:
        """Read the recording from its start (or a checkpoint); publish from ``skip_to`` on,
        in time; read again from wherever a backward seek asks."""
        while True:
            target = await self._read(self._restore(skip_to), skip_to)
            if target is None:
                return
            skip_to = target

    def _restore(self, skip_to: float) -> int:
        """Go back to the last checkpoint before ``skip_to`` (or the start); its file offset."""
        kept = [c for c in self._checkpoints if c[0] < skip_to]
        self._position = None
        if not kept:
            self.state = ReplayState()
            return 0
        _at, offset, state = kept[-1]
        self.state = copy.deepcopy(state)
        return offset

    async def _read(self, resume: int, skip_to: float) -> float | None:
        """Publish the events from byte ``resume`` on, those before ``skip_to`` only taken
        into the state; returns a backward seek's target, or None at the end."""
        since_checkpoint = 0
        for batch in self.recording.batches(resume):
            for recorded in batch.events:
                at = recorded.at
                if self.end_time is not None and at is not None and at > self.end_time:
                    return None
                while at is None or at >= skip_to:
                    target = await self._until_due(at)
                    if target is None:
                        break
                    self._seek_to, self._anchor = None, None
                    reached = self._position if self._position is not None else self.start_time
                    if target < reached:
                        return target
                    skip_to = target  # forward: read on, taking events in silently
                if at is not None and at < skip_to:
                    self.state.apply(recorded.event, at)
                    self._position = at
                else:
                    self._publish(recorded)
            await asyncio.sleep(0)  # a chunk read: let the fronts answer before the next
            since_checkpoint += len(batch.events)
            if since_checkpoint >= CHECKPOINT_EVERY and self.state.now is not None:
                if not self._checkpoints or self._checkpoints[-1][1] < batch.resume:
                    self._checkpoints.append((self.state.now, batch.resume, copy.deepcopy(self.state)))
                since_checkpoint = 0
        return None

    async def _until_due(self, at: float | None) -> float | None:
        """Wait until the event at recording time ``at`` is due (paused time not counted);
        a seek cuts the wait short and its target is returned."""
        assert self._changed is not None
        if self._seek_to is None and self._seekers:
            self._settle()  # the event due next is the target's: the seeks are done
        while True:
            if self._seek_to is not None:
                return self._seek_to
            if self._paused:
                self._changed.clear()
                await self._changed.wait()
                continue
            if self._readers_behind():
                await asyncio.sleep(SLOW_READER_WAIT)
                self._anchor = None  # the time waited is not made up by rushing after
                continue
            if math.isinf(self._speed) or at is None:
                if self.published % YIELD_EVERY == 0:
                    await asyncio.sleep(0)
                return None
            now = time.monotonic()
            if self._anchor is None:
                self._anchor = (now, at)
            wall, recorded = self._anchor
            delay = wall + (at - recorded) / self._speed - now
            if delay <= 0:
                return None
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=delay)
            except TimeoutError:
                return None

    def _readers_behind(self) -> bool:
        """A session holds half its queue unread: wait for it rather than make it drop
        events (a replay never loses one for a slow reader). A session that stops polling
        altogether expires (httptimeout) and no longer holds the replay back."""
        if self.published % 64 or self.bus is None:
            return False
        return any(len(queue.events) >= READER_LAG for queue in self.bus.queues)

    def _publish(self, recorded: Recorded) -> None:
        message, at = recorded.event, recorded.at
        self.state.apply(message, at)
        if at is not None:
            self._position = at
        headers = list(message.headers)
        if self.timestamps != "original":
            for i, (name, _value) in enumerate(headers):
                if name.lower() == "timestamp":
                    moved = time.time() if self.timestamps == "wall" or at is None else at + self._offset
                    headers[i] = (name, f"{moved:.6f}")
                    break
        assert self.bus is not None
        self.bus.deliver(Event(message.name or "", parse_privilege(message.get("Privilege")), headers))
        self.published += 1

