"""channels(), calls(), bridges() and call(): counted independently, checked by hand."""

from __future__ import annotations

import re
import time

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amikit import AMIClient, EventLog, Message, Simulator, events_frame, read_events
from tests.conftest import capture_bytes

ORIGINATE = "05_originate/rawman/waitevent_stream_concat.txt"


def blocks(data: bytes) -> list[dict[str, str]]:
    """A deliberately simple reading of the bytes, independent of amikit."""
    out = []
    for block in data.decode().split("\r\n\r\n"):
        fields = {}
        for line in block.split("\r\n"):
            name, _, value = line.partition(": ")
            fields.setdefault(name.lower(), value)
        out.append(fields)
    return out


@pytest.mark.parametrize("name", [ORIGINATE, "busy/rawman_waitevent_stream_part1.txt"])
def test_counts_match_an_independent_count(name):
    data = capture_bytes(name)
    events = blocks(data)
    new = {e["uniqueid"] for e in events if e.get("event") == "Newchannel"}
    seen = {e["uniqueid"] for e in events if "privilege" in e and e.get("uniqueid")
            and e["uniqueid"] not in ("<unknown>", "none")}
    linked = {e["linkedid"] for e in events if "privilege" in e and e.get("linkedid")}
    hangups = {e["uniqueid"] for e in events if e.get("event") == "Hangup"}
    df = read_events(data)
    chans = df.ami.channels()
    assert set(chans["Uniqueid"].astype(str)) == seen and new <= seen
    assert chans["created"].notna().sum() == len(new)
    assert chans["hungup"].notna().sum() == len(hangups)
    assert set(df.ami.calls()["Linkedid"].astype(str)) <= linked
    assert len(df.ami.calls()) == len(set(chans["Linkedid"].dropna().astype(str)))


def test_hand_checked_originates(captures):
    df = read_events((captures / ORIGINATE).read_bytes())
    calls = df.ami.calls().set_index("Linkedid")
    # the labelled Originates: Local/<exten>@sets (one to a context that does not exist)
    by_dest = {row["originator"].split("@")[0][len("Local/"):]: row
               for _, row in calls.iterrows() if "@sets-" in row["originator"]}
    assert by_dest["101"]["disposition"] == "ANSWERED"
    assert by_dest["486"]["disposition"] == "BUSY"
    assert by_dest["503"]["disposition"] == "CONGESTION"
    assert by_dest["333"]["disposition"] == "NO ANSWER"
    assert by_dest["101"]["legs"] == 2
    assert by_dest["400"]["disposition"] == "ANSWERED"  # the queue call
    assert abs(by_dest["333"]["duration"].total_seconds() - 3.0) < 0.1  # Timeout=3000
    assert abs(by_dest["800"]["duration"].total_seconds() - 6.0) < 0.1  # TIMEOUT(absolute)=8 - 2
    chans = df.ami.channels().set_index("Channel")
    busy = chans.loc[chans.index.str.startswith("Local/486@sets") & chans.index.str.endswith(";2")]
    assert busy["Cause"].tolist() == [17] and busy["Cause-txt"].tolist() == ["User busy"]
    assert busy["answered"].isna().all()
    answered = chans.loc[chans.index.str.startswith("Local/101@sets")]
    assert (answered["talk_time"] > pd.Timedelta(seconds=4)).all()
    assert (answered["ring_time"] >= pd.Timedelta(0)).all()


def test_bridges_and_one_call(captures):
    df = read_events((captures / ORIGINATE).read_bytes())
    bridges = df.ami.bridges()
    simple = bridges[bridges["BridgeTechnology"] == "simple_bridge"]
    assert (simple["members"].map(len) == 2).all()
    assert (simple["destroyed"] > simple["created"]).all()
    chans = df.ami.channels()
    pair = chans[chans["bridged"]].iloc[0]
    assert len(pair["bridged_with"]) == 1
    linkedid = str(pair["Linkedid"])
    one = df.ami.call(linkedid)
    assert (one["Linkedid"].astype(str) == linkedid).any()
    assert not one.isna().all().any(), "only columns that carry information"
    assert {"BridgeEnter", "Hangup", "Newchannel"} <= set(one["Event"].astype(str))


