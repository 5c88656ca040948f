"""Traffic for a lesson (amikit/sim/traffic.py): Poisson arrivals as a pure function, and
callers who join, get answered or abandon in the simulator, as the real captures show."""

from __future__ import annotations

import contextlib
import statistics
import sys
import time
from collections.abc import Iterator

import pytest

from amikit import AMIClient, Message, Simulator, parse_rawman
from amikit.errors import AMIError
from amikit.sim import manager, traffic
from amikit.sim.config import load_config
from amikit.sim.dialplan import Dialplan
from amikit.sim.traffic import TrafficError, arrivals, find_target, parse_rate
from tests.conftest import capture_bytes

MEMBERS = ("Local/210@sets/n", "Local/211@sets/n")


@contextlib.contextmanager
def members_paused(ami: AMIClient) -> Iterator[None]:
    """Both lab members of queue ``support`` paused for the block, unpaused after it."""
    for member in MEMBERS:
        ami.action("QueuePause", Queue="support", Interface=member, Paused="true")
    try:
        yield
    finally:
        for member in MEMBERS:
            ami.action("QueuePause", Queue="support", Interface=member, Paused="false")
#: What a caller's stay in a queue shows, as AMI reports it (the music on hold aside).
CALLER_EVENTS = ("QueueCallerJoin", "QueueCallerAbandon", "QueueCallerLeave", "AgentConnect")


# -- the arrivals, a pure function ------------------------------------------------------
def test_a_seed_gives_the_same_arrival_times_every_time():
    first = list(arrivals(6, minutes=10, seed=3))
    assert first == list(arrivals(6, minutes=10, seed=3))
    assert first != list(arrivals(6, minutes=10, seed=4))
    times = [a.at for a in first]
    assert times == sorted(times) and times[0] > 0 and times[-1] <= 600
    assert all(a.patience is None for a in first), "no patience asked: callers wait for ever"


def test_arrivals_are_poisson_at_the_rate_asked():
    times = [a.at for a in arrivals(30, minutes=200, seed=11)]
    gaps = [b - a for a, b in zip([0.0, *times], times, strict=False)]
    assert len(times) == pytest.approx(6000, rel=0.05)
    assert statistics.fmean(gaps) == pytest.approx(2.0, rel=0.05)
    # exponential gaps: their standard deviation is their mean
    assert statistics.stdev(gaps) == pytest.approx(2.0, rel=0.1)


def test_patience_is_fixed_or_exponential_and_leaves_the_arrival_times_alone():
    plain = [a.at for a in arrivals(6, minutes=30, seed=5)]
    fixed = list(arrivals(6, minutes=30, seed=5, patience=45, patience_distribution="fixed"))
    drawn = list(arrivals(6, minutes=30, seed=5, patience=45))
    assert [a.at for a in fixed] == [a.at for a in drawn] == plain
    assert {a.patience for a in fixed} == {45.0}
    patiences = [a.patience for a in drawn]
    assert len(set(patiences)) == len(patiences)
    assert statistics.fmean(patiences) == pytest.approx(45, rel=0.3)


