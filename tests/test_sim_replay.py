"""Replay through the simulator's fronts: a client receives exactly the recording's events, and
the read-only actions describe the recorded PBX as the tables of the same recording do.

Every expected value is read from a capture of a real Asterisk 23.4.1 (the recordings
themselves, and ``amikit.read_events`` of them), never from what the simulator emits.
"""

from __future__ import annotations

import time

import pandas as pd
import pytest

import amikit
from amikit import AMIClient, EventLog, Simulator
from amikit.errors import ActionFailed, AMIError
from amikit.message import Message, is_stream_event
from amikit.protocol import parse_recording
from amikit.sim import perms
from amikit.sim.replay import ReplayError
from amikit.sim.replay_source import RecordingError
from tests.conftest import capture_bytes

BUSY = "busy/rawman_waitevent_stream_part1.txt"
BUSY_MXML = "busy/mxml_waitevent_stream_part1.xml"
TCP_SESSION = "10_tcp_5038/03_events_on_2s_during_busy_run.s2c.bin"


def recorded_events(data: bytes) -> list[Message]:
    """The recording's events, as ``read_events`` counts them (replies and markers left out)."""
    if data.lstrip().startswith(b"{"):
        from amikit.jsonl import record_message

        return [record_message(line, n) for n, line in enumerate(data.split(b"\n"), 1) if line.strip()]
    return [m for m in parse_recording(data) if is_stream_event(m)]


def stamp(message: Message) -> float:
    return float(message["Timestamp"])


def without_timestamp(message: Message) -> list[tuple[str, str]]:
    return [(n, v) for n, v in message.headers if n.lower() != "timestamp"]


def replayed(ami: AMIClient, replay, seconds: float = 120.0) -> list[Message]:
    """Every event the client reads until the replay has finished and nothing is left.

    ``finished`` is read before each poll: when it was already true, everything had been
    published before the poll, so an empty poll means the client has it all. Over TCP the
    events are pushed, so a Ping first: Asterisk writes the events queued before an action
    ahead of its reply (``process_events``). Nothing read is dropped: the caller gets every
    event, the client's own live ones included.
    """
    seen: list[Message] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        finished = replay.finished
        if finished:
            ami.ping()
        batch = ami.wait_event(0.5)
        seen += batch
        if finished and not batch:
            return seen
    raise AssertionError(f"the replay had not finished after {seconds} s "
                         f"({replay.published} published, {len(seen)} read)")


def split_own_login(seen: list[Message], user: str = "hello") -> list[Message]:
    """The events after the client's own SuccessfulAuth, which the server publishes live at
    its login, before playback begins (so it is always the first event the client reads).
    Over TCP the Login reply carries a FullyBooted (``action_login``) just before it."""
    if seen and seen[0].name == "FullyBooted":
        assert "Timestamp" not in seen[0] and seen[0]["Uptime"] == "0", seen[0]
        seen = seen[1:]
    assert seen and seen[0].name == "SuccessfulAuth" and seen[0]["AccountID"] == user, \
        [m.name for m in seen[:3]]
    assert seen[0]["EventTV"][:10] == time.strftime("%Y-%m-%d", time.gmtime(stamp(seen[0])))
    return seen[1:]


def assert_same_events(got: list[Message], expected: list[Message], *, shifted: bool = True) -> None:
    """Same events, same order, every header the same but Timestamp; Timestamps moved by one
    constant (``shifted``) or kept."""
    assert [m.name for m in got] == [m.name for m in expected]
    for mine, theirs in zip(got, expected, strict=True):
        assert without_timestamp(mine) == without_timestamp(theirs)
    timed = [(stamp(m), stamp(e)) for m, e in zip(got, expected, strict=True) if "Timestamp" in e]
    if not timed:
        return
    offsets = [mine - theirs for mine, theirs in timed]
    if shifted:
        assert max(offsets) - min(offsets) < 2e-5  # six decimals each, as Asterisk writes them
        assert abs(timed[0][0] - time.time()) < 600  # moved to now (the replay began just now)
    else:
        assert offsets == [0.0] * len(offsets)


def first_seconds(events: list[Message], seconds: float) -> list[Message]:
    start = stamp(events[0])
    return [e for e in events if stamp(e) <= start + seconds]


