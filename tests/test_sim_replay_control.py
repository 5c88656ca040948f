"""Replay's control and pacing: gaps kept through pauses, speed changes, loops and seeks;
seeks backward mid-playback (through checkpoints); what stops a replay, and what it says.

Times asserted here are lower bounds on the recorded gaps (an event never comes before it
is due): a slow machine can only make them longer, never fail them.
"""

from __future__ import annotations

import gzip
import itertools
import json
import logging
import os
import time

import pandas as pd
import pytest

import amikit
from amikit import AMIClient, Simulator
from amikit.errors import ActionFailed
from amikit.protocol import parse_recording
from amikit.sim import replay as replay_module
from amikit.sim import replay_source
from amikit.sim.replay import ReplayError
from amikit.sim.replay_source import RecordingError
from tests.conftest import capture_bytes, wait_until
from tests.test_sim_replay import (  # noqa: F401 - small_queues is a fixture
    BUSY,
    alive_at,
    recorded_events,
    replayed,
    small_queues,
    split_own_login,
    stamp,
)


def gaps_file(tmp_path, seconds: list[float]) -> bytes:
    """A JSON Lines recording of UserEvents at the given times (epoch seconds)."""
    lines = [json.dumps({"headers": [["Event", "UserEvent"], ["Privilege", "user,all"],
                                     ["Timestamp", f"{at:.6f}"], ["UserEvent", f"n{n}"]],
                         "received_at": None}) for n, at in enumerate(seconds)]
    path = tmp_path / "gaps.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path.read_bytes()


def arrivals(ami: AMIClient, count: int, seconds: float = 30) -> list[tuple[str, float]]:
    """(UserEvent, monotonic time read) of the next ``count`` recorded events."""
    got: list[tuple[str, float]] = []
    deadline = time.monotonic() + seconds
    while len(got) < count and time.monotonic() < deadline:
        got += [(m["UserEvent"], time.monotonic()) for m in ami.wait_event(0.2)
                if m.name == "UserEvent"]
    assert len(got) == count, got
    return got


# -- pacing ---------------------------------------------------------------------------------
def test_a_speed_change_in_a_gap_keeps_the_time_already_played(tmp_path):
    data = gaps_file(tmp_path, [1000.0, 1004.0])
    with Simulator(port=0, replay=data, speed=1) as sim, AMIClient(sim.url, "hello", "world") as ami:
        (first, t0), = arrivals(ami, 1)
        time.sleep(2.0 - (time.monotonic() - t0))
        sim.replay.speed = 4  # 2 s of the 4 s gap played; the 2 s left take 0.5 s at 4x
        changed = time.monotonic()
        (second, t1), = arrivals(ami, 1)
    assert (first, second) == ("n0", "n1")
    # not at once, and not the whole gap again (4 s at 4x: 1 s)
    assert 0.5 * 0.9 <= t1 - changed < 0.9


def test_pause_in_a_gap_holds_the_rest_of_it(tmp_path):
    data = gaps_file(tmp_path, [1000.0, 1003.0])
    with Simulator(port=0, replay=data, speed=1) as sim, AMIClient(sim.url, "hello", "world") as ami:
        (_, t0), = arrivals(ami, 1)
        time.sleep(2.0 - (time.monotonic() - t0))
        sim.replay.pause()
        time.sleep(0.5)
        assert sim.replay.published == 1
        sim.replay.resume()
        resumed = time.monotonic()
        (_, t1), = arrivals(ami, 1)
    # the 1 s of the gap not played before the pause: not at once, not the whole 3 s again
    assert 1.0 * 0.9 <= t1 - resumed < 2.5


def test_every_loop_keeps_the_recorded_gaps(tmp_path):
    data = gaps_file(tmp_path, [1000.0, 1000.6, 1001.2])
    with Simulator(port=0, replay=data, speed=1, loop=True) as sim, \
            AMIClient(sim.url, "hello", "world") as ami:
        got = arrivals(ami, 7)
    assert [name for name, _ in got] == ["n0", "n1", "n2"] * 2 + ["n0"]
    for (_, before), (_, after) in [*itertools.pairwise(got[:3]), *itertools.pairwise(got[3:6])]:
        assert after - before >= 0.6 * 0.9  # the second pass at the same pace as the first


