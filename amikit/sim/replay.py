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

A session that stops reading (no WaitEvent for a few seconds) no longer holds it back: its
queue then fills and drops its oldest events, counted, as for live events.

The recording streams from disk (:mod:`amikit.sim.replay_source`): memory holds one chunk of
the file and the PBX state, whatever the file's size. A backward seek reads again from the
nearest checkpoint (the state kept every 50,000 events) or from the start. A recording
without times (Asterisk writes ``Timestamp`` only with ``timestampevents = yes``) plays in
order as fast as it is read; ``speed``, ``start``, ``end`` and :meth:`~Replay.seek` need times.
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
from amikit.message import Message
from amikit.sim.events import Event, EventBus
from amikit.sim.manager import QUEUE_LIMIT
from amikit.sim.perms import parse_privilege
from amikit.sim.replay_source import Recorded, Recording
from amikit.sim.replay_state import ReplayState
from amikit.sim.waiting import wait_at_most

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
LATE_EVENTS = 1.0  # seconds past ``end`` the recording is still read for events out of order
READER_PATIENCE = 5.0  # seconds without a read after which a session holds nothing back


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
        >>> recording_time("nan", 0.0)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        amikit.sim.replay.ReplayError: not a time in the recording: 'nan' (seconds from its start, ...)
    """
    if isinstance(value, bool):
        raise ReplayError(f"not a time in the recording: {value!r}")
    if isinstance(value, int | float):
        seconds = first + float(value)
    elif isinstance(value, str):
        seconds = _parse_time(value.strip(), first)
    elif isinstance(value, dt.datetime):
        seconds = (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()
    else:
        raise ReplayError(f"not a time in the recording: {value!r}")
    if not math.isfinite(seconds) or abs(seconds - first) > MAX_SPAN:
        raise ReplayError(f"not a time in the recording: {value!r} (seconds from its start, "
                          "HH:MM:SS or an ISO date and time)")
    return seconds


MAX_SPAN = 100 * 365 * 86400.0  # a time further from the recording is no time of it


def _parse_time(text: str, first: float) -> float:
    try:
        return first + float(text)
    except ValueError:
        pass
    try:
        if _TIME_OF_DAY.match(text):
            day = dt.datetime.fromtimestamp(first, dt.UTC).date()
            when = dt.datetime.combine(day, dt.time.fromisoformat(text))
        else:
            when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ReplayError(f"not a time in the recording: {text!r} (seconds from its start, "
                          "HH:MM:SS or an ISO date and time)") from None
    return (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).timestamp()


def _utc(seconds: float | None) -> dt.datetime | None:
    return None if seconds is None else dt.datetime.fromtimestamp(seconds, dt.UTC)


def when(seconds: float) -> str:
    """A recording time as people read it in messages.

        >>> when(1795675834.341609)
        '2026-11-26 06:50:34.341 UTC'
    """
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return f"{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond // 1000:03d} UTC"


def parse_speed(value: float | str) -> float:
    """A replay speed: a number above 0, or ``inf`` (also ``max``, ``unlimited``) for no
    waiting; ``"5x"`` is 5.

        >>> parse_speed("20"), parse_speed("5x"), parse_speed("max")
        (20.0, 5.0, inf)
    """
    text = str(value).strip().lower()
    if text in ("max", "unlimited"):
        return math.inf
    text = text.removesuffix("x").removesuffix("×")  # "5x", as the command line prints it
    try:
        speed = float(text)
    except ValueError:
        raise ReplayError(f"speed must be a number above 0 or max, not {value!r}") from None
    if not speed > 0:  # also refuses NaN
        raise ReplayError(f"speed must be a number above 0 or max (float('inf')), not {value!r}")
    return speed


class Replay:
    """The playback of one recording on a simulator's loop. Made by :class:`~amikit.Simulator`
    (``replay=``); its methods may be called from any thread, and from another thread they
    return once the simulator has done them.

        >>> import amikit
        >>> replay = Replay(amikit.sample_recording(), speed=10, start=2.5)
        >>> round(replay.duration, 1), replay.start.isoformat(timespec="seconds")
        (3.5, '2026-11-26T06:44:14+00:00')
        >>> replay.pause(); replay.speed = 2; replay.seek(4); replay.speed, replay.paused
        (2.0, True)

    Attributes:
        recording: the :class:`~amikit.sim.replay_source.Recording` played.
        state: the PBX the events taken in so far describe
            (:class:`~amikit.sim.replay_state.ReplayState`).
        published: events published so far (all loops).
        loops: how many times playback started again from the beginning (``loop=True``).
        error: what stopped the replay early (a recording damaged mid-way), else None.
    """

    def __init__(self, source: str | os.PathLike[str] | bytes | Recording,
                 bus: EventBus | None = None, *,
                 speed: float | str = 1.0, start: TimeLike | None = None,
                 end: TimeLike | None = None, loop: bool = False,
                 timestamps: Timestamps = "shifted") -> None:
        self.recording = source if isinstance(source, Recording) else Recording(source)
        if timestamps not in ("shifted", "original", "wall"):
            raise ReplayError(f"timestamps must be 'shifted', 'original' or 'wall', not {timestamps!r}")
        self._speed = parse_speed(speed)
        first = self.recording.first_time
        if first is None:
            if start is not None or end is not None:
                raise ReplayError(f"{self.recording.name} has no times (no Timestamp: Asterisk "
                                  "writes them with timestampevents = yes), so no part of it can "
                                  "be chosen: it plays whole, in order")
            log.info("%s has no times: it plays in order, as fast as it is read",
                     self.recording.name)
        self.start_time = first if start is None or first is None else recording_time(start, first)
        self.end_time = None if end is None or first is None else recording_time(end, first)
        if self.end_time is not None and self.end_time < (self.start_time or 0.0):
            raise ReplayError(f"the replay would end ({when(self.end_time)}) before it starts "
                              f"({when(self.start_time or 0.0)})")
        if self.start_time is not None:
            self._check_within(self.start_time, "the replay cannot start at")
        self.bus = bus
        self.loop = loop
        self.timestamps: Timestamps = timestamps
        self._paused = False
        self._aloop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Event | None = None
        self._go: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._finished = threading.Event()
        self._seekers: list[threading.Event] = []  # seek() calls waiting for their target
        self._seek_to: float | None = None
        self._reset()

    def _reset(self) -> None:
        """Back to before the first event (a simulator started again replays from the start;
        a seek asked while it was stopped still applies)."""
        self.state = ReplayState()
        self._shown = self.state  # what the actions describe: never a state half rebuilt
        self.published = 0
        self.refused = 0  # events not replayed: a header with a line break
        self.loops = 0
        self.error: BaseException | None = None
        self._playing = False
        self._finished.clear()
        self._settle()
        self._position: float | None = None  # recording time reached (last event taken)
        self._offset: float | None = None  # shifted Timestamp = recorded + offset
        # the replay's clock while playing: (monotonic time, recording time) it was at then,
        # running ``speed`` times faster; None: the next event is due at once. A pause keeps
        # the recording time it stopped at in ``_held``
        self._clock: tuple[float, float] | None = None
        self._held: float | None = None
        self._again = False  # play() on a finished replay: its shifted clock moves on
        self._played_wall = 0.0  # seconds spent playing (not paused), for the rate
        self._since: float | None = None
        self._checkpoints: list[tuple[float, int, ReplayState]] = []

    def __repr__(self) -> str:
        where = f" at {when(self._position)}" if self._position is not None else ""
        status = ("finished" if self.finished else "paused" if self.paused
                  else "playing" if self._playing else "waiting for a login")
        return (f"<Replay {self.recording.name} {status}{where}, {self.published} events, "
                f"speed {self._speed:g}>")

    def _check_within(self, at: float, what: str) -> None:
        end = self._end
        first = self.recording.first_time
        if first is not None and (at < first or (end is not None and at > end)):
            span = f"{when(first)} to {when(end)}" if end is not None else f"from {when(first)}"
            raise ReplayError(f"{what} {when(at)}: the recording runs {span}")

    @property
    def _end(self) -> float | None:
        return self.end_time if self.end_time is not None else self.recording.last_time

    # -- what it shows ---------------------------------------------------------------------
    @property
    def speed(self) -> float:
        """How many times faster than recorded (``float("inf")``: no waiting at all)."""
        return self._speed

    @speed.setter
    def speed(self, value: float | str) -> None:
        speed = parse_speed(value)
        self._control(lambda: self._set_speed(speed))

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def playing(self) -> bool:
        """Started, not paused and not finished."""
        return self._playing and not self._paused and not self.finished

    @property
    def finished(self) -> bool:
        """The last event (of the last loop) has been published, or the simulator stopped."""
        return self._finished.is_set()

    @property
    def start(self) -> dt.datetime | None:
        """Where playback begins (the recording's first time, or ``start=``), UTC; None for
        a recording without times."""
        return _utc(self.start_time)

    @property
    def end(self) -> dt.datetime | None:
        """Where it ends (``end=``, else the recording's last Timestamp), UTC; None if unknown."""
        return _utc(self._end)

    @property
    def position(self) -> dt.datetime | None:
        """The recording time reached (the last event published or skipped), UTC."""
        return _utc(self._position if self._position is not None else self.start_time)

    @property
    def elapsed(self) -> float:
        """Seconds of the recording played from ``start`` to ``position``."""
        if self.start_time is None:
            return 0.0
        return max(0.0, (self._position or self.start_time) - self.start_time)

    @property
    def duration(self) -> float | None:
        """Seconds from ``start`` to ``end`` (None when either is unknown)."""
        end = self._end
        return None if end is None or self.start_time is None else max(0.0, end - self.start_time)

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
        """Start now, without waiting for a login; resume after :meth:`pause`; play a
        finished replay again from its start."""
        self._control(self._begin_or_resume, needs_loop=True)

    def pause(self) -> None:
        """Hold the next event until :meth:`resume` (or :meth:`play`)."""
        self._control(self._pause)

    def resume(self) -> None:
        """Go on after :meth:`pause` (and start, if no one has logged in yet)."""
        self._control(self._begin_or_resume, needs_loop=True)

    def seek(self, when_: TimeLike) -> None:
        """Jump to a time of the recording (see :func:`recording_time`): the state becomes
        the PBX's at that time and playback goes on from there (paused, if it was); the
        events skipped over are not published (those after the target, after a backward
        seek, are published again). Once playing, it returns when the state has reached the
        target, so the next read-only action describes that moment; a finished replay plays
        on from the target."""
        first = self.recording.first_time
        if first is None:
            raise ReplayError(f"{self.recording.name} has no times: it cannot be sought in")
        target = recording_time(when_, first)
        self._check_within(target, "cannot seek to")
        if target < (self.start_time or first):
            raise ReplayError(f"cannot seek to {when(target)}: the replay starts at "
                              f"{when(self.start_time or first)}")
        reached = threading.Event()
        self._control(lambda: self._seek(target, reached))
        if self._playing and self._running() and not self._on_loop() \
                and not reached.wait(SEEK_WAIT):  # the state is the target's on return
            log.warning("the replay had not reached %s after %s s; it goes on seeking",
                        when(target), SEEK_WAIT)

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

    async def detach(self) -> None:
        """End the playback task (the simulator is closing): the file is closed, ``wait()``
        and pending seeks return."""
        task = self._task
        while task is not None and not task.done():  # a cancel may be swallowed: ask again
            task.cancel()
            await asyncio.wait({task}, timeout=0.5)
        self._stop_clock()
        self._playing = False
        self._seek_to = None
        self._finished.set()
        self._settle()

    def current_state(self) -> ReplayState:
        """The state the read-only actions describe: the current position's, or during a
        backward seek the one before it until the new one is complete."""
        return self._shown

    def on_login(self) -> None:
        """A session started receiving events: the first one starts playback (still held if
        :meth:`pause` came first)."""
        if not self._playing:
            self._start()

    def _running(self) -> bool:
        return self._aloop is not None and self._aloop.is_running() and self._task is not None \
            and not self._task.done()

    def _start(self) -> None:
        self._playing = True
        assert self._go is not None
        self._go.set()
        if not self._paused and self._since is None:
            self._since = time.monotonic()
        self._wake()

    def _control(self, action: Callable[[], None], *, needs_loop: bool = False) -> None:
        loop = self._aloop
        if not self._running():
            if needs_loop:
                raise AMIError("start the simulator before playing its replay (sim.start(), "
                               "or with); pause, seek and speed may be set before")
            action()  # nothing runs: the setting waits for the (next) start
            return
        assert loop is not None
        if self._on_loop():
            action()
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

    # the replay's clock
    def _now(self) -> float | None:
        """The recording time the clock is at (None: not running at a finite speed)."""
        if self._clock is None or math.isinf(self._speed):
            return None
        wall, recorded = self._clock
        return recorded + (time.monotonic() - wall) * self._speed

    def _stop_clock(self) -> None:
        if self._since is not None:
            self._played_wall += time.monotonic() - self._since
            self._since = None

    def _begin_or_resume(self) -> None:
        if self.finished and self._seek_to is None:
            # play on a finished replay: again from the start (an untimed one from its first
            # event), its clock going on as a loop's does
            self._seek_to = self.start_time if self.start_time is not None else -math.inf
            self._again = True
        if self._seek_to is not None:
            self._finished.clear()
        if self._paused and self._held is not None:
            self._clock = (time.monotonic(), self._held)  # on from where the pause stopped it
        self._held = None
        self._paused = False
        self._start()

    def _pause(self) -> None:
        if not self._paused:
            self._held = self._now()
            self._clock = None
            self._stop_clock()
        self._paused = True
        self._wake()

    def _set_speed(self, value: float) -> None:
        reached = self._now()
        self._speed = value
        # the clock goes on from the recording time it has reached, at the new pace
        self._clock = None if reached is None else (time.monotonic(), reached)
        self._wake()

    def _seek(self, target: float, reached: threading.Event) -> None:
        self._seek_to = target
        if self._running():
            self._finished.clear()  # a finished replay plays on from the target
        self._seekers.append(reached)
        self._wake()

    def _settle(self) -> None:
        """The seeks asked for have reached their target (or the end): their callers go on."""
        self._shown = self.state
        while self._seekers:
            self._seekers.pop().set()

    async def _run(self) -> None:
        assert self._go is not None
        await self._go.wait()
        skip_to = self.start_time
        while True:
            try:
                await self._play_through(skip_to)
                while self.loop:
                    span = (self._position or 0.0) - (self.start_time or 0.0)
                    self.loops += 1
                    if self._offset is not None:  # the next loop's clock goes on, a second later
                        self._offset += span + 1.0
                    await self._play_through(self.start_time)
            except AMIError as exc:  # a recording that goes bad mid-way ends the replay, said once
                self.error = exc
                log.error("the replay of %s stopped: %s", self.recording.name, exc)
            except Exception as exc:  # a fault of amikit's: said in full, and the replay ends
                self.error = exc
                log.exception("the replay of %s stopped", self.recording.name)
            self._stop_clock()
            self._finished.set()
            self._settle()
            skip_to = await self._next_seek()  # a seek after the end plays on from there
            self._finished.clear()
            self.error = None
            if self._again and self._offset is not None:
                self._offset += (self._position or 0.0) - (self.start_time or 0.0) + 1.0
            self._again = False
            if not self._paused:
                self._since = time.monotonic()

    async def _next_seek(self) -> float:
        assert self._changed is not None
        while self._seek_to is None:
            self._changed.clear()
            await self._changed.wait()
        target, self._seek_to = self._seek_to, None
        return target

    async def _play_through(self, skip_to: float | None) -> None:
        """Read the recording from its start (or a checkpoint); publish from ``skip_to`` on,
        in time; read again from wherever a backward seek asks."""
        while True:
            target = await self._read(self._restore(skip_to), skip_to)
            if target is None:
                return
            skip_to = target

    def _restore(self, skip_to: float | None) -> int:
        """Go back to the last checkpoint before ``skip_to`` (or the start): the state then
        (built aside: the actions keep describing the old one until it is complete), the
        clock stopped; returns the file offset to read from."""
        kept = [c for c in self._checkpoints if skip_to is not None and c[0] < skip_to]
        self._position = None
        self._clock = self._held = None
        if not kept:
            self.state = ReplayState()
            return 0
        _at, offset, state = kept[-1]
        self.state = copy.deepcopy(state)
        return offset

    async def _read(self, resume: int, skip_to: float | None) -> float | None:
        """Publish the events from byte ``resume`` on, those before ``skip_to`` only taken
        into the state; returns a backward seek's target, or None at the end."""
        since_checkpoint = 0
        batches = self.recording.batches(resume)
        try:
            for batch in batches:
                for recorded in batch.events:
                    at = recorded.at
                    if self.end_time is not None and at is not None and at > self.end_time:
                        # Asterisk's threads write events up to a few ms out of order: the
                        # ones just past the end are left out, and reading ends a second on
                        if at > self.end_time + LATE_EVENTS:
                            return None
                        continue
                    while skip_to is None or at is None or at >= skip_to:
                        target = await self._until_due(at)
                        if target is None:
                            break
                        self._seek_to = None
                        reached = self._position if self._position is not None else self.start_time
                        if reached is not None and target < reached:
                            return target
                        skip_to = target  # forward: read on, taking events in silently
                        self._clock = self._held = None
                    if at is not None and skip_to is not None and at < skip_to:
                        self.state.apply(recorded.event, at)
                        self._position = at if self._position is None else max(self._position, at)
                    else:
                        self._publish(recorded)
                await asyncio.sleep(0)  # a chunk read: let the fronts answer before the next
                since_checkpoint += len(batch.events)
                if since_checkpoint >= CHECKPOINT_EVERY and self.state.now is not None:
                    if not self._checkpoints or self._checkpoints[-1][1] < batch.resume:
                        self._checkpoints.append((self.state.now, batch.resume,
                                                  copy.deepcopy(self.state)))
                    since_checkpoint = 0
        finally:
            batches.close()  # the file, now, not when the generator is collected
        return None

    async def _until_due(self, at: float | None) -> float | None:
        """Wait until the event at recording time ``at`` is due (paused time not counted);
        a seek cuts the wait short and its target is returned."""
        assert self._changed is not None
        if self._seek_to is None and (self._seekers or self._shown is not self.state):
            self._settle()  # the event due next is the target's: the seeks are done
        yielded = False
        while True:
            if self._seek_to is not None:
                return self._seek_to
            if self._paused:
                self._changed.clear()
                await self._changed.wait()
                continue
            if self._readers_behind():
                waited = time.monotonic()
                await asyncio.sleep(SLOW_READER_WAIT)
                if self._clock is not None:  # the clock stood still meanwhile: the gap stays
                    wall, recorded = self._clock
                    self._clock = (wall + time.monotonic() - waited, recorded)
                continue
            if math.isinf(self._speed) or at is None:
                if not yielded and self.published % YIELD_EVERY == 0:
                    yielded = True
                    await asyncio.sleep(0)  # let the fronts serve; then look at the flags again
                    continue
                return None
            now = time.monotonic()
            if self._clock is None:
                self._clock = (now, at)
            wall, recorded = self._clock
            delay = wall + (at - recorded) / self._speed - now
            if delay <= 0:
                return None
            self._changed.clear()
            if not await wait_at_most(self._changed, delay):
                return None

    def _readers_behind(self) -> bool:
        """A session that reads holds half its queue unread: wait for it rather than make
        it drop events. One that has read nothing for :data:`READER_PATIENCE` seconds (an
        idle notebook session that only sends actions) holds nothing back."""
        if self.published % 64 or self.bus is None:
            return False
        now = time.monotonic()
        return any(len(queue.events) >= READER_LAG and now - queue.read_at < READER_PATIENCE
                   for queue in self.bus.queues)

    def _publish(self, recorded: Recorded) -> None:
        message, at = recorded.event, recorded.at
        if not _safe(message):
            # a line break in a header would read as more messages on the wire: a recording
            # must not speak for the server (no real capture has one)
            self.refused += 1
            if self.refused == 1:
                log.warning("%s: event %s holds a line break in a header; such events are "
                            "not replayed (counted in replay.refused)", self.recording.name,
                            message.name)
            return
        self.state.apply(message, at)
        self._shown = self.state
        if at is not None:
            # the furthest time reached: an event written a little out of order (Asterisk's
            # threads, up to a few ms) does not move the position back
            self._position = at if self._position is None else max(self._position, at)
            if self._offset is None:  # the recording moved to the moment playback began
                self._offset = time.time() - at
        headers = list(message.headers)
        if self.timestamps != "original":
            for i, (name, _value) in enumerate(headers):
                if name.lower() == "timestamp":
                    moved = (time.time() if self.timestamps == "wall" or at is None
                             or self._offset is None else at + self._offset)
                    headers[i] = (name, f"{moved:.6f}")
                    break
        assert self.bus is not None
        self.bus.deliver(Event(message.name or "", parse_privilege(message.get("Privilege")), headers))
        self.published += 1


def _safe(message: Message) -> bool:
    """No CR or LF in a header, no colon in a name: it renders as the one message it is."""
    return not any("\r" in name or "\n" in name or ":" in name or "\r" in value or "\n" in value
                   for name, value in message.headers)