# -- exactly the recording's events --------------------------------------------------------
@pytest.mark.parametrize("kind", ["rawman", "mxml", "jsonl"])
def test_a_short_piece_at_speed_1_arrives_exactly(kind, tmp_path):
    if kind == "rawman":
        data = amikit.sample_recording()
    elif kind == "mxml":
        data = capture_bytes(BUSY_MXML)
    else:
        path = tmp_path / "originate.jsonl"
        EventLog(parse_recording(amikit.sample_recording())).to_jsonl(path)
        data = path.read_bytes()
    expected = first_seconds(recorded_events(data), 1.5)
    assert len(expected) > 20
    with Simulator(port=0, replay=data, speed=1, replay_to=1.5) as sim, \
            AMIClient(sim.url, "hello", "world") as ami:
        started = time.monotonic()
        got = split_own_login(replayed(ami, sim.replay))
        took = time.monotonic() - started
    assert_same_events(got, expected)
    # at speed 1 the recorded gaps are kept: the piece spans what it spanned
    span = stamp(expected[-1]) - stamp(expected[0])
    assert took >= span * 0.9


def test_the_whole_busy_capture_at_unlimited_speed():
    data = capture_bytes(BUSY)
    expected = recorded_events(data)
    assert len(expected) == len(amikit.read_events(data)) == 7542
    with Simulator(port=0, replay=data, speed=float("inf")) as sim, \
            AMIClient(sim.url, "hello", "world") as ami:
        got = split_own_login(replayed(ami, sim.replay))
        assert sim.replay.published == 7542 and sim.dropped_events == 0
    assert_same_events(got, expected)


def test_the_busy_mxml_capture_over_tcp_keeps_the_original_timestamps():
    data = capture_bytes(BUSY_MXML)
    expected = recorded_events(data)
    with Simulator(port=0, tcp_port=0, replay=data, speed=float("inf"),
                   timestamps="original") as sim, \
            AMIClient(sim.tcp_url, "hello", "world") as ami:
        got = split_own_login(replayed(ami, sim.replay))
    assert_same_events(got, expected, shifted=False)


def test_a_tcp_session_recording_replays_its_events():
    data = capture_bytes(TCP_SESSION)
    expected = recorded_events(data)
    assert len(expected) > 10
    with Simulator(port=0, replay=data, speed=float("inf"), timestamps="original") as sim, \
            AMIClient(sim.url, "hello", "world", encoding="mxml") as ami:
        got = split_own_login(replayed(ami, sim.replay))
    assert_same_events(got, expected, shifted=False)


def test_wall_timestamps_are_the_moment_of_publishing():
    data = amikit.sample_recording()
    expected = first_seconds(recorded_events(data), 0.5)
    with Simulator(port=0, replay=data, speed=float("inf"), replay_to=0.5,
                   timestamps="wall") as sim, AMIClient(sim.url, "hello", "world") as ami:
        before = time.time()
        got = split_own_login(replayed(ami, sim.replay))
        after = time.time()
    assert [without_timestamp(m) for m in got] == [without_timestamp(m) for m in expected]
    assert all(before - 1 <= stamp(m) <= after for m in got)


def test_a_user_reads_only_the_classes_it_may():
    """reporter reads reporting,call: the recording's security events (other clients'
    logins) and the rest are filtered out as live ones are."""
    data = amikit.sample_recording("busy")
    readable = perms.parse_perms("reporting,call")
    expected = [m for m in recorded_events(data)
                if perms.parse_privilege(m.get("Privilege")) & readable]
    assert 0 < len(expected) < len(recorded_events(data))
    with Simulator(port=0, replay=data, speed=float("inf")) as sim, \
            AMIClient(sim.url, "reporter", "reportpw") as ami:
        got = replayed(ami, sim.replay)  # its own SuccessfulAuth is a security event: not read
    assert_same_events(got, expected)


def test_playback_waits_for_the_first_login():
    data = amikit.sample_recording()
    with Simulator(port=0, replay=data, speed=float("inf")) as sim:
        time.sleep(0.3)
        assert sim.replay.published == 0 and not sim.replay.playing
        with AMIClient(sim.url, "hello", "world") as ami:
            got = split_own_login(replayed(ami, sim.replay))
    assert len(got) == len(recorded_events(data))


