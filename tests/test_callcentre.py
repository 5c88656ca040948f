"""queue_calls(), agents(), queue_stats() and conferences() against the real captures.

Every expectation is computed by another route than amikit.callcentre: the raw CRLF blocks
read with plain Python (``tests.test_tables.blocks``) and walked event by event, or values
read by hand from the capture files (the comment says which lines). Cases the captures do
not hold (a timeout, a refusal, a transfer) are built from real blocks with one header
changed or one block added, each said where it is done.
"""

from __future__ import annotations

import glob
import re

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import amikit
from amikit import callcentre
from tests.conftest import CAPTURES, capture_bytes
from tests.test_tables import blocks

BUSY = "busy/rawman_waitevent_stream_part1.txt"
ORIGINATE = "05_originate/rawman/waitevent_stream_concat.txt"
ANSWERED = [f"20_behaviour/queue_answered/run{n}.rawman" for n in range(1, 6)]
ABANDON = [f"20_behaviour/queue_abandon/run{n}.rawman" for n in range(1, 6)]
SESSION = "21_queue_conference_actions"
CONFERENCE = [f"20_behaviour/conference/run{n}.rawman" for n in range(1, 6)]


def session_bytes() -> bytes:
    """The 21_queue_conference_actions session: every body, in the order received."""
    return b"".join(capture_bytes(p) for p in sorted(
        glob.glob(str(CAPTURES / SESSION / "*.body.bin"))))


def capture(name: str) -> bytes:
    return session_bytes() if name == SESSION else capture_bytes(name)


def seconds(stamp: str) -> pd.Timestamp:
    return pd.Timestamp(float(stamp), unit="s", tz="UTC")


def expected_stays(data: bytes) -> list[dict]:
    """Each QueueCallerJoin and what followed it, walked block by block with plain Python."""
    stays: list[dict] = []
    open_stay: dict[str, dict] = {}   # caller Uniqueid -> its latest stay
    by_member: dict[str, dict] = {}   # a rung member channel -> the stay that rang it
    for e in blocks(data):
        kind, uid = e.get("event"), e.get("uniqueid")
        stay = open_stay.get(uid) if uid else by_member.get(e.get("destuniqueid", ""))
        if kind == "QueueCallerJoin":
            stay = {"uid": uid, "joined": seconds(e["timestamp"]), "position": int(e["position"]),
                    "rings": [], "outcome": None, "answered": None, "completed": None,
                    "left": None, "member": None, "hold": None, "talk_header": None}
            stays.append(stay)
            open_stay[uid] = stay
        elif stay is None:
            continue
        elif kind == "AgentCalled":
            stay["rings"].append(e["membername"])
            by_member[e["destuniqueid"]] = stay
        elif kind == "AgentConnect":
            stay.update(answered=seconds(e["timestamp"]), member=e["membername"],
                        hold=int(e["holdtime"]), outcome="answered")
        elif kind == "AgentComplete":
            stay.update(completed=seconds(e["timestamp"]), talk_header=int(e["talktime"]))
        elif kind == "QueueCallerAbandon":
            stay.update(outcome=stay["outcome"] or "abandoned", hold=int(e["holdtime"]))
        elif kind == "QueueCallerLeave":
            stay["left"] = seconds(e["timestamp"])
        elif kind == "VarSet" and e.get("variable") == "QUEUESTATUS" and not stay["answered"]:
            stay["outcome"] = e["value"].lower()
    for stay in stays:
        stay["wait"] = (stay["answered"] or stay["left"]) - stay["joined"]
        stay["talk"] = (stay["completed"] - stay["answered"]) if stay["completed"] else None
    return stays


#: Epoch seconds as floats (the frames' route) round to the microsecond or so.
ROUNDING = pd.Timedelta(microseconds=2)


