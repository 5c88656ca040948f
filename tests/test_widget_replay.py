"""ReplayControl against a real replaying simulator: the first 20 s of the busy recording.

Expected times and counts come from the recording itself (read with ``amikit.read_events``),
never from what the widget shows; waits poll with generous timeouts, nothing is timed.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterator

import pandas as pd
import pytest

import amikit
from amikit import Simulator
from amikit.widgets import ReplayControl
from tests.conftest import wait_until

BUSY = amikit.sample_recording("busy")
PIECE = 20  # seconds of the recording each simulator plays (replay_to)


@pytest.fixture(scope="module")
def recording() -> pd.DataFrame:
    return amikit.read_events(BUSY)


@pytest.fixture(scope="module")
def first(recording) -> pd.Timestamp:
    """The recording's first Timestamp: where every replay here starts."""
    return recording["Timestamp"].min()


def replaying(speed: float) -> Simulator:
    return Simulator(port=0, replay=BUSY, speed=speed, replay_to=PIECE)


@pytest.fixture
def control_of() -> Iterator[Callable[[Simulator], ReplayControl]]:
    """Makes controls of a simulator's replay; closes them after the test."""
    made: list[ReplayControl] = []

    def make(sim: Simulator, **kwargs) -> ReplayControl:
        made.append(ReplayControl(sim.replay, **kwargs))
        return made[-1]

    yield make
    for control in made:
        control.close()


def seeks_of(replay) -> list:
    """Record every seek asked of ``replay`` (and still do it)."""
    asked: list = []
    seek = replay.seek

    def recorded(when):
        asked.append(when)
        seek(when)

    replay.seek = recorded
    return asked


def test_the_button_plays_and_pauses_the_replay(control_of):
    with replaying(speed=1) as sim:
        replay = sim.replay
        control = control_of(sim)
        assert not replay.playing and not control.play_button.value
        assert control.play_button.description == "Play"
        assert "waiting for the first login" in control.label.value
        control.play_button.value = True  # a click
        assert wait_until(lambda: replay.playing)
        assert control.play_button.description == "Pause"
        control.play_button.value = False
        assert wait_until(lambda: replay.paused)
        assert control.play_button.description == "Play"
        control.play()
        assert wait_until(lambda: replay.playing) and control.play_button.value
        control.pause()
        assert wait_until(lambda: replay.paused) and not control.play_button.value


def test_the_controls_show_the_replay_as_asked_as_soon_as_it_is_asked(control_of):
    """A control call returns once the simulator's loop took it: the refresh right after
    shows the replay as asked, with no waiting and no flicker back."""
    with replaying(speed=1) as sim:
        replay = sim.replay
        control = control_of(sim, refresh=60)  # no timer refresh in between
        control.play_button.value = True
        assert replay.playing and control.play_button.description == "Pause"
        assert "playing at 1×" in control.label.value
        control.play_button.value = False
        assert replay.paused and control.play_button.description == "Play"
        assert control.label.value.endswith("paused")
        control.speed.value = 5.0
        assert replay.speed == 5.0 and control.speed.value == 5.0
        control.play()
        assert control.play_button.value and "playing at 5×" in control.label.value


def test_the_rate_holds_still_while_paused(control_of):
    """Replay.rate counts playing time only: paused, the events/s shown do not fall."""
    with replaying(speed=5) as sim:
        replay = sim.replay
        control = control_of(sim, refresh=60)
        control.play()
        assert wait_until(lambda: replay.published >= 50)
        control.pause()
        shown = control.label.value
        assert shown.endswith("events/s so far · paused") and replay.rate > 0
        published = replay.published
        time.sleep(0.5)  # time that a rate counting pauses would divide by
        control.refresh()
        assert replay.published == published and control.label.value == shown


def test_the_button_follows_a_replay_controlled_from_code(control_of):
    with replaying(speed=1) as sim:
        replay = sim.replay
        control = control_of(sim)
        replay.play()
        assert wait_until(lambda: replay.playing)
        control.refresh()
        assert control.play_button.value and control.play_button.description == "Pause"
        assert "playing at 1×" in control.label.value
        replay.pause()
        assert wait_until(lambda: replay.paused)
        control.refresh()
        assert not control.play_button.value and "paused" in control.label.value
        # showing the pause did not resume it: the button's observer took it for no click
        time.sleep(0.2)
        assert replay.paused


def test_the_speed_control_sets_the_replays_speed(control_of):
    with replaying(speed=1) as sim:
        replay = sim.replay
        control = control_of(sim)
        assert control.speed.value == 1.0
        control.speed.value = 50.0
        assert wait_until(lambda: replay.speed == 50.0)
        control.speed.value = math.inf
        assert wait_until(lambda: replay.speed == math.inf)
        assert control.speed.label == "unlimited"
        replay.speed = 3  # from code: a speed the control does not list
        assert wait_until(lambda: replay.speed == 3.0)
        control.refresh()
        assert control.speed.value == 3.0 and control.speed.label == "3×"
        assert [value for _, value in control.speed.options][:3] == [1.0, 2.0, 3.0]
        time.sleep(0.2)
        assert replay.speed == 3.0