def test_a_seek_after_the_end_plays_the_rest_in_time(tmp_path):
    data = gaps_file(tmp_path, [1000.0, 1001.0, 1002.0])
    with Simulator(port=0, replay=data, speed=1) as sim, AMIClient(sim.url, "hello", "world") as ami:
        arrivals(ami, 3)
        assert wait_until(lambda: sim.replay.finished)
        sim.replay.seek(0.5)
        got = arrivals(ami, 2)
    assert [name for name, _ in got] == ["n1", "n2"]
    assert got[1][1] - got[0][1] >= 0.9


def test_play_after_the_end_plays_it_again():
    data = amikit.sample_recording()
    with Simulator(port=0, replay=data, speed=float("inf")) as sim, \
            AMIClient(sim.url, "hello", "world") as ami:
        first = split_own_login(replayed(ami, sim.replay))
        sim.replay.play()
        again = replayed(ami, sim.replay)
    assert [m.headers[3:] for m in again] == [m.headers[3:] for m in first]
    assert sim.replay.published == 2 * len(first)


def test_the_shifted_clock_starts_at_the_first_event_published(tmp_path):
    data = gaps_file(tmp_path, [1000.0, 1000.5])
    with Simulator(port=0, replay=data, speed=1) as sim:
        sim.replay.pause()
        with AMIClient(sim.url, "hello", "world") as ami:
            ami.wait_event(0.2)  # logged in: playback started, held
            time.sleep(1.0)
            resumed = time.time()
            sim.replay.resume()
            events = [m for m in ami.wait_event(2) if m.name == "UserEvent"]
    assert stamp(events[0]) >= resumed - 0.05  # not the login's moment, a second before


# -- seeks ----------------------------------------------------------------------------------
@pytest.fixture
def busy_frame() -> pd.DataFrame:
    return amikit.read_events(capture_bytes(BUSY))


def channels_then(ami: AMIClient) -> list[str]:
    return sorted(m["Uniqueid"] for m in ami.core_show_channels())


def alive_before(frame: pd.DataFrame, at: float) -> list[str]:
    """Channels alive just before ``at``: born before it, not hung up before it."""
    channels = frame.ami.channels()
    moment = pd.Timestamp(at, unit="s", tz="UTC")
    born = channels["created"].fillna(channels["first_seen"])
    return sorted(channels[(born < moment) & ~(channels["hungup"] < moment)]["Uniqueid"].astype(str))


def test_backward_seeks_mid_playback_rebuild_the_state_through_checkpoints(busy_frame, monkeypatch):
    monkeypatch.setattr(replay_module, "CHECKPOINT_EVERY", 1000)
    monkeypatch.setattr(replay_source, "CHUNK", 16 * 1024)
    data = capture_bytes(BUSY)
    start = busy_frame["Timestamp"].iloc[0].timestamp()
    with Simulator(port=0, replay=data, speed=80) as sim, AMIClient(sim.url, "hello", "world") as ami:
        ami.wait_event(0.2)
        assert wait_until(lambda: sim.replay.elapsed > 160, 60)
        assert len(sim.replay._checkpoints) >= 3  # kept on the way
        for target in (150.5, 42.25):
            sim.replay.pause()
            sim.replay.seek(target)  # backward, the replay at work until the pause
            assert sim.replay.paused and sim.replay.elapsed < target
            assert channels_then(ami) == alive_before(busy_frame, start + target)
            sim.replay.resume()
            assert wait_until(lambda: sim.replay.elapsed > 160, 60)