def test_a_recording_cut_mid_call(captures):
    data = (captures / ORIGINATE).read_bytes()
    cut = data.index(b"Event: OriginateResponse")
    start = data.rindex(b"\r\n\r\n", 0, cut) + 4
    df = read_events(data[start:start + 40_000])
    chans = df.ami.channels()
    assert chans["created"].isna().any(), "channels seen only mid-call"
    assert chans["hungup"].isna().any(), "channels whose Hangup is not in the recording"
    calls = df.ami.calls()
    assert calls["end"].isna().any() or calls["duration"].isna().any()


@pytest.fixture(scope="module")
def recorded_flows():
    """Redirect and Hangup-with-Cause flows recorded from the simulator."""
    log = EventLog()
    with Simulator(port=0, speed=10, seed=5) as sim, \
            AMIClient(sim.url, "hello", "world") as ami, AMIClient(sim.url, "hello", "world") as rec:
        rec.wait_event(0)
        ami.originate(Channel="Local/600@sets", Context="sets", Exten="600", Priority=1,
                      Async=True, ActionID="redir")
        ami.originate(Channel="Local/600@sets", Context="sets", Exten="600", Priority=1,
                      Async=True, ActionID="cause")
        deadline = time.monotonic() + 10
        targets: dict[str, str] = {}
        while len(targets) < 2 and time.monotonic() < deadline:
            for event in rec.wait_event(1):
                log.append(event)
                if event.name == "OriginateResponse":
                    targets[event.action_id] = event["Channel"]
        assert set(targets) == {"redir", "cause"}, f"OriginateResponses within 10 s: {targets}"
        ami.redirect(Channel=targets["redir"], Context="sets", Exten="700", Priority=1)
        ami.hangup(targets["cause"][:-1] + "2", cause=21)
        end = time.monotonic() + 3
        while time.monotonic() < end:
            log.extend(rec.wait_event(1))
    return log.frame(), targets


def test_redirect_and_hangup_cause_from_the_simulator(recorded_flows):
    df, targets = recorded_flows
    calls = df.ami.calls()
    chans = df.ami.channels().set_index("Channel")
    redirected = calls[calls["originator"] == targets["redir"]]
    assert redirected["redirected"].tolist() == [True]
    rejected = calls[calls["originator"] == targets["cause"]]
    assert rejected["redirected"].tolist() == [False]
    for name in (targets["cause"], targets["cause"][:-1] + "2"):
        assert chans.loc[name, "Cause"] == 21 and chans.loc[name, "Cause-txt"] == "Call Rejected"


def test_other_clients_events_interleaved():
    df = read_events(capture_bytes("busy/rawman_waitevent_stream_part1.txt"))
    calls = df.ami.calls()
    assert len(calls) > 50
    assert set(calls["disposition"].dropna()) <= {"ANSWERED", "BUSY", "NO ANSWER", "CONGESTION",
                                                   "FAILED"}
    assert {"ANSWERED", "BUSY"} <= set(calls["disposition"])


FIELDS = ["Uniqueid", "Linkedid", "Channel", "ChannelState", "Cause", "Timestamp", "BridgeUniqueid",
          "DialStatus", "Priority", "Exten"]
snapshot = st.fixed_dictionaries({
    "Uniqueid": st.sampled_from(["1.1", "1.2", "1.3", "<unknown>", ""]),
    "Linkedid": st.sampled_from(["1.1", "1.3"]),
    "Channel": st.sampled_from(["PJSIP/A-1", "PJSIP/B-2", "Local/1@x-1;1"]),
    "ChannelState": st.sampled_from(["0", "4", "5", "6", "x"]),
    "Cause": st.sampled_from(["16", "17", "21", ""]),
    "Timestamp": st.floats(1e9, 2e9).map(lambda f: f"{f:.6f}"),
    "BridgeUniqueid": st.sampled_from(["b1", "b2"]),
    "DialStatus": st.sampled_from(["ANSWER", "BUSY", "NOANSWER"]),
    "Priority": st.sampled_from(["1", "2"]), "Exten": st.sampled_from(["100", "h", "200"]),
})
kinds = st.sampled_from(["Newchannel", "Newstate", "Newexten", "Hangup", "BridgeEnter",
                         "BridgeLeave", "BridgeCreate", "DialBegin", "DialEnd", "Cdr", "CEL"])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(kinds, snapshot, st.sets(st.sampled_from(FIELDS))),
                max_size=25))