def test_play_starts_without_a_login():
    with Simulator(port=0, replay=amikit.sample_recording(), speed=float("inf")) as sim:
        sim.replay.play()
        assert sim.replay.wait(30)
        assert sim.replay.published == 610


# -- control ----------------------------------------------------------------------------------
def test_pause_holds_the_events_and_resume_goes_on():
    data = amikit.sample_recording()
    expected = recorded_events(data)
    with Simulator(port=0, replay=data, speed=2) as sim, \
            AMIClient(sim.url, "hello", "world") as ami:
        seen = ami.wait_event(0.3)
        sim.replay.pause()
        deadline = time.monotonic() + 5
        while not sim.replay.paused and time.monotonic() < deadline:
            time.sleep(0.01)
        held = sim.replay.published
        time.sleep(0.5)
        assert sim.replay.published == held and sim.replay.paused
        assert held < len(expected)
        sim.replay.speed = float("inf")
        sim.replay.resume()
        seen += replayed(ami, sim.replay)
    assert_same_events(split_own_login(seen), expected)


def test_speed_must_be_positive():
    data = amikit.sample_recording()
    with pytest.raises(ReplayError, match="above 0"):
        Simulator(port=0, replay=data, speed=0)
    with Simulator(port=0, replay=data) as sim:
        for bad in (-1, float("nan"), "fast"):
            with pytest.raises(ReplayError):
                sim.replay.speed = bad
        sim.replay.speed = 5
        deadline = time.monotonic() + 5
        while sim.replay.speed != 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sim.replay.speed == 5


def test_a_forward_seek_skips_what_lies_between():
    data = amikit.sample_recording()
    expected = recorded_events(data)
    start = stamp(expected[0])
    with Simulator(port=0, replay=data, speed=float("inf")) as sim:
        sim.replay.pause()
        with AMIClient(sim.url, "hello", "world") as ami:
            own = ami.wait_event(0.5)
            sim.replay.seek(3.0)
            sim.replay.resume()
            after_forward = replayed(ami, sim.replay)
            assert [m.name for m in own] == ["SuccessfulAuth"]
            assert_same_events(after_forward, [e for e in expected if stamp(e) >= start + 3.0])
            with pytest.raises(ReplayError, match="the recording runs"):
                sim.replay.seek(3600)


def test_a_backward_seek_while_paused_plays_from_there_again():
    data = amikit.sample_recording()
    expected = recorded_events(data)
    start = stamp(expected[0])
    with Simulator(port=0, replay=data, speed=1) as sim, \
            AMIClient(sim.url, "hello", "world") as ami:
        seen: list[Message] = []
        deadline = time.monotonic() + 30
        while sim.replay.elapsed < 2.0 and time.monotonic() < deadline:
            seen += ami.wait_event(0.2)
        sim.replay.pause()
        seen += ami.wait_event(0.2)  # what was published before the pause
        sim.replay.seek("1.0")  # back: returns with the state rebuilt up to 1.0 s
        assert sim.replay.elapsed < 1.0
        sim.replay.speed = float("inf")
        sim.replay.resume()
        seen += replayed(ami, sim.replay)
    got = split_own_login(seen)
    again = [e for e in expected if stamp(e) >= start + 1.0]
    before = len(got) - len(again)
    # everything up to past 2 s, then everything from 1.0 s on, again
    assert stamp(got[before - 1]) - start >= 2.0
    assert_same_events(got[:before], expected[:before])
    assert_same_events(got[before:], again)


def test_loop_starts_again_with_the_clock_going_on():
    data = amikit.sample_recording()
    expected = first_seconds(recorded_events(data), 0.5)
    with Simulator(port=0, replay=data, speed=float("inf"), replay_to=0.5, loop=True) as sim, \
            AMIClient(sim.url, "hello", "world") as ami:
        seen = split_own_login(ami.wait_event(1))
        deadline = time.monotonic() + 30
        while len(seen) < 3 * len(expected) and time.monotonic() < deadline:
            seen += ami.wait_event(0.5)
        assert sim.replay.loops >= 2 and not sim.replay.finished
    first, second = seen[:len(expected)], seen[len(expected):2 * len(expected)]
    assert_same_events(first, expected)
    assert_same_events(second, expected)
    assert stamp(second[0]) > stamp(first[-1])


