"""Pictures: rendered under Agg, checked on their artists."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.colors import to_hex

import amikit
from amikit.plots import STATE_COLOURS


@pytest.fixture(scope="module")
def frame():
    return amikit.read_events(amikit.sample_recording())


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def by_gid(ax, gid):
    return [a for a in ax.get_children() if a.get_gid() == gid]


def test_timeline_lanes_and_state_colours(frame, tmp_path):
    chans = frame.ami.channels()
    ax = amikit.plot_timeline(frame, events=["DialBegin"])
    assert ax.get_yticklabels()[0].get_text() == chans.sort_values("created")["Channel"].iloc[0]
    assert len(ax.get_yticks()) == len(chans)
    ringing, up, bridged = (by_gid(ax, g)[0] for g in ("ringing", "up", "bridged"))
    for collection, state in ((ringing, "ringing"), (up, "up"), (bridged, "bridged")):
        assert isinstance(collection, PolyCollection)
        assert to_hex(collection.get_facecolor()[0]) == STATE_COLOURS[state].lower()
    assert len(up.get_paths()) == chans["answered"].notna().sum()
    assert len(bridged.get_paths()) == (frame["Event"] == "BridgeEnter").sum()
    hangups = by_gid(ax, "hangup")[0]
    assert len(hangups.get_offsets()) == chans["hungup"].notna().sum()
    assert isinstance(by_gid(ax, "bridge-links")[0], LineCollection)
    hold = by_gid(ax, "hold")[0]  # the queue call's caller heard music on hold
    assert len(hold.get_paths()) == (frame["Event"] == "MusicOnHoldStart").sum()
    assert to_hex(hold.get_facecolor()[0]) == STATE_COLOURS["hold"].lower()
    assert len(by_gid(ax, "events")[0].get_offsets()) == (frame["Event"] == "DialBegin").sum()
    texts = {t.get_text() for t in ax.texts}
    assert {"User busy", "Circuit/channel congestion"} <= texts
    ax.figure.savefig(tmp_path / "timeline.png")
    assert (tmp_path / "timeline.png").stat().st_size > 10_000


def test_timeline_from_a_channels_table_and_many_channels(frame):
    chans = frame.ami.channels()
    ax = amikit.plot_timeline(chans)
    assert len(ax.get_yticks()) == len(chans)
    many = chans.loc[np.repeat(chans.index, 40)].reset_index(drop=True)
    many["Uniqueid"] = many["Uniqueid"].astype(str) + "-" + many.index.astype(str)
    ax = amikit.plot_timeline(many)
    assert len(ax.get_yticks()) == 0 and str(len(many)) in ax.get_ylabel()
    assert len(by_gid(ax, "up")) == 1, "one collection per state, not one artist per segment"


def test_ladder_arrows(frame):
    calls = frame.ami.calls()
    bridged = calls[calls["legs"] == 4].iloc[0]
    _, ax = plt.subplots()
    assert amikit.plot_ladder(frame, bridged["Linkedid"], ax=ax) is ax
    arrows = [c for c in ax.get_children() if isinstance(c, matplotlib.text.Annotation)]
    labels = " ".join(t.get_text() for t in ax.texts)
    assert len(arrows) >= 4 and "Dial" in labels and "Enter" in labels and "Hangup" in labels
    assert str(bridged["Linkedid"]) in ax.get_title()


def test_event_rate(frame):
    ax = amikit.plot_event_rate(frame, freq="1s", top=3)
    labels = [line.get_label() for line in ax.get_lines()]
    assert len(labels) == 4 and "other" in labels and "CEL" in labels
    total = sum(line.get_ydata().sum() for line in ax.get_lines())
    assert total == len(frame)
    ax = frame.ami.plot_event_rate(by=None)
    assert len(ax.get_lines()) == 1


def test_accessor_shortcuts_and_empty_frames(frame):
    assert frame.ami.plot_timeline() is not None
    assert frame.ami.plot_ladder(frame.ami.calls()["Linkedid"].iloc[0]) is not None
    empty = amikit.events_frame([])
    assert "No" in amikit.plot_timeline(empty).get_title()
    assert "No" in amikit.plot_event_rate(empty).get_title()
    assert "No events" in amikit.plot_ladder(frame, "no-such-call").get_title()