def test_a_seek_while_events_pour_out_returns_with_the_state_there(busy_frame):
    """At 50x the five minutes take six seconds: each seek lands mid-flow, forward and back."""
    data = capture_bytes(BUSY)
    with Simulator(port=0, replay=data, speed=50) as sim:
        sim.replay.play()
        for target in (100.0, 240.0, 60.0):
            sim.replay.seek(target)
            sim.replay.pause()  # within a few events of the target at 50x
            assert not sim.replay.finished
            assert target - 5 < sim.replay.elapsed < target + 5
            with AMIClient(sim.url, "hello", "world") as ami:
                reached = sim.replay.position.timestamp()
                assert channels_then(ami) == sorted(
                    alive_at(busy_frame, reached)["Uniqueid"].astype(str))
            sim.replay.resume()


# -- what a replay answers ------------------------------------------------------------------
def test_bridge_list_filters_on_the_technology_and_status_finds_a_uniqueid(busy_frame):
    data = capture_bytes(BUSY)
    with Simulator(port=0, replay=data, speed=float("inf"), replay_to=200) as sim, \
            AMIClient(sim.url, "hello", "world") as ami:
        replayed(ami, sim.replay)
        every = [m for m in ami.action("BridgeList").events if m.name == "BridgeListItem"]
        simple = [m for m in ami.action("BridgeList", BridgeType="simple_bridge").events
                  if m.name == "BridgeListItem"]
        basic = [m for m in ami.action("BridgeList", BridgeType="basic").events
                 if m.name == "BridgeListItem"]
        listed = ami.core_show_channels()
        one = listed[0]
        by_id = [m for m in ami.action("Status", Channel=one["Uniqueid"]).events if m.name == "Status"]
        by_name = [m for m in ami.action("Status", Channel=one["Channel"].upper()).events
                   if m.name == "Status"]
        unique = ami.getvar("UNIQUEID", channel=one["Channel"])
        with pytest.raises(ActionFailed, match="do not answer Getvar of SHELL"):
            ami.getvar("SHELL(id)", channel=one["Channel"])
    assert every and basic == []  # filter_bridge_type_cb compares the technology
    assert [m["BridgeUniqueid"] for m in simple] == [
        m["BridgeUniqueid"] for m in every if m["BridgeTechnology"] == "simple_bridge"]
    assert [m["Uniqueid"] for m in by_id] == [m["Uniqueid"] for m in by_name] == [one["Uniqueid"]]
    assert unique == one["Uniqueid"]


def test_a_tcp_sessions_list_replies_are_not_replayed():
    data = capture_bytes("10_tcp_5038/04_events_originate_list_logoff.s2c.bin")
    recorded = [m for m in parse_recording(data) if m.name == "CoreShowChannelsComplete"]
    assert recorded  # the end of the recorder's own CoreShowChannels answer (no channel was up)
    with Simulator(port=0, replay=data, speed=float("inf")) as sim, \
            AMIClient(sim.url, "hello", "world") as ami:
        got = replayed(ami, sim.replay)
    assert not [m for m in got if m.name in ("CoreShowChannel", "CoreShowChannelsComplete")]


@pytest.mark.usefixtures("small_queues")
def test_a_session_that_stopped_reading_does_not_hold_the_replay(monkeypatch):
    monkeypatch.setattr(replay_module, "READER_PATIENCE", 0.5)
    data = capture_bytes(BUSY)
    sim = Simulator(port=0, replay=data, speed=float("inf"))
    sim.replay.pause()  # both logged in before the first event
    with sim, AMIClient(sim.url, "hello", "world") as idle, \
            AMIClient(sim.url, "hello", "world") as reader:
        idle.ping()  # logged in, sends actions, never a WaitEvent
        seen = reader.wait_event(0.2)
        sim.replay.resume()
        seen += replayed(reader, sim.replay, seconds=60)
        assert idle.ping()["Ping"] == "Pong"
        assert sim.replay.published == 7542
        assert sim.dropped_events > 0  # the idle one's, counted
    # the reading one has every recorded event, after its own login
    assert [m.headers[3:] for m in split_own_login(seen)] == [
        m.headers[3:] for m in recorded_events(data)]