def close(got, expected, within: pd.Timedelta = ROUNDING) -> bool:
    """Equal up to the float rounding of epoch seconds."""
    if expected is None:
        return bool(pd.isna(got))
    return abs(pd.Timestamp(got) - expected) <= within if isinstance(expected, pd.Timestamp) \
        else abs(pd.Timedelta(got) - expected) <= within


@pytest.fixture(scope="module")
def busy() -> pd.DataFrame:
    return amikit.read_events(amikit.sample_recording("busy"))


@pytest.mark.parametrize("name", [BUSY, ORIGINATE, SESSION, *ANSWERED, *ABANDON])
def test_every_queue_call_matches_an_independent_reading(name):
    data = capture(name)
    expected = expected_stays(data)
    got = amikit.read_events(data).ami.queue_calls()
    assert len(got) == len(expected) == len(re.findall(rb"Event: QueueCallerJoin\r\n", data))
    for (_, row), want in zip(got.iterrows(), expected, strict=True):
        assert row["Uniqueid"] == want["uid"] and row["Queue"] == "support"
        assert row["outcome"] == want["outcome"], want["uid"]
        assert row["position"] == want["position"]
        assert close(row["joined"], want["joined"]) and close(row["left"], want["left"])
        assert close(row["wait"], want["wait"]) and close(row["answered"], want["answered"])
        assert close(row["talk"], want["talk"]) and close(row["completed"], want["completed"])
        assert row["rings"] == want["rings"]
        assert (row["answered_by"] if want["member"] else None) == want["member"]
        # Asterisk's own whole seconds (time(NULL) differences) agree to the second
        if want["hold"] is not None:
            assert abs(row["wait"].total_seconds() - want["hold"]) < 1
        if want["talk_header"] is not None:
            assert abs(row["talk"].total_seconds() - want["talk_header"]) < 1


def test_the_busy_capture_by_hand(busy):
    calls = busy.ami.queue_calls()
    # the three QueueCallerJoin blocks of the busy capture (Uniqueid 1795675903.267,
    # 1795675942.313, 1795675973.351), each answered by Agent210 after ringing both agents;
    # their AgentComplete blocks say TalkTime 4, 3 and 4 (Reason agent, caller, caller)
    assert calls["Uniqueid"].tolist() == ["1795675903.267", "1795675942.313", "1795675973.351"]
    assert calls["outcome"].tolist() == ["answered"] * 3
    assert calls["answered_by"].tolist() == ["Agent210"] * 3
    assert calls["Interface"].tolist() == ["Local/210@sets/n"] * 3
    assert calls["rings"].tolist() == [["Agent210", "Agent211"]] * 3
    assert [round(t.total_seconds()) for t in calls["talk"]] == [4, 4, 4]  # 3.50 s each
    # QueueCallerJoin 1795675903.846362 -> AgentConnect 1795675903.847679: 1.3 ms
    assert abs(calls["wait"].iloc[0] - pd.Timedelta(microseconds=1317)) < pd.Timedelta("5us")
    assert (calls["wait"] < pd.Timedelta("10ms")).all()


def test_an_abandoned_call_by_hand():
    calls = amikit.read_events(capture_bytes(ABANDON[0])).ami.queue_calls()
    # queue_abandon/run1.rawman: QueueCallerJoin at 1795998200.837144, QueueCallerAbandon
    # (HoldTime 3) then QueueCallerLeave at 1795998203.842862; no QUEUESTATUS (hung up)
    row = calls.iloc[0]
    assert row["outcome"] == "abandoned" and row["rings"] == []
    assert close(row["wait"], pd.Timedelta(seconds=1795998203.842862 - 1795998200.837144))
    assert pd.isna(row["answered_by"]) and pd.isna(row["talk"])


