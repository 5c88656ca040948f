"""The queue model's pure rules: queues.conf, member order, strategies, emptiness, statistics."""

from __future__ import annotations

import random

import pytest

from amikit import parse_rawman
from amikit.sim.config import ConfigError, read_conf
from amikit.sim.queue_model import Queue, member_bucket, parse_empty
from tests.conftest import capture_bytes

LAB = capture_bytes("conf/queues.conf").decode()


def lab_queue() -> Queue:
    section = next(s for s in read_conf(LAB) if s.name == "support")
    return Queue.from_section(section, "queues.conf", now=0)


def test_the_lab_queue_is_read_as_configured():
    queue = lab_queue()
    assert (queue.strategy, queue.timeout, queue.retry, queue.maxlen) == ("ringall", 15, 2, 0)
    assert [(m.interface, m.name, m.penalty) for m in queue.members.values()] == [
        ("Local/210@sets/n", "Agent210", 0), ("Local/211@sets/n", "Agent211", 0)]
    assert queue.joinempty == frozenset() and queue.leavewhenempty == frozenset()


def test_members_are_listed_in_the_recorded_order():
    # 04_lists/rawman/022_queuestatus: Agent211 before Agent210, though 210 is configured first
    reply = parse_rawman(capture_bytes("04_lists/rawman/022_queuestatus.body.bin"))
    recorded = [m["Location"] for m in reply if m.name == "QueueMember"]
    assert [m.interface for m in lab_queue().ordered()] == recorded
    assert member_bucket("Local/211@sets/n") < member_bucket("Local/210@sets/n")


def test_ringall_rings_in_try_callings_order():
    # 20_behaviour/queue_answered: AgentCalled for 210, then for 211, in every run
    runs = [parse_rawman(capture_bytes(f"20_behaviour/queue_answered/run{r}.rawman"))
            for r in range(1, 6)]
    for run in runs:
        called = [m["Interface"] for m in run if m.name == "AgentCalled"]
        queue = lab_queue()
        assert [m.interface for m in queue.pick(queue.ringable(0), random.Random(0), 0)] == called


def test_strategies_pick_one_member():
    queue = lab_queue()
    queue.add("Local/209@sets/n", 0, "Temp")
    rng = random.Random(1)
    members = queue.ringable(1000)
    queue.strategy = "fewestcalls"
    queue.members["local/210@sets/n"].calls = 3
    queue.members["local/211@sets/n"].calls = 1
    queue.members["local/209@sets/n"].calls = 2
    assert [m.name for m in queue.pick(members, rng, 1000)] == ["Agent211"]
    queue.strategy = "leastrecent"
    for name, last in (("local/210@sets/n", 900), ("local/211@sets/n", 990),
                       ("local/209@sets/n", 950)):
        queue.members[name].lastcall = last
    assert [m.name for m in queue.pick(members, rng, 1000)] == ["Agent210"]
    queue.strategy = "linear"
    assert [m.name for m in queue.pick(members, rng, 1000)] == ["Agent210"]
    queue.strategy = "rrmemory"
    picked = [queue.pick(members, rng, 1000)[0].name for _ in range(4)]
    assert picked == ["Agent210", "Agent211", "Temp", "Agent210"]


def test_penalty_tiers_and_paused_members():
    queue = lab_queue()
    queue.members["local/211@sets/n"].penalty = 1
    assert [m.name for m in queue.pick(queue.ringable(0), random.Random(0), 0)] == ["Agent210"]
    queue.members["local/210@sets/n"].paused = True
    assert [m.name for m in queue.ringable(0)] == ["Agent211"]


def test_ringinuse_off_skips_a_member_in_use():
    queue = lab_queue()
    member = queue.members["local/211@sets/n"]
    member.ringinuse, member.status = False, 2
    assert [m.name for m in queue.ringable(0)] == ["Agent210"]


def test_wrapup_time_keeps_a_member_from_ringing():
    queue = lab_queue()
    member = queue.members["local/210@sets/n"]
    member.wrapuptime, member.lastcall = 10, 100
    assert [m.name for m in queue.ringable(105)] == ["Agent211"]
    assert len(queue.ringable(111)) == 2
    # wrap-up is PBX time: at speed 10, 1.5 wall seconds are 15 PBX seconds
    assert len(queue.ringable(101.5, speed=10)) == 2
    assert len(queue.ringable(100.5, speed=10)) == 1


