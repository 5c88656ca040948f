"""Pictures: rendered under Agg, checked on their artists' data.

Expected values come straight from the events (a Newchannel's time, a Hangup's time and
cause), never from ``amikit.tables``, the code the plots themselves call.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.colors import to_hex

import amikit
from amikit.plots import STATE_COLOURS


@pytest.fixture(scope="module")
def messages():
    return [m for m in amikit.parse_rawman(amikit.sample_recording()) if m.name]


@pytest.fixture(scope="module")
def frame(messages):
    return amikit.events_frame(messages)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def by_gid(ax, gid):
    return [a for a in ax.get_children() if a.get_gid() == gid]


def when(timestamp) -> float:
    """A Timestamp as a matplotlib date number, the x unit of the plots."""
    return float(mdates.date2num(pd.Timestamp(timestamp).tz_convert(None).to_pydatetime()))


def first_times(frame: pd.DataFrame, mask: pd.Series) -> dict[str, float]:
    """Uniqueid → x of its first event under ``mask``."""
    rows = frame[mask].drop_duplicates("Uniqueid")
    return {str(u): when(t) for u, t in zip(rows["Uniqueid"], rows["Timestamp"], strict=True)}


def lanes(ax) -> dict[float, str]:
    """Lane y → the channel name written on it."""
    return {float(y): label.get_text()
            for y, label in zip(ax.get_yticks(), ax.get_yticklabels(), strict=True)}


def bars(collection) -> list[tuple[float, float, float]]:
    """(start, end, lane) of each bar of a PolyCollection."""
    out = []
    for path in collection.get_paths():
        xs, ys = path.vertices[:4, 0], path.vertices[:4, 1]
        out.append((xs.min(), xs.max(), float(np.round(ys.mean(), 6))))
    return out


def channel_name(frame: pd.DataFrame) -> dict[str, str]:
    born = frame[frame["Event"] == "Newchannel"]
    return dict(zip(born["Uniqueid"].astype(str), born["Channel"].astype(str), strict=True))


def test_timeline_draws_each_channel_from_its_own_events(frame, tmp_path):
    ax = amikit.plot_timeline(frame, events=["DialBegin"])
    name_of = channel_name(frame)
    lane_names = lanes(ax)
    assert sorted(lane_names.values()) == sorted(name_of.values())  # one lane per Newchannel
    uid_on = {y: uid for y, text in lane_names.items()
              for uid, chan in name_of.items() if chan == text}
    born = first_times(frame, frame["Event"] == "Newchannel")
    hung = first_times(frame, frame["Event"] == "Hangup")
    up_now = (frame["ChannelState"] == 6).fillna(False)
    answered = first_times(frame, frame["Event"].isin(["Newstate", "Newchannel"]) & up_now)

    ringing, up = by_gid(ax, "ringing")[0], by_gid(ax, "up")[0]
    for collection, state in ((ringing, "ringing"), (up, "up")):
        assert isinstance(collection, PolyCollection)
        assert to_hex(collection.get_facecolor()[0]) == STATE_COLOURS[state].lower()
    # ringing: Newchannel → answer (or → Hangup when never answered), one per channel
    rings = {uid_on[y]: (start, end) for start, end, y in bars(ringing)}
    assert set(rings) == set(born)
    for uid, (start, end) in rings.items():
        assert start == pytest.approx(born[uid], abs=1e-10)
        assert end == pytest.approx(answered.get(uid, hung[uid]), abs=1e-10)
    # up: answer → Hangup, only for the channels that answered
    ups = {uid_on[y]: (start, end) for start, end, y in bars(up)}
    assert set(ups) == set(answered)
    for uid, (start, end) in ups.items():
        assert (start, end) == pytest.approx((answered[uid], hung[uid]), abs=1e-10)

    bridged = by_gid(ax, "bridged")[0]
    assert to_hex(bridged.get_facecolor()[0]) == STATE_COLOURS["bridged"].lower()
    enters = frame[frame["Event"] == "BridgeEnter"]
    assert sorted((uid_on[y], round(s, 9)) for s, _, y in bars(bridged)) == sorted(
        (str(u), round(when(t), 9)) for u, t in zip(enters["Uniqueid"], enters["Timestamp"],
                                                    strict=True))
    assert isinstance(by_gid(ax, "bridge-links")[0], LineCollection)

    hold = by_gid(ax, "hold")[0]  # the queue call's caller heard music on hold
    moh = frame[frame["Event"] == "MusicOnHoldStart"]
    assert [round(s, 9) for s, _, _ in bars(hold)] == [round(when(t), 9) for t in moh["Timestamp"]]
    assert to_hex(hold.get_facecolor()[0]) == STATE_COLOURS["hold"].lower()

    marks = by_gid(ax, "hangup")[0].get_offsets()
    assert sorted((uid_on[y], round(x, 9)) for x, y in marks) == sorted(
        (uid, round(x, 9)) for uid, x in hung.items())
    dials = frame[frame["Event"] == "DialBegin"]
    ticks = by_gid(ax, "events")[0].get_offsets()
    assert sorted(round(x, 9) for x, _ in ticks) == sorted(round(when(t), 9)
                                                           for t in dials["Timestamp"])
    hangups = frame[frame["Event"] == "Hangup"]
    causes = [t.get_text() for t in ax.texts if t.get_gid() == "cause"]
    assert sorted(causes) == sorted(hangups["Cause-txt"].astype(str))
    calls = frame.loc[frame["Event"] == "Newchannel", "Linkedid"].nunique()
    assert ax.get_title() == f"Channel timeline: {len(born)} channels, {calls} calls"
    ax.figure.savefig(tmp_path / "timeline.png")
    assert (tmp_path / "timeline.png").stat().st_size > 10_000


def test_timeline_of_one_busy_call_without_bridge_columns(messages):
    busy_id = next(m["Linkedid"] for m in messages
                   if m.name == "Hangup" and m.get("Cause-txt") == "User busy")
    one = amikit.events_frame([m for m in messages if m.get("Linkedid") == busy_id])
    assert "BridgeUniqueid" not in one  # what made the plot raise KeyError
    ax = amikit.plot_timeline(one, events=["Hangup"])
    assert ax.get_title() == "Channel timeline: 2 channels, 1 call"
    hung = first_times(one, one["Event"] == "Hangup")
    marks = by_gid(ax, "hangup")[0].get_offsets()
    assert sorted(round(x, 9) for x, _ in marks) == sorted(round(x, 9) for x in hung.values())
    assert "User busy" in {t.get_text() for t in ax.texts}
    assert not by_gid(ax, "bridged")
    # no empty seconds: the axis ends within a small margin of the call's first and last event
    low, high = ax.get_xlim()
    first, last = when(one["Timestamp"].min()), when(one["Timestamp"].max())
    assert low <= first and high >= last
    assert (first - low) * 86400 < 0.1 and (high - last) * 86400 < 0.1


def test_timeline_of_a_longer_call_has_no_empty_seconds(messages):
    long_id = next(m["Linkedid"] for m in messages
                   if m.name == "Hangup" and m.get("Channel", "").startswith("Local/101@sets"))
    one = amikit.events_frame([m for m in messages if m.get("Linkedid") == long_id])
    ax = amikit.plot_timeline(one)
    low, high = ax.get_xlim()
    first, last = when(one["Timestamp"].min()), when(one["Timestamp"].max())
    span = last - first
    assert span * 86400 > 3
    assert first - low <= 0.05 * span and high - last <= 0.05 * span


def test_timeline_of_only_newchannel_and_hangup():
    text = (b"Event: Newchannel\r\nTimestamp: 1795675451.000000\r\nChannel: Local/1@x-1;1\r\n"
            b"Uniqueid: a\r\n\r\n"
            b"Event: Newchannel\r\nTimestamp: 1795675451.500000\r\nChannel: Local/1@x-1;2\r\n"
            b"Uniqueid: b\r\n\r\n"
            b"Event: Hangup\r\nTimestamp: 1795675453.000000\r\nChannel: Local/1@x-1;2\r\n"
            b"Uniqueid: b\r\n\r\n"
            b"Event: Hangup\r\nTimestamp: 1795675454.000000\r\nChannel: Local/1@x-1;1\r\n"
            b"Uniqueid: a\r\n\r\n")
    frame = amikit.events_frame(amikit.parse_rawman(text))
    assert set(frame.columns) == {"Event", "Timestamp", "Channel", "Uniqueid"}
    ax = amikit.plot_timeline(frame, events=["Hangup"])
    assert ax.get_title() == "Channel timeline: 2 channels, 2 calls"  # no Linkedid: one call each
    start = when(pd.Timestamp(1795675451, unit="s", tz="UTC"))
    second = 1 / 86400
    rings = {lanes(ax)[y]: (round((s - start) / second, 3), round((e - start) / second, 3))
             for s, e, y in bars(by_gid(ax, "ringing")[0])}
    assert rings == {"Local/1@x-1;1": (0, 3), "Local/1@x-1;2": (0.5, 2)}
    assert len(by_gid(ax, "up")[0].get_paths()) == 0
    assert len(by_gid(ax, "hangup")[0].get_offsets()) == 2
    untimed = amikit.events_frame(amikit.parse_rawman(
        b"Event: Newchannel\r\nChannel: Local/1@x-1;1\r\nUniqueid: a\r\n\r\n"
        b"Event: Hangup\r\nChannel: Local/1@x-1;1\r\nUniqueid: a\r\n\r\n"))
    ax = amikit.plot_timeline(untimed)
    assert "no event times" in ax.get_title() and lanes(ax) == {0.0: "Local/1@x-1;1"}


def test_timeline_from_a_channels_table_and_many_channels(frame):
    born = (frame["Event"] == "Newchannel").sum()
    ax = amikit.plot_timeline(frame.ami.channels())
    assert len(ax.get_yticks()) == born
    chans = frame.ami.channels()
    many = chans.loc[np.repeat(chans.index, 40)].reset_index(drop=True)
    many["Uniqueid"] = many["Uniqueid"].astype(str) + "-" + many.index.astype(str)
    ax = amikit.plot_timeline(many)
    assert len(ax.get_yticks()) == 0 and ax.get_ylabel() == f"{born * 40} channels"
    assert len(by_gid(ax, "up")) == 1, "one collection per state, not one artist per segment"
    assert len(by_gid(ax, "ringing")[0].get_paths()) == born * 40


def test_ladder_arrows(frame):
    sizes = frame[frame["Event"] == "Newchannel"].groupby("Linkedid", observed=True).size()
    linkedid = str(sizes[sizes == 4].index[0])
    _, ax = plt.subplots()
    assert amikit.plot_ladder(frame, linkedid, ax=ax) is ax
    arrows = [c for c in ax.get_children() if isinstance(c, matplotlib.text.Annotation)]
    labels = " ".join(t.get_text() for t in ax.texts)
    assert len(arrows) >= 4 and "Dial" in labels and "Enter" in labels and "Hangup" in labels
    assert linkedid in ax.get_title()


def test_event_rate(frame):
    ax = amikit.plot_event_rate(frame, freq="1s", top=3)
    labels = [line.get_label() for line in ax.get_lines()]
    assert len(labels) == 4 and "other" in labels and "CEL" in labels
    total = sum(line.get_ydata().sum() for line in ax.get_lines())
    assert total == len(frame)
    ax = frame.ami.plot_event_rate(by=None)
    assert len(ax.get_lines()) == 1


def test_accessor_shortcuts_and_empty_frames(frame):
    ax = frame.ami.plot_timeline()
    assert isinstance(ax, Axes) and len(ax.get_yticks()) == (frame["Event"] == "Newchannel").sum()
    linkedid = str(frame.loc[frame["Event"] == "Newchannel", "Linkedid"].iloc[0])
    ax = frame.ami.plot_ladder(linkedid)
    assert isinstance(ax, Axes) and linkedid in ax.get_title()
    empty = amikit.events_frame([])
    assert "No" in amikit.plot_timeline(empty).get_title()
    assert "No" in amikit.plot_event_rate(empty).get_title()
    assert "No events" in amikit.plot_ladder(frame, "no-such-call").get_title()


@pytest.mark.parametrize(("state", "start", "stop"), [
    ("queued", "QueueCallerJoin", "QueueCallerLeave"),
    ("conference", "ConfbridgeJoin", "ConfbridgeLeave")])
def test_timeline_waiting_in_a_queue_and_in_a_conference(frame, state, start, stop):
    ax = amikit.plot_timeline(frame)
    uid_on = {y: uid for y, text in lanes(ax).items()
              for uid, chan in channel_name(frame).items() if chan == text}
    opened, closed = (first_times(frame, frame["Event"] == kind) for kind in (start, stop))
    collection = by_gid(ax, state)[0]
    assert to_hex(collection.get_facecolor()[0]) == STATE_COLOURS[state].lower()
    spans = {uid_on[y]: (s, e) for s, e, y in bars(collection)}
    assert set(spans) == set(opened) and opened
    for uid, (s, e) in spans.items():
        assert (s, e) == pytest.approx((opened[uid], closed[uid]), abs=1e-10)
    labels = ax.get_legend_handles_labels()[1]
    assert {"in queue", "in conference"} <= set(labels)
    # each state its own colour, all from the Okabe–Ito palette
    okabe_ito = {"#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7",
                 "#000000"}
    assert len(set(STATE_COLOURS.values())) == len(STATE_COLOURS)
    assert {c.lower() for c in STATE_COLOURS.values()} <= okabe_ito