def test_an_answered_call_without_agentcomplete():
    # queue_answered/run4.rawman has no AgentComplete (the README: it comes or not)
    data = capture_bytes(ANSWERED[3])
    assert b"Event: AgentComplete" not in data
    df = amikit.read_events(data)
    row = df.ami.queue_calls().iloc[0]
    assert row["outcome"] == "answered" and pd.isna(row["talk"]) and pd.isna(row["completed"])
    # busy until the member channel's own Hangup (its DestUniqueid), a fact of the frame
    hangup = [e for e in blocks(data) if e.get("event") == "Hangup"
              and e.get("uniqueid") == row["DestUniqueid"]]
    span = callcentre.busy_spans(df).iloc[0]
    assert close(span["end"], seconds(hangup[0]["timestamp"]))


def test_agentcomplete_without_the_callers_fields():
    data = capture_bytes(ANSWERED[0])
    block = re.search(rb"Event: AgentComplete\r\n.*?\r\n\r\n", data, re.S).group(0)
    # drop the caller's snapshot (Channel .. Linkedid), keep the member's Dest* fields
    bare = re.sub(rb"Channel: .*?Linkedid: [^\r]*\r\n", b"", block, count=1, flags=re.S)
    assert b"\r\nUniqueid:" not in bare and b"DestUniqueid:" in bare
    row = amikit.read_events(data.replace(block, bare)).ami.queue_calls().iloc[0]
    want = expected_stays(data)[0]
    assert row["outcome"] == "answered" and close(row["talk"], want["talk"])
    # and the real opposite: 05_originate's AgentComplete lacks the member's Dest* fields
    assert not re.search(rb"Event: AgentComplete\r\n(?:(?!\r\n\r\n).)*DestUniqueid",
                         capture_bytes(ORIGINATE), re.S)


def test_a_caller_entering_twice():
    # the abandon run and the answered run, the second caller's ids made the first's
    first, second = capture_bytes(ABANDON[0]), capture_bytes(ANSWERED[0])
    uid = re.search(rb"QueueCallerJoin\r\n.*?Uniqueid: ([^\r]+)", first, re.S).group(1)
    other = re.search(rb"QueueCallerJoin\r\n.*?Uniqueid: ([^\r]+)", second, re.S).group(1)
    calls = amikit.read_events(first + second.replace(other, uid)).ami.queue_calls()
    assert calls["Uniqueid"].tolist() == [uid.decode()] * 2
    assert calls["outcome"].tolist() == ["abandoned", "answered"]
    assert calls["rings"].map(len).tolist() == [0, 2]


def varset(after: bytes, value: str) -> bytes:
    """A VarSet block for QUEUESTATUS on the channel of ``after`` (a real block's snapshot)."""
    head = re.match(rb"Event: \w+\r\nPrivilege: [^\r]+\r\nTimestamp: ([\d.]+)\r\n(.*?)"
                    rb"Uniqueid: ([^\r]+)\r\nLinkedid: ([^\r]+)\r\n", after, re.S)
    stamp = b"%.6f" % (float(head.group(1)) + 0.0001)
    return (b"Event: VarSet\r\nPrivilege: dialplan,all\r\nTimestamp: " + stamp + b"\r\n"
            + head.group(2) + b"Uniqueid: " + head.group(3) + b"\r\nLinkedid: " + head.group(4)
            + b"\r\nVariable: QUEUESTATUS\r\nValue: " + value.encode() + b"\r\n\r\n")


@pytest.mark.parametrize("status", ["TIMEOUT", "LEAVEEMPTY", "WITHDRAW"])
def test_exits_told_apart_by_queuestatus(status):
    # app_queue.c calls record_abandoned for every unanswered exit, then sets QUEUESTATUS:
    # the abandon run with that VarSet added after its QueueCallerLeave
    data = capture_bytes(ABANDON[0])
    leave = re.search(rb"Event: QueueCallerLeave\r\n.*?\r\n\r\n", data, re.S).group(0)
    calls = amikit.read_events(data.replace(leave, leave + varset(leave, status))).ami.queue_calls()
    assert calls["outcome"].tolist() == [status.lower()]
    stats = callcentre.queue_stats(amikit.read_events(data.replace(leave, leave + varset(
        leave, status))))
    assert stats[["offered", "answered", "abandoned"]].values.tolist() == [[1, 0, 0]]