def test_replay_from_and_to_take_times_of_day_and_iso_dates():
    data = amikit.sample_recording()
    expected = recorded_events(data)
    start = pd.Timestamp(stamp(expected[0]), unit="s", tz="UTC")
    begin = (start + pd.Timedelta(seconds=2)).isoformat()
    end = (start + pd.Timedelta(seconds=4)).strftime("%H:%M:%S.%f")[:12]
    with Simulator(port=0, replay=data, speed=float("inf"), replay_from=begin,
                   replay_to=end, timestamps="original") as sim, \
            AMIClient(sim.url, "hello", "world") as ami:
        got = split_own_login(replayed(ami, sim.replay))
    lo, hi = start.timestamp() + 2, pd.Timestamp(f"{start.date()} {end}", tz="UTC").timestamp()
    assert_same_events(got, [e for e in expected if lo <= stamp(e) <= hi], shifted=False)


def test_bad_recordings_and_settings_are_refused_before_serving(tmp_path):
    with pytest.raises(RecordingError, match="no recording at"):
        Simulator(port=0, replay=tmp_path / "missing.rawman")
    empty = tmp_path / "empty.rawman"
    empty.write_bytes(b"")
    with pytest.raises(RecordingError, match="empty"):
        Simulator(port=0, replay=empty)
    replies = tmp_path / "replies.rawman"
    replies.write_bytes(b"Response: Success\r\nPing: Pong\r\n\r\n")
    with pytest.raises(RecordingError, match="no events"):
        Simulator(port=0, replay=replies)
    with pytest.raises(ReplayError, match="before it starts"):
        Simulator(port=0, replay=amikit.sample_recording(), replay_from=4, replay_to=2)
    with pytest.raises(ReplayError, match="not a time"):
        Simulator(port=0, replay=amikit.sample_recording(), replay_from="soon")
    with pytest.raises(ReplayError, match="timestamps"):
        Simulator(port=0, replay=amikit.sample_recording(), timestamps="local")
    with pytest.raises(AMIError, match="spool or replay"):
        Simulator(port=0, replay=amikit.sample_recording(), spool=tmp_path)


def test_a_replaying_simulator_places_no_calls():
    with Simulator(port=0, replay=amikit.sample_recording()) as sim, \
            pytest.raises(AMIError, match="no calls of its own"):
        sim.traffic("support")


# -- the recorded PBX answers the read-only actions ------------------------------------------
def alive_at(frame: pd.DataFrame, at: float) -> pd.DataFrame:
    """``df.ami.channels()`` rows alive at ``at``: born (or first seen) by then, not hung up."""
    channels = frame.ami.channels()
    moment = pd.Timestamp(at, unit="s", tz="UTC")
    born = channels["created"].fillna(channels["first_seen"])
    return channels[(born <= moment) & ~(channels["hungup"] <= moment)]


@pytest.fixture(scope="module")
def busy_frame() -> pd.DataFrame:
    return amikit.read_events(capture_bytes(BUSY))


