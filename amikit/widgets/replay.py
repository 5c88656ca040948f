"""ReplayControl: play, pause, speed and position of a simulator's replay, as a widget."""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from amikit.errors import AMIError

if TYPE_CHECKING:  # pragma: no cover
    from amikit.sim.replay import Replay

__all__ = ["SPEEDS", "ReplayControl", "speed_label"]

#: The speed control's choices: (label, ``Replay.speed``); ``inf`` publishes without waiting.
SPEEDS: tuple[tuple[str, float], ...] = (
    ("1×", 1.0), ("2×", 2.0), ("5×", 5.0), ("10×", 10.0), ("20×", 20.0), ("50×", 50.0),
    ("100×", 100.0), ("unlimited", math.inf))


def speed_label(speed: float) -> str:
    """How the speed control names ``speed``.

        >>> speed_label(20.0), speed_label(2.5), speed_label(float("inf"))
        ('20×', '2.5×', 'unlimited')
    """
    return "unlimited" if math.isinf(speed) else f"{speed:g}×"


class ReplayControl(w.VBox):
    """The controls of a :class:`~amikit.sim.replay.Replay` (``sim.replay``): a Play/Pause
    toggle, a speed choice, a position slider (seconds from the replay's start; letting go
    of it seeks there) and a line saying the recording's time at the position (UTC), the
    events published so far and how many a second.

    It follows the replay by itself, every ``refresh`` seconds: in a notebook as a task on
    the kernel's running asyncio loop (so cells stay usable), without one in a daemon
    thread; :meth:`close` stops that. :meth:`refresh` updates every control once. Only a
    change made by hand (or by code setting a control's value) controls the replay; the
    updates that follow the replay never seek or pause it. ::

        >>> import amikit
        >>> from amikit import Simulator
        >>> with Simulator(port=0, replay=amikit.sample_recording(), speed=float("inf")) as sim:
        ...     control = ReplayControl(sim.replay)
        ...     control.play()                   # no login needed: play() starts it
        ...     sim.replay.wait(30)
        ...     control.refresh()
        ...     control.close()
        True
        >>> control.label.value
        '... UTC · 610 events published, ... events/s so far · finished'

    A replay that has finished plays on from wherever the slider is moved to.
    """

    def __init__(self, replay: Replay, *, refresh: float = 0.5) -> None:
        if not refresh > 0:
            raise ValueError(f"refresh must be a number of seconds above 0, not {refresh!r}")
        self.replay = replay
        self.interval = float(refresh)
        self.play_button = w.ToggleButton(description="Play", icon="play")
        self.speed = w.Dropdown(description="Speed", options=SPEEDS,
                                layout=w.Layout(width="170px"))
        self.position = w.FloatSlider(description="Position", min=0.0, max=1.0, step=0.1,
                                      continuous_update=False, readout_format=".1f",
                                      layout=w.Layout(width="100%"))
        self.label = w.Label()
        # set (in the thread doing it) while the controls are made to show the replay:
        # their observers then know the change is not the user's. Thread-local, so a user's
        # change in another thread during a timer refresh still counts as the user's.
        self._local = threading.local()
        self._lock = threading.RLock()  # one refresh at a time: the timer's or a caller's
        self._stop = threading.Event()
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self._note = ""  # why the last change by hand failed
        self.play_button.observe(self._toggled, "value")
        self.speed.observe(self._speed_chosen, "value")
        self.position.observe(self._moved, "value")
        super().__init__([w.HBox([self.play_button, self.speed, self.label]), self.position])
        self.refresh()
        self._start_timer()

    # -- what the user does ------------------------------------------------------------
    # The replay's controls, called from any thread but its loop's, return once its loop has
    # taken them: the refresh that follows shows the replay as asked, with no flicker back.
    def play(self) -> None:
        """Start or resume the replay (as the button does) and show it playing."""
        with self._lock:
            self.replay.play()
            self.refresh()

    def pause(self) -> None:
        """Pause the replay (as the button does) and show it paused."""
        with self._lock:
            self.replay.pause()
            self.refresh()

    def _toggled(self, change: dict[str, Any]) -> None:
        if self._by_user():
            self._by_hand(self.play if change["new"] else self.pause)

    def _speed_chosen(self, change: dict[str, Any]) -> None:
        if self._by_user():
            self._by_hand(lambda: self._set_speed(change["new"]))

    def _set_speed(self, speed: float) -> None:
        with self._lock:
            self.replay.speed = speed

    def _moved(self, change: dict[str, Any]) -> None:
        if self._by_user():
            self._by_hand(lambda: self.replay.seek(change["new"]))

    def _by_hand(self, action: Callable[[], None]) -> None:
        """A control's change: done, or why not in the label (a handler's exception would
        only reach the kernel's log) until the next change succeeds."""
        self._note = ""
        try:
            action()
        except AMIError as error:  # a time outside the replay, a simulator not running
            self._note = str(error)
            self.refresh()  # the controls back to what the replay does, and why

    # -- showing the replay --------------------------------------------------------------
    def refresh(self) -> None:
        """Update every control from the replay once (it never seeks, plays or pauses)."""
        replay = self.replay
        with self._lock, self._showing():
            elapsed = replay.elapsed
            duration = replay.duration
            # an end the recording does not tell: the slider grows with what was played
            top = duration if duration is not None else max(elapsed, self.position.max)
            if self.position.max != top:
                self.position.max = top
            self.position.value = min(elapsed, top)
            playing, speed = replay.playing, replay.speed
            self._show_speed(speed)
            self._show_button(playing=playing, finished=replay.finished)
            when = replay.position or replay.start
            # a recording without Timestamps has no time to show (it plays in order)
            clock = f"{when:%H:%M:%S} UTC" if when is not None else "no times recorded"
            self.position.disabled = when is None
            # Replay.rate counts playing time only: it holds still while paused
            self.label.value = (f"{clock} · {replay.published:,} events published, "
                                f"{replay.rate:,.0f} events/s so far · {self._state(playing, speed)}"
                                + (f" · {self._note}" if self._note else ""))

    def _state(self, playing: bool, speed: float) -> str:
        replay = self.replay
        if replay.error is not None:
            return f"stopped: {replay.error}"
        if replay.finished:
            return "finished"
        if playing:
            return f"playing at {speed_label(speed)}"
        if replay.paused:
            return "paused"
        return "waiting for the first login (or Play)"

    def _show_speed(self, speed: float) -> None:
        if speed not in [value for _, value in self.speed.options]:  # set from code
            self.speed.options = sorted([*self.speed.options, (speed_label(speed), speed)],
                                        key=lambda option: option[1])
        self.speed.value = speed

    def _show_button(self, *, playing: bool, finished: bool) -> None:
        self.play_button.value = playing and not finished
        self.play_button.disabled = finished
        if finished:
            self.play_button.description, self.play_button.icon = "Finished", "check"
        elif playing:
            self.play_button.description, self.play_button.icon = "Pause", "pause"
        else:
            self.play_button.description, self.play_button.icon = "Play", "play"

    @contextmanager
    def _showing(self) -> Iterator[None]:
        before = getattr(self._local, "showing", False)
        self._local.showing = True
        try:
            yield
        finally:
            self._local.showing = before

    def _by_user(self) -> bool:
        return not getattr(self._local, "showing", False)

    # -- the timer -------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True while the timer (task or thread) keeps the controls up to date."""
        return (self._task is not None and not self._task.done()) or (
            self._thread is not None and self._thread.is_alive())

    def _start_timer(self) -> None:
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:  # a kernel: refresh on its loop, where widget updates belong
            self._task = loop.create_task(self._tick_on_loop())
        else:
            self._thread = threading.Thread(target=self._tick_in_thread,
                                            name="amikit-replay-control", daemon=True)
            self._thread.start()

    def _tick_in_thread(self) -> None:
        while not self._stop.wait(self.interval):
            self.refresh()

    async def _tick_on_loop(self) -> None:
        while not self._stop.is_set():
            await asyncio.sleep(self.interval)
            if not self._stop.is_set():
                self.refresh()

    def close(self) -> None:
        """Stop following the replay and close the widget with its controls (the replay
        plays on)."""
        # ipywidgets calls close() from __del__ too, also on a half-built control
        if getattr(self, "_closed", True):
            return
        self._closed = True
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.interval + 10)
        for control in (self.play_button, self.speed, self.position, self.label):
            control.close()
        super().close()