@pytest.mark.parametrize("status", ["FULL", "JOINEMPTY"])
def test_a_caller_refused_at_the_door(status):
    # the abandon run cut before its QueueCallerJoin, a QUEUESTATUS VarSet in its place:
    # the caller's Newexten of Queue(support) is real, the VarSet is built from its snapshot
    data = capture_bytes(ABANDON[0])
    join = data.index(b"Event: QueueCallerJoin")
    start = data.rindex(b"Event: Newexten", 0, join)
    queue_app = data[start:data.index(b"\r\n\r\n", start) + 4]
    assert b"Application: Queue\r\nAppData: support" in queue_app
    calls = amikit.read_events(data[:join] + varset(queue_app, status)).ami.queue_calls()
    assert calls["outcome"].tolist() == [status.lower()]
    assert calls["Queue"].tolist() == ["support"] and calls["joined"].isna().all()


def test_a_transfer_after_the_answer():
    data = capture_bytes(ANSWERED[0])
    want = expected_stays(data)[0]
    complete = re.search(rb"Event: AgentComplete\r\n.*?\r\n\r\n", data, re.S).group(0)
    member = re.search(rb"DestUniqueid: ([^\r]+)", complete).group(1)
    moved = (b"Event: BlindTransfer\r\nPrivilege: call,all\r\nTimestamp: %.6f\r\n"
             b"Result: Success\r\nTransfererUniqueid: " % (want["answered"].timestamp() + 1)
             + member + b"\r\nExtension: 600\r\nContext: sets\r\n\r\n")
    calls = amikit.read_events(data.replace(complete, moved + complete)).ami.queue_calls()
    assert calls["outcome"].tolist() == ["transferred"]
    assert callcentre.queue_stats(amikit.read_events(data.replace(complete, moved + complete))
                                  )["answered"].tolist() == [1]


def test_a_recording_that_starts_mid_call():
    data = capture_bytes(ANSWERED[0])
    # cut just after the AgentConnect: only the AgentComplete (TalkTime: 4) remains
    connect = data.index(b"Event: AgentConnect")
    cut = data[data.index(b"\r\n\r\n", connect) + 4:]
    row = amikit.read_events(cut).ami.queue_calls().iloc[0]
    assert row["outcome"] == "answered" and pd.isna(row["joined"])
    assert row["talk"] == pd.Timedelta(seconds=4)
    # cut just after the QueueCallerJoin: the AgentConnect's HoldTime (0) is the wait
    join = data.index(b"Event: QueueCallerJoin")
    row = amikit.read_events(data[data.index(b"\r\n\r\n", join) + 4:]).ami.queue_calls().iloc[0]
    assert pd.isna(row["joined"]) and row["wait"] == pd.Timedelta(0)
    assert row["rings"] == ["Agent210", "Agent211"]


def test_a_recording_that_ends_while_the_caller_waits():
    data = session_bytes()
    waiting = data[:data.index(b"Event: AgentCalled")]
    row = amikit.read_events(waiting).ami.queue_calls().iloc[0]
    assert pd.isna(row["outcome"]) and pd.isna(row["left"]) and pd.isna(row["wait"])


COLUMNS = {"Queue", "Uniqueid", "Linkedid", "Channel", "joined", "position", "left", "outcome",
           "wait", "answered_by", "rings", "talk"}


@pytest.mark.parametrize("frame", [
    pytest.param(lambda: amikit.events_frame([]), id="empty"),
    pytest.param(lambda: amikit.read_events(capture_bytes(
        "20_behaviour/orig_exten/run1.rawman")), id="no queue events")])