@pytest.mark.parametrize("seconds", [45.0, 123.4, 200.0, 281.7])
def test_read_only_actions_at_a_position_agree_with_the_tables(busy_frame, seconds):
    data = capture_bytes(BUSY)
    start = stamp(recorded_events(data)[0])
    with Simulator(port=0, replay=data, speed=float("inf"), replay_to=seconds) as sim, \
            AMIClient(sim.url, "hello", "world") as ami:
        replayed(ami, sim.replay)
        position = sim.replay.position.timestamp()
        assert start + seconds - 5 < position <= start + seconds
        listed = ami.core_show_channels()
        status = [m for m in ami.action("Status").events if m.name == "Status"]
        bridges = [m for m in ami.action("BridgeList").events if m.name == "BridgeListItem"]
        core = ami.action("CoreStatus")
    alive = alive_at(busy_frame, start + seconds)
    assert len(alive) > 0
    wanted = sorted(zip(alive["Uniqueid"].astype(str), alive["Channel"].astype(str), strict=True))
    assert sorted((m["Uniqueid"], m["Channel"]) for m in listed) == wanted
    assert sorted((m["Uniqueid"], m["Channel"]) for m in status) == wanted
    # action_corestatus counts channels (ast_active_channels): 04_lists' 021 says 16 while
    # 002, the same second, lists 16 channels of 6 calls
    assert int(core["CoreCurrentCalls"]) == len(alive)
    # each channel's snapshot is its last event's, as the frame holds it
    last = busy_frame[busy_frame["Timestamp"] <= pd.Timestamp(start + seconds, unit="s", tz="UTC")]
    for item in listed:
        mine = last[(last["Uniqueid"].astype(str) == item["Uniqueid"])
                    & last["ChannelStateDesc"].notna()].iloc[-1]
        assert item["ChannelStateDesc"] == mine["ChannelStateDesc"]
        assert item["Exten"] == ("" if pd.isna(mine["Exten"]) else str(mine["Exten"]))
    # bridges alive then, with the members they had
    table = busy_frame.ami.bridges()
    moment = pd.Timestamp(start + seconds, unit="s", tz="UTC")
    up = table[(table["created"] <= moment) & ~(table["destroyed"] <= moment)]
    assert sorted(m["BridgeUniqueid"] for m in bridges) == sorted(up["BridgeUniqueid"])
    in_bridges = {m["Uniqueid"]: m["BridgeId"] for m in listed if m["BridgeId"]}
    for bridge in bridges:
        bid = bridge["BridgeUniqueid"]
        moves = last[last["BridgeUniqueid"].astype(str) == bid]
        inside: set[str] = set()
        for event, uid in zip(moves["Event"].astype(str), moves["Uniqueid"].astype(str), strict=True):
            if event == "BridgeEnter":
                inside.add(uid)
            elif event == "BridgeLeave":
                inside.discard(uid)
        assert {u for u, b in in_bridges.items() if b == bid} == inside
        # Asterisk's own count, as last recorded (a conference's announcer is in it unseen)
        assert int(bridge["BridgeNumChannels"]) == int(moves["BridgeNumChannels"].iloc[-1])


def test_a_seek_moves_what_the_actions_describe(busy_frame):
    data = capture_bytes(BUSY)
    start = stamp(recorded_events(data)[0])
    with Simulator(port=0, replay=data, speed=float("inf"), replay_to=250) as sim, \
            AMIClient(sim.url, "hello", "world") as ami:
        replayed(ami, sim.replay)
        assert sim.replay.finished
        sim.replay.pause()
        sim.replay.seek(100.5)  # back, from a finished replay: returns once the state is there
        assert start + 95 < sim.replay.position.timestamp() < start + 100.5
        listed = ami.core_show_channels()
        assert not sim.replay.finished and sim.replay.paused
    # everything strictly before the target has been taken in, nothing at or after it
    moment = start + 100.5
    channels = busy_frame.ami.channels()
    before = pd.Timestamp(moment, unit="s", tz="UTC")
    born = channels["created"].fillna(channels["first_seen"])
    alive = channels[(born < before) & ~(channels["hungup"] < before)]
    assert sorted(m["Uniqueid"] for m in listed) == sorted(alive["Uniqueid"].astype(str))


def test_queue_status_lists_the_recorded_members_and_waiting_callers():
    data = capture_bytes("20_behaviour/queue_abandon/run1.rawman")
    frame = amikit.read_events(data)
    joins = frame[frame["Event"] == "QueueCallerJoin"]
    assert len(joins) >= 1
    joined = joins["Timestamp"].iloc[0].timestamp()
    start = frame["Timestamp"].min().timestamp()
    with Simulator(port=0, replay=data, speed=float("inf"), replay_to=joined - start + 0.001,
                   timestamps="original") as sim, AMIClient(sim.url, "hello", "world") as ami:
        replayed(ami, sim.replay)
        reply = ami.action("QueueStatus")
    entries = [m for m in reply.events if m.name == "QueueEntry"]
    members = [m for m in reply.events if m.name == "QueueMember"]
    join = joins.iloc[0]
    assert [(e["Queue"], e["Uniqueid"], e["Position"]) for e in entries] == [
        (str(join["Queue"]), str(join["Uniqueid"]), "1")]
    recorded_members = frame[frame["Event"].astype(str).str.startswith("QueueMember")
                             & (frame["Timestamp"] <= join["Timestamp"])]
    interfaces = set(recorded_members["Interface"].astype(str))
    assert {m["Location"] for m in members} == interfaces


