"""Queues in the simulator, against the real Asterisk's bytes and event sequences.

Replies are compared with ``21_queue_conference_actions`` and ``04_lists`` byte for byte where
nothing in them depends on the run, and with per-run numbers masked where something does; a
call's queue events with what every run of ``20_behaviour/queue_answered`` and
``queue_abandon`` shows.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from amikit import AMIClient, Message, Simulator, parse_rawman
from tests.conftest import capture_bytes, events_until

QUEUE_EVENTS = {"QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon", "AgentCalled",
                "AgentConnect", "AgentComplete", "AgentRingNoAnswer", "MusicOnHoldStart",
                "MusicOnHoldStop"}
#: Values that differ from run to run (times, counters of a server that ran for hours).
PER_RUN = re.compile(r"^(LoginTime|LastCall|LastPause|CallsTaken|Completed|Abandoned|Holdtime"
                     r"|TalkTime|ServicelevelPerf2?|Wait|Channel|Uniqueid|CallerIDNum|CallerIDName"
                     r"|ConnectedLineNum|ConnectedLineName): .*$", re.MULTILINE)


def _mask(text: str) -> str:
    return PER_RUN.sub(lambda m: m.group(1) + ": *", text)


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(port=0, speed=5, seed=7) as simulator:
        yield simulator


@pytest.fixture
def raw(sim: Simulator) -> Iterator[Callable[..., bytes]]:
    """GET /rawman with a logged-in cookie, as the capture's client did; the body's bytes."""
    with httpx.Client(base_url=sim.url, timeout=10) as http:
        http.get("/rawman", params={"action": "Login", "username": "hello", "secret": "world"})

        def get(**params: str) -> bytes:
            return http.get("/rawman", params=params).content
        yield get
        for member in ("Local/210@sets/n", "Local/211@sets/n"):
            get(action="QueuePause", Interface=member, Paused="false")
            get(action="QueueMemberRingInUse", Interface=member, RingInUse="true")


def recorded(name: str) -> bytes:
    return capture_bytes(f"21_queue_conference_actions/{name}.body.bin")


def queue_names(messages: list[Message]) -> list[str]:
    return [m.name for m in messages if m.is_event and m.name in QUEUE_EVENTS]


def recorded_queue_names(scenario: str, run: int) -> list[str]:
    text = capture_bytes(f"20_behaviour/{scenario}/run{run}.rawman")
    return queue_names(parse_rawman(text))


def one_call(config, *, pause: tuple[str, ...] = (), **originate: object) -> list[Message]:
    """Every event of one call on a simulator of ``config``: ``pause`` is a queue and the
    members to pause in it first; the events are read until every channel has hung up."""
    with Simulator(port=0, config=config, speed=5) as quick, \
            AMIClient(quick.url, "hello", "world") as ami:
        if pause:
            queue, *members = pause
            for member in members:
                ami.action("QueuePause", Queue=queue, Interface=member, Paused="true")
        ami.wait_event(0)
        ami.originate(Async=True, **originate)  # as the captures' Originates
        return events_until(ami, _all_hung_up)


# -- replies -----------------------------------------------------------------------------
@pytest.mark.parametrize(("params", "capture"), [
    ({"action": "QueuePause", "Queue": "support", "Interface": "Local/210@sets/n",
      "Paused": "true", "Reason": "lunch"}, "003_queuepause_on"),
    ({"action": "QueueMemberRingInUse", "Queue": "support", "Interface": "Local/211@sets/n",
      "RingInUse": "false"}, "013_queue_ringinuse"),
    ({"action": "QueuePause", "Queue": "support", "Interface": "Local/210@sets/n",
      "Paused": "false"}, "014_queuepause_off_210"),
    ({"action": "QueueLog", "Queue": "support", "Event": "CUSTOM",
      "Message": "hello from amikit"}, "027_queuelog"),
    ({"action": "QueueReset", "Queue": "support"}, "028_queuereset"),
])
def test_replies_are_the_recorded_bytes(raw, params, capture):
    assert raw(**params) == recorded(capture)


def test_queues_is_an_unknown_action_as_in_23(raw):
    expected = capture_bytes("04_lists/rawman/024_queues.body.bin").replace(b"ActionID: q1\r\n", b"")
    assert raw(action="Queues") == expected


def test_queue_status_of_an_idle_queue(raw):
    raw(action="QueueReset", Queue="support")
    body = raw(action="QueueStatus", Queue="support").decode()
    assert _mask(body) == _mask(recorded("029_queuestatus_after").decode())


def test_queue_summary_has_the_recorded_shape(raw):
    body = raw(action="QueueSummary", ActionID="qsum1").decode()
    real = capture_bytes("04_lists/rawman/023_queuesummary.body.bin").decode()
    available = re.compile(r"\r\nAvailable: \d+\r\n")  # one agent was busy then
    assert available.sub("*", body) == available.sub("*", real)
    assert "Available: 2\r\n" in body  # both idle and unpaused here


def test_statistics_after_one_answered_call(sim, raw):
    raw(action="QueueReset", Queue="support")
    with AMIClient(sim.url, "hello", "world") as ami:
        ami.wait_event(0)
        _call_queue(ami, "stats")
        seen = events_until(ami, _all_hung_up)
    complete = next(m for m in seen if m.name == "AgentComplete")
    params = next(m for m in parse_rawman(raw(action="QueueStatus", Queue="support"))
                  if m.name == "QueueParams")
    # update_queue / recalc_holdtime: the first call's times as they are; answered within
    # the service level of 0 s (21/010: 17 of 24 calls so, ServicelevelPerf 70.8)
    assert (params["Completed"], params["Abandoned"]) == ("1", "0")
    assert params["TalkTime"] == complete["TalkTime"]
    assert params["Holdtime"] == complete["HoldTime"] == "0"
    assert params["ServicelevelPerf"] == "100.0"


def test_unpausing_keeps_the_time_of_the_pause(raw):
    # 21/015: the unpause at 203.2 still reports LastPause 1796000200, the pause's time
    raw(action="QueuePause", Queue="support", Interface="Local/211@sets/n", Paused="true")
    def last_pause() -> str:
        reply = parse_rawman(raw(action="QueueStatus", Queue="support",
                                 Member="Local/211@sets/n"))
        return next(m for m in reply if m.name == "QueueMember")["LastPause"]
    paused_at = last_pause()
    time.sleep(1.1)
    raw(action="QueuePause", Queue="support", Interface="Local/211@sets/n", Paused="false")
    assert last_pause() == paused_at != "0"


def test_queue_names_are_matched_in_any_case(raw):
    assert b"Message: Added interface to queue" in raw(
        action="QueueAdd", Queue="SUPPORT", Interface="Local/209@sets/n")
    assert b"Message: Removed interface from queue" in raw(
        action="QueueRemove", Queue="Support", Interface="Local/209@sets/n")


def test_errors_name_what_is_missing(raw):
    assert b"Message: Need 'Interface' and 'Paused' parameters." in raw(action="QueuePause")
    assert b"Message: 'Queue' not specified." in raw(action="QueueAdd")
    assert b"Message: Interface not found" in raw(action="QueuePause", Interface="SIP/x",
                                                   Paused="true")
    assert b"Message: Member not dynamic" in raw(action="QueueRemove", Queue="support",
                                                 Interface="Local/210@sets/n")


# -- calls ------------------------------------------------------------------------------
def _pause_all(ami: AMIClient, paused: bool, reason: str = "") -> None:
    for member in ("Local/210@sets/n", "Local/211@sets/n"):
        ami.action("QueuePause", Queue="support", Interface=member,
                   Paused="true" if paused else "false", Reason=reason)


def _call_queue(ami: AMIClient, action_id: str) -> None:
    ami.originate(Channel="Local/400@sets", Context="sets", Exten="600", Priority=1,
                  Async=True, ActionID=action_id)


def _all_hung_up(seen: list[Message]) -> bool:
    made = {m["Channel"] for m in seen if m.name == "Newchannel"}
    gone = {m["Channel"] for m in seen if m.name == "Hangup"}
    return bool(made) and made == gone


def test_an_answered_call_sends_the_recorded_queue_events(sim):
    with AMIClient(sim.url, "hello", "world") as ami:
        ami.wait_event(0)
        _call_queue(ami, "answered")
        seen = events_until(ami, _all_hung_up)
    runs = [recorded_queue_names("queue_answered", run) for run in range(1, 6)]
    # four runs agree; run 4's recording stops before its AgentComplete (141 to 143 messages)
    expected = max(runs, key=runs.count)
    assert runs.count(expected) == 4
    assert queue_names(seen) == expected
    connect = next(m for m in seen if m.name == "AgentConnect")
    assert (connect["MemberName"], connect["Interface"]) == ("Agent210", "Local/210@sets/n")
    complete = next(m for m in seen if m.name == "AgentComplete")
    assert complete["Reason"] == "agent"  # the member hung up (every real run)
    # the loser of ringall was hung up as answered elsewhere (every real run)
    assert any(m.name == "Hangup" and m["Channel"].startswith("Local/211@") and m["Cause"] == "26"
               for m in seen)


def test_an_abandoned_call_sends_the_recorded_queue_events(sim):
    with AMIClient(sim.url, "hello", "world") as ami:
        _pause_all(ami, True)
        ami.wait_event(0)
        _call_queue(ami, "abandon")
        seen = events_until(ami, lambda s: any(m.name == "QueueCallerJoin" for m in s))
        caller = next(m for m in seen if m.name == "QueueCallerJoin")["Channel"]
        ami.hangup(caller)
        seen = events_until(ami, _all_hung_up, seen=seen)
        _pause_all(ami, False)
    assert queue_names(seen) == recorded_queue_names("queue_abandon", 1)
    assert ("ABANDONED", "TRUE") in [(m["Variable"], m["Value"]) for m in seen if m.name == "VarSet"]


def test_a_waiting_caller_in_status_summary_and_queue_show(sim, raw):
    raw(action="QueueReset", Queue="support")
    for member in ("Local/210@sets/n", "Local/211@sets/n"):
        raw(action="QueuePause", Queue="support", Interface=member, Paused="true", Reason="lunch")
    raw(action="Originate", Channel="Local/400@sets", Context="sets", Exten="600", Priority="1",
        Async="true", CallerID='"Queue Caller" <7001>')
    deadline = time.monotonic() + 10
    while b"Callers: 1" not in raw(action="QueueSummary", Queue="support"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    status = raw(action="QueueStatus", Queue="support").decode()
    real = recorded("010_queuestatus_caller_waiting").decode()
    assert _mask(status) == _mask(real)
    show = raw(action="Command", Command="queue show support").decode()
    real_show = recorded("012_queue_show_support").decode()
    # times, counts, percentages and the channel's number differ from run to run
    numbers = re.compile(r"-[0-9a-f]{8};|has taken no calls yet|has taken \d+ calls \(last was \d+ secs ago\)"
                         r"|\d+(\.\d+)?")
    assert numbers.sub("#", show) == numbers.sub("#", real_show)
    raw(action="QueuePause", Queue="support", Interface="Local/210@sets/n", Paused="false")


def test_the_queue_timeout_continues_the_dialplan_with_timeout_status(tmp_path):
    # app_queue's documentation: QUEUESTATUS is TIMEOUT when the Queue()'s timeout expires,
    # and the dialplan goes on at the next priority
    (tmp_path / "extensions.conf").write_text(
        "[sets]\nexten => 401,1,Answer()\n same => n,Queue(support,,,,2)\n"
        " same => n,Set(AFTER=${QUEUESTATUS})\n same => n,Hangup()\n"
        "exten => 600,1,Answer()\n same => n,Wait(30)\n same => n,Hangup()\n"
        "exten => 210,1,Answer()\n same => n,Hangup()\nexten => 211,1,Answer()\n"
        " same => n,Hangup()\n")
    seen = one_call(tmp_path, pause=("support", "Local/210@sets/n", "Local/211@sets/n"),
                    Channel="Local/401@sets", Context="sets", Exten="600", Priority=1)
    values = [(m["Variable"], m["Value"]) for m in seen if m.name == "VarSet"]
    assert ("QUEUESTATUS", "TIMEOUT") in values and ("AFTER", "TIMEOUT") in values
    # queue_exec calls record_abandoned on this exit too (before set_queue_result)
    assert queue_names(seen)[-2:] == ["QueueCallerAbandon", "QueueCallerLeave"]


def test_the_lab_dialplan_has_no_unsimulated_queue(sim):
    assert sim.pbx is not None
    assert not [place for place in sim.pbx.unsupported() if place.endswith(": Queue")]


# -- exits and rules no capture shows, on app_queue's documented behaviour ----------------
def _lab_with(tmp_path, queues: str) -> None:
    (tmp_path / "queues.conf").write_text(queues)
    (tmp_path / "extensions.conf").write_text(
        "[sets]\nexten => 401,1,Answer()\n same => n,Queue(q,,,,6)\n"
        " same => n,Hangup()\nexten => 600,1,Answer()\n same => n,Wait(30)\n"
        " same => n,Hangup()\nexten => 333,1,Ringing()\n same => n,Wait(20)\n"
        " same => n,Hangup()\nexten => 210,1,Answer()\n same => n,Wait(1)\n"
        " same => n,Hangup()\n")


def _queue_status(seen: list[Message]) -> list[str]:
    return [m["Value"] for m in seen if m.name == "VarSet" and m["Variable"] == "QUEUESTATUS"]


@pytest.mark.parametrize(("settings", "status"), [
    ("joinempty = no\nmember => Local/210@sets/n,0,A", "JOINEMPTY"),
    ("leavewhenempty = yes\nmember => Local/210@sets/n,0,A", "LEAVEEMPTY"),
])
def test_empty_queues_refuse_or_lose_their_callers(tmp_path, settings, status):
    _lab_with(tmp_path, f"[q]\nstrategy = ringall\n{settings}\n")
    seen = one_call(tmp_path, pause=("q", "Local/210@sets/n"),
                    Channel="Local/401@sets", Context="sets", Exten="600", Priority=1)
    assert _queue_status(seen) == [status]
    joined = "QueueCallerJoin" in queue_names(seen)
    assert joined == (status == "LEAVEEMPTY")


def test_a_full_queue_refuses_the_next_caller(tmp_path):
    _lab_with(tmp_path, "[q]\nmaxlen = 1\nmember => Local/210@sets/n,0,A\n")
    with Simulator(port=0, config=tmp_path, speed=5) as quick, \
            AMIClient(quick.url, "hello", "world") as ami:
        ami.action("QueuePause", Queue="q", Interface="Local/210@sets/n", Paused="true")
        ami.wait_event(0)
        for _ in range(2):
            ami.originate(Channel="Local/401@sets", Context="sets", Exten="600", Priority=1)
        seen = events_until(ami, lambda s: "FULL" in _queue_status(s))
        seen = events_until(ami, _all_hung_up, seen=seen)
    assert queue_names(seen).count("QueueCallerJoin") == 1
    assert sorted(_queue_status(seen)) == ["FULL", "TIMEOUT"]


def test_a_member_who_does_not_answer_is_reported_and_rung_again(tmp_path):
    _lab_with(tmp_path, "[q]\ntimeout = 1\nretry = 1\nmember => Local/333@sets/n,0,Deaf\n")
    seen = one_call(tmp_path,
                    Channel="Local/401@sets", Context="sets", Exten="600", Priority=1)
    names = queue_names(seen)
    assert names.count("AgentRingNoAnswer") >= 2  # rung, not answered, rung again after retry
    assert names.count("AgentCalled") == names.count("AgentRingNoAnswer")
    no_answer = next(m for m in seen if m.name == "AgentRingNoAnswer")
    assert (no_answer["MemberName"], no_answer["Interface"]) == ("Deaf", "Local/333@sets/n")
    assert _queue_status(seen) == ["TIMEOUT"]


def test_music_on_hold_applications(tmp_path):
    (tmp_path / "extensions.conf").write_text(
        "[sets]\nexten => 500,1,Answer()\n same => n,MusicOnHold(default,1)\n"
        " same => n,StartMusicOnHold()\n same => n,Wait(1)\n same => n,StopMusicOnHold()\n"
        " same => n,Hangup()\n")
    seen = one_call(tmp_path, Channel="Local/500@sets", Application="Wait", Data="5")
    music = [m for m in seen if m.name.startswith("MusicOnHold")]
    assert [m.name for m in music] == ["MusicOnHoldStart", "MusicOnHoldStop"] * 2
    # header lists as in 20_behaviour/queue_answered: the channel's, then Class on Start only
    recorded = parse_rawman(capture_bytes("20_behaviour/queue_answered/run1.rawman"))
    for name in ("MusicOnHoldStart", "MusicOnHoldStop"):
        real = next(m for m in recorded if m.name == name)
        assert [h for h, _ in next(m for m in music if m.name == name).headers] == \
            [h for h, _ in real.headers]
    assert music[0]["Class"] == "default"


@pytest.mark.parametrize(("queue_args", "expected"), [
    # queue_exec: expire = start + atoi(timeout): a word is 0, out at once
    ("q,,,,soon", ["TIMEOUT"]),
])
def test_a_timeout_that_is_no_number_is_zero(tmp_path, queue_args, expected):
    _lab_with(tmp_path, "[q]\nmember => Local/210@sets/n,0,A\n")
    conf = tmp_path / "extensions.conf"
    conf.write_text(conf.read_text().replace("Queue(q,,,,6)", f"Queue({queue_args})"))
    seen = one_call(tmp_path, pause=("q", "Local/210@sets/n"),
                    Channel="Local/401@sets", Context="sets", Exten="600", Priority=1)
    assert _queue_status(seen) == expected


def test_a_member_timeout_of_zero_rings_until_answered(tmp_path):
    # try_calling: a queue timeout of 0 rings members with no limit of their own
    _lab_with(tmp_path, "[q]\ntimeout = 0\nmember => Local/211@sets/n,0,Slow\n")
    conf = tmp_path / "extensions.conf"
    conf.write_text(conf.read_text() + "exten => 211,1,Ringing()\n same => n,Wait(2)\n"
                    " same => n,Answer()\n same => n,Wait(1)\n same => n,Hangup()\n")
    seen = one_call(tmp_path,
                    Channel="Local/401@sets", Context="sets", Exten="600", Priority=1)
    names = queue_names(seen)
    assert "AgentConnect" in names and "AgentRingNoAnswer" not in names


def test_music_on_hold_with_a_bad_duration_or_class_still_ends(tmp_path):
    # play_moh_exec: a duration that is no number waits indefinitely (until the hangup);
    # local_ast_moh_start: a class musiconhold.conf lacks is the default one
    (tmp_path / "extensions.conf").write_text(
        "[sets]\nexten => 500,1,Answer()\n same => n,MusicOnHold(nosuch,abc)\n"
        " same => n,Hangup()\n")
    seen = one_call(tmp_path, Channel="Local/500@sets", Application="Wait", Data="2")
    start = next(m for m in seen if m.name == "MusicOnHoldStart")
    assert start["Class"] == "default"
    assert "MusicOnHoldStop" in [m.name for m in seen]