def test_tables_keep_their_columns_and_types(frame):
    df = frame()
    calls = df.ami.queue_calls()
    assert calls.empty and set(calls.columns) >= COLUMNS
    assert str(calls["joined"].dtype) == "datetime64[us, UTC]"
    assert str(calls["wait"].dtype) == "timedelta64[us]" and str(calls["position"].dtype) == "Int64"
    agents = df.ami.agents()
    assert agents.empty and {"Queue", "MemberName", "Interface", "offered", "answered",
                             "not_answered", "talk", "handle_avg", "paused",
                             "occupancy"} <= set(agents.columns)
    assert str(agents["talk"].dtype) == "timedelta64[us]"
    stats = df.ami.queue_stats()
    assert stats.empty and {"Queue", "offered", "answered", "abandoned", "abandon_rate", "asa",
                            "longest_wait", "service_level"} <= set(stats.columns)
    assert "interval" in df.ami.queue_stats(freq="1min")
    conferences = df.ami.conferences()
    assert conferences.empty and {"Conference", "start", "end", "participants",
                                  "most_at_once"} <= set(conferences.columns)


def test_agents_counted_from_the_blocks(busy):
    events = blocks(capture_bytes(BUSY))
    table = busy.ami.agents().set_index("MemberName")
    for member in ("Agent210", "Agent211"):
        def count(kind: str, member: str = member) -> int:
            return sum(1 for e in events if e.get("event") == kind and e.get("membername") == member)
        assert table.loc[member, "offered"] == count("AgentCalled")
        assert table.loc[member, "answered"] == count("AgentConnect")
        assert table.loc[member, "not_answered"] == count("AgentRingNoAnswer") + count("AgentDump")
    talks = [seconds(c["timestamp"]) - seconds(a["timestamp"]) for a, c in zip(
        [e for e in events if e.get("event") == "AgentConnect"],
        [e for e in events if e.get("event") == "AgentComplete"], strict=True)]
    assert close(table.loc["Agent210", "talk"], sum(talks, pd.Timedelta(0)))
    assert close(table.loc["Agent210", "handle_avg"], sum(talks, pd.Timedelta(0)) / 3)  # Wrapuptime 0
    assert table.loc["Agent211", "talk"] == pd.Timedelta(0) and table["paused"].eq(pd.Timedelta(0)).all()
    stamps = [seconds(e["timestamp"]) for e in events if "timestamp" in e]
    span = max(stamps) - min(stamps)
    assert abs(table.loc["Agent210", "occupancy"] - sum(talks, pd.Timedelta(0)) / span) < 1e-6


def test_paused_time_by_hand():
    df = amikit.read_events(session_bytes())
    table = df.ami.agents().set_index("MemberName")
    # 006: QueueMemberPause Agent210 Paused 1 at 1796000200.703221, Agent211 at .704302;
    # 015: Agent210 Paused 0 at 1796000203.215431; 030: Agent211 Paused 0 at 209.724301
    assert close(table.loc["Agent210", "paused"], pd.Timedelta(seconds=203.215431 - 200.703221))
    assert close(table.loc["Agent211", "paused"], pd.Timedelta(seconds=209.724301 - 200.704302))
    # the caller waited from QueueCallerJoin 201.206625 to AgentConnect 204.209502 (HoldTime 3)
    row = df.ami.queue_calls().iloc[0]
    assert close(row["wait"], pd.Timedelta(seconds=204.209502 - 201.206625))
    assert row["rings"] == ["Agent210"] and table.loc["Agent210", "answered"] == 1


def test_queue_stats_of_ten_runs():
    runs = [capture_bytes(name) for name in ANSWERED + ABANDON]
    df = pd.concat([amikit.read_events(data) for data in runs], ignore_index=True)
    stays = [stay for data in runs for stay in expected_stays(data)]
    answered = [s["wait"] for s in stays if s["outcome"] == "answered"]
    stats = df.ami.queue_stats().iloc[0]
    assert (stats["offered"], stats["answered"], stats["abandoned"]) == (10, 5, 5)
    assert stats["abandon_rate"] == 0.5
    assert close(stats["asa"], sum(answered, pd.Timedelta(0)) / 5)
    assert close(stats["longest_wait"], max(s["wait"] for s in stays))  # an abandon's ~3 s
    assert stats["service_level"] == 0.5  # every answer within 20 s
    assert df.ami.queue_stats(service_level="1ms").iloc[0]["service_level"] == sum(
        w <= pd.Timedelta("1ms") for w in answered) / 10
    # each run is two minutes apart: one interval per run, counts summing to the whole
    per_minute = df.ami.queue_stats(freq="1min")
    assert per_minute["offered"].sum() == 10 and per_minute["interval"].is_monotonic_increasing