def test_actions_that_would_change_the_recording_are_refused():
    with Simulator(port=0, replay=amikit.sample_recording(), speed=float("inf")) as sim, \
            AMIClient(sim.url, "hello", "world") as ami:
        refused = {
            "Originate": dict(Channel="PJSIP/SOFTPHONE_A", Application="Wait", Data="1"),
            "Redirect": dict(Channel="PJSIP/A-1", Context="sets", Exten="1", Priority=1),
            "Hangup": dict(Channel="PJSIP/A-1"), "Setvar": dict(Variable="X", Value="1"),
            "UserEvent": dict(UserEvent="Hello"), "QueuePause": dict(Interface="PJSIP/210"),
        }
        for action, headers in refused.items():
            with pytest.raises(ActionFailed, match=f"replaying a recording: {action} cannot change it"):
                ami.action(action, **headers)
        with pytest.raises(ActionFailed, match="do not answer ShowDialPlan"):
            ami.action("ShowDialPlan")
        assert ami.ping()["Ping"] == "Pong"  # the manager's own actions answer as ever


def test_held_before_the_start_and_played_again_after_a_restart():
    data = amikit.sample_recording()
    expected = recorded_events(data)
    sim = Simulator(port=0, replay=data, speed=float("inf"))
    assert "replaying <bytes>" in repr(sim) and "waiting for a login" in repr(sim.replay)
    sim.replay.pause()  # settings wait for the start
    with pytest.raises(AMIError, match="start the simulator before playing"):
        sim.replay.play()
    with sim, AMIClient(sim.url, "hello", "world") as ami:
        own = ami.wait_event(0.3)
        assert [m.name for m in own] == ["SuccessfulAuth"] and sim.replay.published == 0
        sim.replay.resume()
        assert_same_events(replayed(ami, sim.replay), expected)
    with sim, AMIClient(sim.url, "hello", "world") as ami:  # started again: from the start
        assert not sim.replay.finished
        assert_same_events(split_own_login(replayed(ami, sim.replay)), expected)


@pytest.fixture
def small_queues(monkeypatch):
    """Session queues of 1,000 events, the replay waiting for a reader at 500 unread: the
    busy capture's 7,542 events at unlimited speed would overrun them."""
    from amikit.sim import events, replay

    monkeypatch.setattr(replay, "READER_LAG", 500)
    original = events.EventQueue.__init__

    def small(self, limit, wake, owner="a session"):
        original(self, 1000, wake, owner)

    monkeypatch.setattr(events.EventQueue, "__init__", small)


def test_a_slow_reader_holds_the_replay_back_instead_of_losing_events(small_queues):
    """The client sleeps while events pour out; the replay waits for it, nothing dropped."""
    data = capture_bytes(BUSY)
    with Simulator(port=0, replay=data, speed=float("inf")) as sim, \
            AMIClient(sim.url, "hello", "world") as ami:
        seen = ami.wait_event(0.2)
        time.sleep(1.0)  # a reader busy elsewhere
        assert not sim.replay.finished and sim.replay.published < 7542
        seen += replayed(ami, sim.replay)
        assert sim.dropped_events == 0
    assert_same_events(split_own_login(seen), recorded_events(data))


def test_control_calls_have_taken_effect_when_they_return():
    """play(), pause() and seek() from another thread return once the loop has done them:
    right after seek() the state is the recording's at the target (many times over, as a
    race would show only now and then)."""
    data = capture_bytes(BUSY)
    frame = amikit.read_events(data)
    start = frame["Timestamp"].iloc[0].timestamp()
    stamps = sorted(t.timestamp() for t in frame["Timestamp"])
    last_before = max(t for t in stamps if t < start + 10)
    for _ in range(10):
        with Simulator(port=0, replay=data, speed=1) as sim:
            sim.replay.play()
            assert sim.replay.playing
            sim.replay.pause()
            assert sim.replay.paused
            sim.replay.seek(10)
            assert sim.replay.position.timestamp() == pytest.approx(last_before, abs=1e-6)
            sim.replay.speed = 3
            assert sim.replay.speed == 3 and sim.replay.paused