def test_a_members_wrapup_is_its_own_else_the_queues():
    queue = Queue.from_section(read_conf(
        "[q]\nmember => Local/1@a/n,0,A\nwrapuptime = 5\nringinuse = no")[0], "queues.conf")
    member = queue.members["local/1@a/n"]
    # reload_single_queue reads the parameters before the members, wherever they stand
    assert (queue.wrapuptime_of(member), member.wrapuptime, member.ringinuse) == (5, 0, False)
    assert dict(member.blob("q"))["Wrapuptime"] == "0"  # the member's own, as QueueMember shows
    ringinuse = Queue.from_section(read_conf(
        "[q]\nringinuse = no\nmember => Local/1@a/n,0,A,,yes")[0], "queues.conf")
    assert ringinuse.members["local/1@a/n"].ringinuse


@pytest.mark.parametrize(("text", "joinempty", "expected"), [
    ("yes", True, frozenset()), ("no", True, {"penalty", "invalid", "paused"}),
    ("yes", False, {"penalty", "invalid", "paused"}), ("no", False, frozenset()),
    ("strict", True, {"penalty", "invalid", "paused", "unavailable"}),
    ("paused,inuse", True, {"paused", "inuse"}),
])
def test_empty_conditions(text, joinempty, expected):
    assert parse_empty(text, joinempty=joinempty) == expected


def test_a_queue_of_paused_members_is_empty_unless_joinempty_is_yes():
    queue = lab_queue()
    for member in queue.members.values():
        member.paused = True
    assert not queue.empty(queue.joinempty)  # the lab's joinempty = yes: callers still join
    assert queue.empty(parse_empty("no", joinempty=True))


def test_statistics_after_a_reset_are_as_recorded():
    # 21_queue_conference_actions/029: QueueStatus right after QueueReset
    reply = parse_rawman(capture_bytes("21_queue_conference_actions/029_queuestatus_after.body.bin"))
    recorded = next(m for m in reply if m.name == "QueueParams")
    queue = lab_queue()
    queue.completed_call(3, queue.connected(0))
    queue.abandoned_call(5)
    queue.reset()
    assert [("Event", "QueueParams"), *queue.params()] == list(recorded.headers)


def test_bad_configuration_names_the_file_and_line():
    with pytest.raises(ConfigError, match=r"queues.conf:3: \[q\] strategy"):
        Queue.from_section(read_conf("[q]\nmember => Local/1@a\nstrategy = loudest")[0],
                           "queues.conf")
    with pytest.raises(ConfigError, match="needs an interface"):
        Queue.from_section(read_conf("[q]\nmember => 210")[0], "queues.conf")


def test_service_levels_and_averages_as_the_recorded_queue_shows_them():
    # 21_queue_conference_actions/010: ServiceLevel 0, Completed 24, Abandoned 7,
    # ServicelevelPerf 70.8 (17 of 24 answered within 0 s), ServicelevelPerf2 54.8 (17 of 31)
    reply = parse_rawman(capture_bytes(
        "21_queue_conference_actions/010_queuestatus_caller_waiting.body.bin"))
    real = next(m for m in reply if m.name == "QueueParams")
    queue = lab_queue()
    for hold in [0] * 17 + [1] * 7:
        queue.completed_call(3, queue.connected(hold))
    for _ in range(7):
        queue.abandoned_call(4)
    got = dict(queue.params())
    for name in ("ServiceLevel", "Completed", "Abandoned", "ServicelevelPerf",
                 "ServicelevelPerf2", "TalkTime"):
        assert got[name] == real[name], name


def test_running_averages_are_app_queues_integer_ones():
    queue = lab_queue()
    queue.completed_call(3, queue.connected(0))
    assert (queue.talktime, queue.holdtime) == (3, 0)  # update_queue: the first call as it is
    queue.completed_call(7, queue.connected(8))
    assert (queue.talktime, queue.holdtime) == ((3 * 3 + 7) >> 2, (0 * 3 + 8) >> 2)


def test_unknown_empty_conditions_are_ignored_not_emptied():
    assert parse_empty("paused,bogus", joinempty=True) == {"paused"}


def test_a_linear_queue_lists_members_as_added():
    section = read_conf(LAB.replace("strategy = ringall", "strategy = linear"))[1]
    queue = Queue.from_section(section, "queues.conf", now=0)
    assert [m.name for m in queue.ordered()] == ["Agent210", "Agent211"]


def test_only_in_use_counts_as_in_use_for_emptiness():
    queue = lab_queue()
    for member in queue.members.values():
        member.status = 3  # BUSY: get_member_status excludes only AST_DEVICE_INUSE under inuse
    assert not queue.empty(frozenset({"inuse"}))
    for member in queue.members.values():
        member.status = 2
    assert queue.empty(frozenset({"inuse"}))