BAD_TRAFFIC = [
    ({"calls_per_minute": 0}, "calls_per_minute must be a positive number"),
    ({"calls_per_minute": -1}, "calls_per_minute must be a positive number"),
    ({"calls_per_minute": float("nan")}, "calls_per_minute must be a positive number"),
    ({"calls_per_minute": "6"}, "calls_per_minute must be a positive number"),
    ({"patience": -5}, "patience must be a number of seconds, at least 0"),
    ({"patience": "long"}, "patience must be a number of seconds, at least 0"),
    ({"patience": 10, "patience_distribution": "normal"}, "'exponential' or 'fixed'"),
    ({"minutes": 0}, "minutes must be a positive number"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD_TRAFFIC)
def test_bad_arguments_are_refused_when_the_arrivals_are_made(kwargs, message):
    with pytest.raises(TrafficError, match=message) as refused:
        arrivals(**{"calls_per_minute": 6, **kwargs})
    # an amikit error (catch AMIError for them all) and still a ValueError
    assert isinstance(refused.value, AMIError) and isinstance(refused.value, ValueError)


def test_the_simulator_refuses_bad_traffic_with_an_amikit_error(sim):
    with pytest.raises(TrafficError, match="calls_per_minute must be a positive number"):
        sim.traffic("support", calls_per_minute=0)
    with pytest.raises(AMIError, match="patience must be a number of seconds"):
        sim.traffic("support", patience=-1)


def test_callers_call_the_extension_that_runs_the_queue():
    plan = Dialplan.parse(load_config().extensions)
    assert find_target(plan, "support") == ("sets", "400")
    assert find_target(plan, exten="600") == ("sets", "600")
    assert find_target(plan, "ignored", exten="s", context="other") == ("other", "s")
    for queue, where in (("sales", {}), ("support", {"context": "other"})):
        with pytest.raises(AMIError, match="no extension runs Queue"):
            find_target(plan, queue, **where)
    with pytest.raises(AMIError, match="no extension 999"):
        find_target(plan, exten="999")


@pytest.mark.parametrize(("text", "expected"), [
    ("support:6/min", ("support", 6.0)), ("support : 90/h", ("support", 1.5)),
    ("q1:0.5/m", ("q1", 0.5)),
])
def test_the_command_lines_rate(text, expected):
    assert parse_rate(text) == expected


@pytest.mark.parametrize("text", ["support", "support:6", "support:6/s", ":6/min",
                                  "support:0/min"])
def test_a_bad_rate_is_refused(text):
    with pytest.raises(AMIError, match=r"support:6/min|positive"):
        parse_rate(text)


# -- callers in the simulator -----------------------------------------------------------
@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(port=0, speed=40, seed=7, pbx_timestamps=True) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def slow_sim() -> Iterator[Simulator]:
    """For tests that check times: at speed 4 a PBX second is a quarter of a second of wall
    time, room enough for a loaded machine (at 40 it would be 25 ms)."""
    with Simulator(port=0, speed=4, seed=7, pbx_timestamps=True) as simulator:
        yield simulator


def session(sim: Simulator) -> Iterator[AMIClient]:
    with AMIClient(sim.url, "hello", "world") as client:
        client.wait_event(0)
        yield client


@pytest.fixture
def ami(sim: Simulator) -> Iterator[AMIClient]:
    yield from session(sim)


@pytest.fixture
def slow_ami(slow_sim: Simulator) -> Iterator[AMIClient]:
    yield from session(slow_sim)


def drain(ami: AMIClient) -> list[Message]:
    """Every event queued for the session (the traffic is over: nothing more is coming)."""
    seen: list[Message] = []
    while batch := ami.wait_event(0):
        seen += batch
    return seen


def stays(events: list[Message]) -> dict[str, list[str]]:
    """Each queued channel's queue events, by channel, in order."""
    found: dict[str, list[str]] = {}
    for event in events:
        if event.name in CALLER_EVENTS:
            found.setdefault(event["Channel"], []).append(event.name)
    return found


def recorded_abandon() -> list[str]:
    """A caller's queue events in the real abandon (``20_behaviour/queue_abandon``)."""
    events = parse_rawman(capture_bytes("20_behaviour/queue_abandon/run1.rawman"))
    (names,) = stays([e for e in events if e.is_event]).values()
    return names


def test_the_placed_callers_join_the_queue_and_are_answered(sim, ami):
    calls = sim.traffic("support", calls_per_minute=30, minutes=0.25, patience=None)
    assert calls.wait(60), calls
    events = drain(ami)
    assert calls.placed >= 3 and calls.failed == 0 and calls.abandoned == 0
    assert calls.ended == calls.placed
    joins = [e for e in events if e.name == "QueueCallerJoin"]
    assert len(joins) == calls.placed
    assert {e["Queue"] for e in joins} == {"support"}
    # each caller has a number of its own
    assert sorted(e["CallerIDNum"] for e in joins) == [str(5550001 + i)
                                                       for i in range(calls.placed)]
    assert set(map(tuple, stays(events).values())) == {
        ("QueueCallerJoin", "QueueCallerLeave", "AgentConnect")}


def test_impatient_callers_abandon_while_the_members_are_paused(slow_sim, slow_ami):
    sim, ami = slow_sim, slow_ami
    with members_paused(ami):
        calls = sim.traffic("support", calls_per_minute=30, minutes=0.15, patience=3,
                            patience_distribution="fixed")
        assert calls.wait(60), calls
    events = drain(ami)
    assert calls.placed >= 3 and calls.abandoned == calls.placed
    assert set(map(tuple, stays(events).values())) == {tuple(recorded_abandon())}
    abandons = [e for e in events if e.name == "QueueCallerAbandon"]
    assert len(abandons) == calls.placed
    # three seconds of patience, counted from the arrival (the extension takes half a
    # second to answer): 2.5 s in the queue, give or take a busy machine (a PBX second is
    # 250 ms of wall time at speed 4)
    assert {int(e["HoldTime"]) for e in abandons} <= {2, 3, 4}


def test_pbx_timestamps_run_at_the_simulators_speed(slow_sim, slow_ami):
    sim, ami = slow_sim, slow_ami
    with members_paused(ami):
        calls = sim.traffic("support", calls_per_minute=20, minutes=0.15, patience=8,
                            patience_distribution="fixed", seed=3)
        assert calls.wait(60), calls
    events = drain(ami)
    joined = {e["Channel"]: float(e["Timestamp"]) for e in events if e.name == "QueueCallerJoin"}
    waits = [float(e["Timestamp"]) - joined[e["Channel"]] for e in events
             if e.name == "QueueCallerAbandon"]
    assert waits, "no caller abandoned"
    # 8 PBX seconds of patience less the half second the extension takes to answer, in
    # Timestamps as in HoldTime (in real time it took a quarter of that: 1.9 s); the
    # 2.5 s either side is 625 ms of wall time at speed 4
    assert all(5 < wait < 10 for wait in waits), waits


def test_a_caller_out_of_patience_before_it_joins_gives_up_as_it_joins(sim, ami):
    # patience 0 runs out while the extension is still answering (half a second): the
    # caller is woken when it joins the queue, and hangs up at once, before any agent
    calls = sim.traffic("support", calls_per_minute=30, minutes=0.1, patience=0,
                        patience_distribution="fixed", seed=5)
    assert calls.wait(60), calls
    events = drain(ami)
    assert calls.placed >= 1 and calls.abandoned == calls.placed == calls.ended
    assert set(map(tuple, stays(events).values())) == {tuple(recorded_abandon())}
    assert {e["HoldTime"] for e in events if e.name == "QueueCallerAbandon"} == {"0"}


def traffic_timers(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Timers the callers' tasks set on the simulator's loop from now on (each one a wake-up),
    by the name of the traffic function that set them; the arrivals' own are left out."""
    timers: list[str] = []
    loop = sim._loop
    assert loop is not None
    real = loop.call_at

    def call_at(when, callback, *args, **kwargs):
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename == traffic.__file__:
                if frame.f_code.co_name != "_run":
                    timers.append(frame.f_code.co_name)
                break
            frame = frame.f_back
        return real(when, callback, *args, **kwargs)

    monkeypatch.setattr(loop, "call_at", call_at)
    return timers


def test_a_live_caller_sleeps_until_its_call_ends(sim, monkeypatch):
    timers = traffic_timers(sim, monkeypatch)
    # 600 answers and hangs up 30 PBX seconds later, with no queue: the callers' patience
    # (2 s) ends long before, and they wait for the hangup
    calls = sim.traffic(None, calls_per_minute=60, minutes=0.05, patience=2,
                        patience_distribution="fixed", exten="600", seed=3)
    assert calls.wait(60), calls
    assert calls.placed >= 1 and calls.ended == calls.placed and calls.abandoned == 0
    # a caller's timers are its patience and its dialing's, not one per PBX second of its
    # call (which made some 30 each, and 360 a second a call at speed 360)
    assert len(timers) <= 4 * calls.placed, timers


def test_stop_ends_the_arrivals(sim, ami):
    calls = sim.traffic("support", calls_per_minute=120, minutes=None, patience=None)
    deadline = time.monotonic() + 20
    while calls.placed < 2:
        assert time.monotonic() < deadline, calls
        time.sleep(0.05)
    calls.stop()
    assert calls.wait(30), calls
    placed = calls.placed
    time.sleep(0.5)  # at 120 a minute and speed 40, some 40 more would have come by now
    assert calls.placed == placed and calls.ended == placed
    assert len([e for e in drain(ami) if e.name == "QueueCallerJoin"]) == placed


def test_the_simulator_counts_the_events_a_session_had_no_room_for(monkeypatch):
    monkeypatch.setattr(manager, "QUEUE_LIMIT", 50)  # 20,000 for a real session
    with Simulator(port=0, speed=40, seed=7) as sim, \
            AMIClient(sim.url, "hello", "world") as ami:
        ami.wait_event(0)
        assert sim.dropped_events == 0
        calls = sim.traffic("support", calls_per_minute=30, minutes=0.1, patience=0,
                            patience_distribution="fixed", seed=5)
        assert calls.wait(60), calls
        kept = drain(ami)
        assert sim.dropped_events > 0 and len(kept) <= 50


def test_stopping_the_simulator_ends_the_traffic():
    with Simulator(port=0, speed=40) as sim:
        calls = sim.traffic("support", calls_per_minute=60, minutes=None)
        deadline = time.monotonic() + 20
        while calls.placed < 1:
            assert time.monotonic() < deadline, calls
            time.sleep(0.05)
    assert calls.wait(10), "the traffic outlived its simulator"
    placed = calls.placed
    calls.stop()  # harmless once the simulator is gone
    assert calls.placed == placed


def test_traffic_needs_a_running_simulator():
    with pytest.raises(AMIError, match="start the simulator"):
        Simulator(port=0).traffic()