def test_moving_the_slider_seeks_and_following_the_replay_does_not(control_of, recording, first):
    with replaying(speed=1) as sim:
        replay = sim.replay
        asked = seeks_of(replay)
        control = control_of(sim, refresh=0.05)
        assert control.position.max == PIECE and control.position.value == 0
        control.play()
        # the timer moves the slider as playback advances: no seek
        assert wait_until(lambda: control.position.value > 0)
        for _ in range(5):
            control.refresh()
        assert asked == []
        target = 15.0
        control.position.value = target  # let go of the slider there
        assert asked == [target]
        # playback goes on from the first event at or after the target
        after = recording.loc[recording["Timestamp"] >= first + pd.Timedelta(seconds=target),
                              "Timestamp"].min()
        assert wait_until(lambda: replay.position >= after), replay
        control.refresh()
        assert control.position.value >= target and asked == [target]


def test_a_seek_while_paused_stays_there_and_the_label_says_when(control_of, recording, first):
    with replaying(speed=1) as sim:
        replay = sim.replay
        control = control_of(sim)
        control.play()
        control.pause()
        assert wait_until(lambda: replay.paused)  # pause() is taken on the simulator's loop
        target = 10.0
        control.position.value = target
        # the position becomes the last event before the target: the state is the PBX's then
        before = recording.loc[recording["Timestamp"] < first + pd.Timedelta(seconds=target),
                               "Timestamp"].max()
        assert wait_until(
            lambda: abs(pd.Timestamp(replay.position) - before) < pd.Timedelta(milliseconds=1)
        ), replay
        assert replay.paused
        control.refresh()
        assert control.label.value.startswith(f"{before:%H:%M:%S} UTC · ")
        assert "paused" in control.label.value and not control.play_button.value
        assert control.position.value == pytest.approx((before - first).total_seconds(), abs=1e-3)


def test_moving_the_slider_after_the_end_plays_on_from_there(control_of):
    with replaying(speed=math.inf) as sim:
        replay = sim.replay
        control = control_of(sim)
        control.play()
        assert replay.wait(60)
        control.refresh()
        assert control.play_button.disabled
        published = replay.published
        control.position.value = 5.0
        assert wait_until(lambda: replay.finished and replay.published > published)
        control.refresh()
        assert control.label.value.endswith("finished") and control.position.value > 5


def test_the_label_says_the_recording_time_and_finished(control_of, recording, first):
    with replaying(speed=math.inf) as sim:
        replay = sim.replay
        control = control_of(sim)
        assert control.label.value.startswith(f"{first:%H:%M:%S} UTC · 0 events published")
        control.play()
        assert replay.wait(60)
        control.refresh()
        played = recording[recording["Timestamp"] <= first + pd.Timedelta(seconds=PIECE)]
        last = played["Timestamp"].max()
        assert control.label.value.startswith(
            f"{last:%H:%M:%S} UTC · {len(played):,} events published, ")
        assert control.label.value.endswith("events/s so far · finished")
        assert control.play_button.disabled and control.play_button.description == "Finished"
        assert control.position.value == pytest.approx((last - first).total_seconds())


def test_a_control_the_replay_refuses_says_why_in_the_label(control_of):
    sim = replaying(speed=1)
    control = control_of(sim)  # sim.replay exists before the simulator starts
    with pytest.raises(amikit.AMIError) as refused:
        sim.replay.play()
    control.play_button.value = True  # a click before the start
    assert str(refused.value) in control.label.value
    assert not control.play_button.value and not sim.replay.playing
    with sim:
        control.play_button.value = True
        assert wait_until(lambda: sim.replay.playing)
        assert str(refused.value) not in control.label.value


def test_the_timer_follows_the_replay_and_close_stops_it(control_of):
    with replaying(speed=math.inf) as sim:
        control = control_of(sim, refresh=0.05)
        assert control.running
        sim.replay.play()
        assert wait_until(lambda: "finished" in control.label.value), "the timer refreshed"
        control.close()
        assert not control.running
        shown = control.label.value
        control.replay.speed = 5  # a change the timer would have shown
        assert wait_until(lambda: sim.replay.speed == 5)
        time.sleep(0.3)
        assert control.label.value == shown and control.speed.value == math.inf


def test_in_a_running_loop_the_timer_is_a_task_that_close_cancels(control_of):
    with replaying(speed=math.inf) as sim:

        async def cell() -> ReplayControl:
            control = control_of(sim, refresh=0.05)
            assert control._task is not None and control._thread is None
            sim.replay.play()
            deadline = time.monotonic() + 30
            while "finished" not in control.label.value and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            control.close()
            await asyncio.sleep(0)  # the cancelled task ends at the loop's next turn
            return control

        control = asyncio.run(cell())
        assert "finished" in control.label.value and not control.running


def test_refresh_must_be_a_positive_number_of_seconds():
    with replaying(speed=1) as sim, pytest.raises(ValueError, match="refresh"):
        ReplayControl(sim.replay, refresh=0)