def test_conferences_counted_from_the_blocks(busy):
    events = blocks(capture_bytes(BUSY))
    starts = [e["bridgeuniqueid"] for e in events if e.get("event") == "ConfbridgeStart"]
    table = busy.ami.conferences()
    assert table["BridgeUniqueid"].tolist() == starts
    joins = {b: sum(1 for e in events if e.get("event") == "ConfbridgeJoin"
                    and e["bridgeuniqueid"] == b) for b in starts}
    assert table["participants"].tolist() == [joins[b] for b in starts]
    # c2959ded-…: joins at 1795676084.798365 and 1795676086.906126, first leave at 089.296647
    assert table.set_index("BridgeUniqueid").loc[
        "c2959ded-029d-4bb9-9c23-f8d8451f49e1", "most_at_once"] == 2
    ends = {e["bridgeuniqueid"]: seconds(e["timestamp"]) for e in events
            if e.get("event") == "ConfbridgeEnd"}
    assert all(close(end, ends[b]) for b, end in zip(table["BridgeUniqueid"], table["end"],
                                                      strict=True))


@pytest.mark.parametrize("name", [SESSION, *CONFERENCE])
def test_two_party_conferences(name):
    # each: two Local/800@sets join one ConfBridge, the second 1 s after the first
    table = amikit.read_events(capture(name)).ami.conferences()
    assert table[["Conference", "participants", "most_at_once"]].values.tolist() == [["1", 2, 2]]
    assert (table["duration"] > pd.Timedelta(seconds=4)).all()


def test_a_conference_under_way_when_the_recording_starts():
    data = capture_bytes(CONFERENCE[0])
    second = data.index(b"Event: ConfbridgeJoin", data.index(b"Event: ConfbridgeJoin") + 1)
    row = amikit.read_events(data[second:]).ami.conferences().iloc[0]
    # the first participant leaves without its join in the frame: it was there already
    assert pd.isna(row["start"]) and row["participants"] == 1 and row["most_at_once"] == 2


def test_frames_of_several_servers(busy):
    both = pd.concat([busy.assign(server="a"), busy.assign(server="b")], ignore_index=True)
    calls = both.ami.queue_calls()
    assert sorted(calls["server"]) == ["a"] * 3 + ["b"] * 3
    assert len(both.ami.agents()) == 4 and len(both.ami.conferences()) == 10
    assert both.ami.queue_stats()["offered"].tolist() == [3, 3]


def test_a_transfer_long_after_the_call_is_not_the_queues():
    data = capture_bytes(ANSWERED[0])
    want = expected_stays(data)[0]
    caller = want["uid"].encode()
    later = (b"Event: BlindTransfer\r\nPrivilege: call,all\r\nTimestamp: %.6f\r\n"
             b"Result: Success\r\nTransfereeUniqueid: " % (want["completed"].timestamp() + 5)
             + caller + b"\r\n\r\n")
    calls = amikit.read_events(data + later).ami.queue_calls()
    assert calls["outcome"].tolist() == ["answered"]


def test_plot_queue_is_public_and_lazy():
    assert "plot_queue" in amikit.__all__ and "plot_queue" in dir(amikit)
    assert amikit.plot_queue.__module__ == "amikit.queueplot"


QUEUE_KINDS = st.sampled_from(["QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon",
                               "AgentCalled", "AgentConnect", "AgentComplete", "VarSet",
                               "QueueMemberPause", "QueueMemberStatus", "ConfbridgeStart",
                               "ConfbridgeJoin", "ConfbridgeLeave", "ConfbridgeEnd", "Newexten"])