def test_any_events_in_any_order_give_tables(events):
    sent = [(kind, {k: v for k, v in fields.items() if k not in drop}) for kind, fields, drop in events]
    df = events_frame([Message([("Event", kind), *fields.items()]) for kind, fields in sent])
    # The expected tables, read from the events with plain Python (tables.py's definitions):
    # a channel is a real Uniqueid; it is created by its first Newchannel, hung up by its last
    # Hangup; its call is the Newchannel's Linkedid, else that of its first event naming a Channel.
    seen: list[str] = []
    first_new: dict[str, dict[str, str]] = {}
    first_named: dict[str, dict[str, str]] = {}
    last_hangup: dict[str, dict[str, str]] = {}
    for kind, fields in sent:
        uid = fields.get("Uniqueid")
        if uid in (None, "", "<unknown>"):
            continue
        seen += [uid] if uid not in seen else []
        if kind == "Newchannel":
            first_new.setdefault(uid, fields)
        if kind == "Hangup":
            last_hangup[uid] = fields
        if "Channel" in fields:
            first_named.setdefault(uid, fields)

    def moment(fields: dict[str, str] | None) -> pd.Timestamp | None:
        stamp = (fields or {}).get("Timestamp")
        return None if stamp is None else pd.Timestamp(float(stamp) * 1e6, unit="us", tz="UTC")

    def same_moment(got: object, expected: pd.Timestamp | None) -> bool:
        if expected is None:
            return bool(pd.isna(got))
        return abs(pd.Timestamp(got) - expected) <= pd.Timedelta(microseconds=1)  # float rounding

    chans = df.ami.channels()
    assert sorted(chans["Uniqueid"].astype(str)) == sorted(seen)
    by_uid = chans.set_index(chans["Uniqueid"].astype(str))
    linkedids = set()
    for uid in seen:
        assert same_moment(by_uid.loc[uid, "created"], moment(first_new.get(uid))), uid
        assert same_moment(by_uid.loc[uid, "hungup"], moment(last_hangup.get(uid))), uid
        linked = first_new.get(uid, {}).get("Linkedid") or first_named.get(uid, {}).get("Linkedid")
        linkedids |= {linked} if linked else set()
    assert sorted(df.ami.calls()["Linkedid"].astype(str)) == sorted(linkedids)
    bridge_ids = {fields["BridgeUniqueid"] for _, fields in sent if "BridgeUniqueid" in fields}
    assert sorted(df.ami.bridges()["BridgeUniqueid"].astype(str)) == sorted(bridge_ids)
    for linkedid in sorted(linkedids)[:2]:
        assert not df.ami.call(linkedid).empty


def test_tables_keep_their_columns_when_empty():
    df = events_frame([])
    assert {"Uniqueid", "created", "answered", "hungup", "duration", "Cause", "Cause-txt"} <= set(
        df.ami.channels().columns)
    assert {"Linkedid", "legs", "start", "end", "duration", "disposition"} <= set(
        df.ami.calls().columns)
    assert re.match("BridgeUniqueid", df.ami.bridges().columns[0])


def test_redirect_shows_on_the_ladder(recorded_flows):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    df, targets = recorded_flows
    linkedid = df.ami.calls().set_index("originator").loc[targets["redir"], "Linkedid"]
    ax = df.ami.plot_ladder(linkedid)
    assert any(t.get_text().startswith("Redirect to 700@sets") for t in ax.texts)
    plt.close("all")


def test_frames_of_several_servers(captures):
    data = (captures / ORIGINATE).read_bytes()
    both = pd.concat([read_events(data, server="a"), read_events(data, server="b")],
                     ignore_index=True)
    chans = both.ami.channels()
    assert "server" in chans and len(chans) == 2 * len(read_events(data).ami.channels())
    assert len(both.ami.calls()) == 2 * len(read_events(data).ami.calls())
