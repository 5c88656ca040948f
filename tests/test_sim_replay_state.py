"""The PBX a recording describes at each moment, checked against the tables of the same
recording (``df.ami.channels()``, ``df.ami.bridges()``) and its own VarSet events."""

from __future__ import annotations

import pandas as pd
import pytest

import amikit
from amikit.sim.replay_source import Recording
from amikit.sim.replay_state import ReplayState
from tests.conftest import capture_bytes

RECORDINGS = ["originate", "busy"]


def recording_bytes(name: str) -> bytes:
    return amikit.sample_recording(name)


@pytest.mark.parametrize("name", RECORDINGS)
def test_the_channels_alive_after_each_step_are_the_tables(name):
    data = recording_bytes(name)
    frame = amikit.read_events(data)
    channels = frame.ami.channels()
    born = channels["created"].fillna(channels["first_seen"])
    events = [r for batch in Recording(data).batches() for r in batch.events]
    state = ReplayState()
    stops = set(range(0, len(events), max(1, len(events) // 60))) | {len(events) - 1}
    checked = 0
    for index, recorded in enumerate(events):
        state.apply(recorded.event, recorded.at)
        if index not in stops:
            continue
        # alive after this event: born by now and not hung up by now (events at the same
        # instant as the next one are all taken in before it counts)
        moment = pd.Timestamp(recorded.at, unit="s", tz="UTC")
        if index + 1 < len(events) and events[index + 1].at == recorded.at:
            continue
        alive = channels[(born <= moment) & ~(channels["hungup"] <= moment)]
        assert sorted(state.channels) == sorted(alive["Uniqueid"].astype(str)), index
        checked += 1
    assert checked > 40
    # at the end: the channels the recording never saw hang up (busy stops mid-call)
    assert sorted(state.channels) == sorted(channels[channels["hungup"].isna()]["Uniqueid"].astype(str))
    ran = frame.loc[frame["Event"] == "Newexten", "Uniqueid"].astype(str).nunique()
    assert state.call_counts() == (len(state.channels), ran)


def test_variables_are_the_last_varset_of_each_channel():
    data = recording_bytes("originate")
    frame = amikit.read_events(data)
    sets = frame[frame["Event"] == "VarSet"]
    state = ReplayState()
    seen_live = 0
    for batch in Recording(data).batches():
        for recorded in batch.events:
            state.apply(recorded.event, recorded.at)
            if recorded.event.name != "VarSet":
                continue
            chan = state.channels.get(recorded.event["Uniqueid"])
            if chan is None:
                continue
            seen_live += 1
            upto = sets[(sets["Timestamp"] <= pd.Timestamp(recorded.at, unit="s", tz="UTC"))
                        & (sets["Uniqueid"].astype(str) == chan.uniqueid)]
            last = upto.drop_duplicates("Variable", keep="last")
            expected = dict(zip(last["Variable"].astype(str),
                                last["Value"].astype(object).where(last["Value"].notna(), ""),
                                strict=True))
            assert {k: v for k, v in chan.variables.items() if k in expected} == {
                k: str(v) for k, v in expected.items()}
    assert seen_live > 10


def test_bridges_hold_the_members_entered_and_not_left():
    data = capture_bytes("busy/rawman_waitevent_stream_part1.txt")
    frame = amikit.read_events(data)
    bridges = frame.ami.bridges()
    state = ReplayState()
    events = [r for batch in Recording(data).batches() for r in batch.events]
    for index, recorded in enumerate(events):
        state.apply(recorded.event, recorded.at)
        if index % 500 or (index + 1 < len(events) and events[index + 1].at == recorded.at):
            continue
        moment = pd.Timestamp(recorded.at, unit="s", tz="UTC")
        up = bridges[(bridges["created"] <= moment) & ~(bridges["destroyed"] <= moment)]
        assert sorted(state.bridges) == sorted(up["BridgeUniqueid"].astype(str))
        for bridge_id, bridge in state.bridges.items():
            for uid in bridge.channels:
                assert state.channels[uid].bridge == bridge_id


def test_cel_events_after_a_hangup_bring_nothing_back():
    """CEL's HANGUP and CHAN_END name the channel in their own layout after its Hangup."""
    data = recording_bytes("originate")
    state = ReplayState()
    gone: set[str] = set()
    for batch in Recording(data).batches():
        for recorded in batch.events:
            state.apply(recorded.event, recorded.at)
            if recorded.event.name == "Hangup":
                gone.add(recorded.event["Uniqueid"])
            assert not gone & set(state.channels)
    assert gone