QUEUE_FIELDS = st.fixed_dictionaries({
    "Uniqueid": st.sampled_from(["c.1", "c.2", ""]), "DestUniqueid": st.sampled_from(["m.1", "m.2"]),
    "Queue": st.sampled_from(["support", "sales"]), "Position": st.sampled_from(["1", "2", "x"]),
    "Interface": st.sampled_from(["Local/210@sets/n", "Local/211@sets/n"]),
    "MemberName": st.sampled_from(["Agent210", "Agent211"]), "Paused": st.sampled_from(["0", "1"]),
    "HoldTime": st.sampled_from(["0", "3", ""]), "TalkTime": st.sampled_from(["4", "x"]),
    "Variable": st.sampled_from(["QUEUESTATUS", "OTHER"]),
    "Value": st.sampled_from(["TIMEOUT", "FULL", "JOINEMPTY", "CONTINUE"]),
    "Application": st.just("Queue"), "AppData": st.sampled_from(["support,t", ""]),
    "Conference": st.sampled_from(["1", "2"]), "BridgeUniqueid": st.sampled_from(["b1", "b2"]),
    "Timestamp": st.floats(1e9, 2e9).map(lambda f: f"{f:.6f}")})


@settings(max_examples=20, deadline=None)
@given(st.lists(st.tuples(QUEUE_KINDS, QUEUE_FIELDS, st.sets(st.sampled_from(
    ["Uniqueid", "DestUniqueid", "Queue", "Timestamp", "BridgeUniqueid", "Interface"]))),
    max_size=30))
def test_any_queue_events_in_any_order_give_tables(events):
    df = amikit.events_frame([amikit.Message([("Event", kind), *(
        (k, v) for k, v in fields.items() if k not in drop)]) for kind, fields, drop in events])
    calls = df.ami.queue_calls()
    joins = sum(1 for kind, fields, drop in events
                if kind == "QueueCallerJoin" and "Uniqueid" not in drop and fields["Uniqueid"])
    assert len(calls) >= joins and set(calls.columns) >= COLUMNS
    assert set(calls["outcome"].dropna()) <= {
        "answered", "transferred", "abandoned", "timeout", "leaveempty", "leaveunavail",
        "withdraw", "exitwithkey", "full", "joinempty", "joinunavail"}
    assert calls["Uniqueid"].notna().all()  # every stay is some caller's
    df.ami.agents()
    df.ami.queue_stats(freq="1h")
    conferences = df.ami.conferences()
    assert (conferences["most_at_once"] >= 0).all()


@pytest.mark.parametrize("name", [BUSY, *ANSWERED])
def test_who_ended_the_talk_is_the_agentcompletes_reason(name):
    data = capture(name)
    # counted from the bytes: each AgentComplete block's Reason, in order
    reasons = [re.search(rb"\r\nReason: (\w+)", block).group(1).decode()
               for block in data.split(b"\r\n\r\n") if block.startswith(b"Event: AgentComplete")]
    calls = amikit.read_events(data).ami.queue_calls()
    assert calls["ended_by"].dropna().tolist() == reasons


def test_tables_of_a_recording_without_timestamps():
    # Asterisk's default is timestampevents = no: the same run without its Timestamp lines
    data = capture(ANSWERED[0])
    bare = amikit.read_events(re.sub(rb"Timestamp: [0-9.]+\r\n", b"", data))
    assert "Timestamp" not in bare
    with_times = amikit.read_events(data).ami.agents()
    agents = bare.ami.agents()
    assert agents[["MemberName", "offered", "answered"]].equals(
        with_times[["MemberName", "offered", "answered"]])
    assert agents["occupancy"].isna().all()  # no span to divide by
    assert bare.ami.queue_calls()["outcome"].tolist() == ["answered"]