# -- what stops a replay, and what it says ------------------------------------------------
def test_a_recording_without_times_plays_whole_in_order(tmp_path):
    data = b"".join(line + b"\r\n" for line in amikit.sample_recording().split(b"\r\n")
                    if not line.startswith(b"Timestamp: "))[:-2]
    path = tmp_path / "untimed.rawman"
    path.write_bytes(data)
    expected = recorded_events(data)
    with pytest.raises(ReplayError, match="has no times"):
        Simulator(port=0, replay=path, replay_from=1)
    with Simulator(port=0, replay=path, speed=1) as sim, AMIClient(sim.url, "hello", "world") as ami:
        assert sim.replay.start is None and sim.replay.duration is None
        with pytest.raises(ReplayError, match="no times"):
            sim.replay.seek(1)
        got = split_own_login(replayed(ami, sim.replay))
    assert [m.headers for m in got] == [m.headers for m in expected]


def test_damaged_gzip_files_play_up_to_the_damage_and_say_so(tmp_path):
    data = capture_bytes(BUSY)  # 3 MB: a cut half-way falls well after the first chunks
    packed = gzip.compress(data)
    expected = recorded_events(data)
    for name, damaged in (("cut.rawman.gz", packed[: len(packed) // 2]),
                          ("broken.rawman.gz", packed[:-8] + b"\0" * 8)):  # CRC, size spoilt
        path = tmp_path / name
        path.write_bytes(damaged)
        with Simulator(port=0, replay=path, speed=float("inf")) as sim, \
                AMIClient(sim.url, "hello", "world") as ami:
            got = split_own_login(replayed(ami, sim.replay))
            assert isinstance(sim.replay.error, RecordingError)
            assert name in str(sim.replay.error)
        assert [m.headers[3:] for m in got] == [m.headers[3:] for m in expected[:len(got)]]
        assert len(got) < len(expected) or name.startswith("broken")
    (tmp_path / "garbage.gz").write_bytes(b"\x1f\x8b" + b"\0" * 40)
    with pytest.raises(RecordingError, match=r"garbage\.gz"):
        Simulator(port=0, replay=tmp_path / "garbage.gz")


def test_a_recording_damaged_mid_way_publishes_what_came_before(tmp_path, caplog):
    good = [json.dumps({"headers": [["Event", "UserEvent"], ["Privilege", "user,all"],
                                    ["Timestamp", f"{1000 + n}.000000"], ["UserEvent", f"n{n}"]]})
            for n in range(5)]
    path = tmp_path / "damaged.jsonl"
    path.write_text("\n".join(good) + "\nnot json\n" + good[0] + "\n")
    with caplog.at_level(logging.ERROR, "amikit.sim"), \
            Simulator(port=0, replay=path, speed=float("inf")) as sim, \
            AMIClient(sim.url, "hello", "world") as ami:
        got = [m for m in replayed(ami, sim.replay) if m.name == "UserEvent"]
        assert sim.replay.error is not None
    assert [m["UserEvent"] for m in got] == [f"n{n}" for n in range(5)]
    offset = len("\n".join(good)) + 1
    assert f"the JSON Lines record at byte {offset} is not an amikit event" in caplog.text


def test_stopping_ends_the_replay_and_closes_its_file(tmp_path, caplog):
    path = tmp_path / "busy.rawman"
    path.write_bytes(capture_bytes(BUSY))
    sim = Simulator(port=0, replay=path, speed=1)
    with caplog.at_level(logging.ERROR, "asyncio"), sim, AMIClient(sim.url, "hello", "world") as ami:
        ami.wait_event(0.3)
        assert not sim.replay.finished
    assert sim.replay.wait(5)  # a stopped replay ends: wait() returns
    started = time.monotonic()
    sim.replay.seek(10)  # stored for the next start; no waiting on a loop that is gone
    assert time.monotonic() - started < SEEK_NOT_WAITED
    open_files = [os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
                  if os.path.exists(f"/proc/self/fd/{fd}")]
    assert str(path) not in open_files
    assert "Task was destroyed" not in caplog.text


SEEK_NOT_WAITED = 30  # far below seek()'s 60 s wait for a target


def test_settings_that_cannot_be_are_refused():
    data = amikit.sample_recording()
    for bad in ("inf", "nan", "1e20", -5):
        with pytest.raises(ReplayError, match=r"not a time|cannot start"):
            Simulator(port=0, replay=data, replay_from=bad)
    with pytest.raises(ReplayError, match=r"cannot start at .* the recording runs"):
        Simulator(port=0, replay=data, replay_from=3600)
    with pytest.raises(ReplayError, match="pbx_timestamps"):
        Simulator(port=0, replay=data, pbx_timestamps=True)
    with pytest.raises(ReplayError, match="above 0 or max"):
        Simulator(port=0, replay=data, speed="fast")
    assert Simulator(port=0, replay=data, speed="5x").replay.speed == 5.0


def test_a_recording_cannot_speak_for_the_server(tmp_path):
    """A header value with a line break would read as a second message on the wire (a
    forged reply): such an event is not replayed, and counted."""
    forged = ["UserEvent", "x\r\n\r\nResponse: Success\r\nActionID: spoof\r\nMessage: injected"]
    lines = [json.dumps({"headers": [["Event", "UserEvent"], ["Timestamp", "1000.0"], h]})
             for h in (["UserEvent", "before"], forged, ["UserEvent", "after"])]
    path = tmp_path / "forged.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with Simulator(port=0, tcp_port=0, replay=path, speed=float("inf")) as sim, \
            AMIClient(sim.tcp_url, "hello", "world") as ami:
        got = [m for m in replayed(ami, sim.replay) if m.name == "UserEvent"]
        assert ami.ping()["Ping"] == "Pong"
        assert sim.replay.refused == 1
    assert [m["UserEvent"] for m in got] == ["before", "after"]


def test_play_on_a_finished_replay_plays_it_again_once_asked(tmp_path):
    data = amikit.sample_recording()
    untimed = b"".join(line + b"\r\n" for line in data.split(b"\r\n")
                       if not line.startswith(b"Timestamp: "))[:-2]
    for source in (data, untimed):
        with Simulator(port=0, replay=source, speed=float("inf")) as sim:
            sim.replay.play()
            assert sim.replay.wait(30)
            sim.replay.play()
            assert not sim.replay.finished  # play() has taken effect when it returns
            assert sim.replay.wait(30)
            assert sim.replay.published == 2 * 610


def test_json_lines_with_only_received_at_have_an_end(tmp_path):
    """``amikit record`` from an Asterisk without timestampevents: times are received_at."""
    lines = [json.dumps({"headers": [["Event", "UserEvent"], ["UserEvent", f"n{n}"]],
                         "received_at": 1000.0 + n}) for n in range(5)]
    path = tmp_path / "received.jsonl"
    path.write_text("\n".join(lines) + "\n")
    replay = Simulator(port=0, replay=path).replay
    assert replay.duration == 4.0
    with pytest.raises(ReplayError, match="the recording runs"):
        replay.seek(100)


def test_times_that_are_no_numbers_are_no_times(tmp_path):
    lines = [json.dumps({"headers": [["Event", "UserEvent"], ["Timestamp", stamp_text],
                                     ["UserEvent", f"n{n}"]]})
             for n, stamp_text in enumerate(["nan", "1000.0", "inf", "1001.0"])]
    path = tmp_path / "odd.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with Simulator(port=0, replay=path, speed=50, timestamps="original") as sim, \
            AMIClient(sim.url, "hello", "world") as ami:
        assert sim.replay.start.timestamp() == 1000.0 and sim.replay.duration == 1.0
        got = [m for m in replayed(ami, sim.replay, seconds=20) if m.name == "UserEvent"]
    assert [m["UserEvent"] for m in got] == ["n0", "n1", "n2", "n3"]
    assert repr(sim.replay)
