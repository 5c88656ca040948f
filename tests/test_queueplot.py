"""plot_queue and queue_counts: the lines' data against moments read from the raw blocks."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.colors import to_hex

import amikit
from amikit.plots import STATE_COLOURS
from amikit.queueplot import queue_counts
from tests.test_callcentre import ROUNDING, capture_bytes, seconds, session_bytes
from tests.test_tables import blocks


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def x(stamp: str) -> float:
    """An event's Timestamp as the x of the plots (a matplotlib date number)."""
    return float(mdates.date2num(seconds(stamp).round("us").tz_convert(None).to_pydatetime()))


def line(ax: Axes, gid: str):
    return next(a for a in ax.get_lines() if a.get_gid() == gid)


def rises(ax: Axes, gid: str) -> list[tuple[float, int]]:
    """(x, new value) wherever a step line goes up."""
    xs, ys = line(ax, gid).get_xdata(), line(ax, gid).get_ydata()
    return [(float(xs[i]), int(ys[i])) for i in range(1, len(ys)) if ys[i] > ys[i - 1]]


def test_the_busy_queue():
    data = amikit.sample_recording("busy")
    events = blocks(data)
    ax = amikit.plot_queue(amikit.read_events(data))
    # callers waiting rise to 1 at each QueueCallerJoin, members busy at each AgentConnect
    for gid, kind in (("waiting", "QueueCallerJoin"), ("busy", "AgentConnect")):
        want = [(x(e["timestamp"]), 1) for e in events if e.get("event") == kind]
        assert rises(ax, gid) == [pytest.approx(w, abs=1e-9) for w in want]
    assert not line(ax, "paused").get_ydata().any()
    assert to_hex(line(ax, "waiting").get_color()) == STATE_COLOURS["queued"].lower()
    assert ax.get_title() == "Queues: 3 calls, 3 answered"
    assert ax.get_legend_handles_labels()[1] == ["callers waiting", "members busy",
                                                 "members paused"]


def test_paused_members_and_a_waiting_caller():
    data = session_bytes()
    events = blocks(data)
    df = amikit.read_events(data)
    ax = df.ami.plot_queue(queue="support")
    pauses = [(x(e["timestamp"]), e["paused"]) for e in events
              if e.get("event") == "QueueMemberPause"]
    # 006: both members paused (lunch); the line climbs to 2 at the second pause
    assert rises(ax, "paused") == [pytest.approx((pauses[0][0], 1), abs=1e-9),
                                   pytest.approx((pauses[1][0], 2), abs=1e-9)]
    counts = queue_counts(df, "support")
    join = next(seconds(e["timestamp"]) for e in events if e.get("event") == "QueueCallerJoin")
    connect = next(seconds(e["timestamp"]) for e in events if e.get("event") == "AgentConnect")
    during = counts[(counts.index >= join - ROUNDING) & (counts.index < connect - ROUNDING)]
    assert (during["waiting"] == 1).all() and (during["busy"] == 0).all()
    assert counts.loc[counts.index >= connect, "waiting"].eq(0).all()
    assert ax.get_title() == "Queue support: 1 call, 1 answered"


def test_an_open_wait_runs_to_the_end_of_the_frame():
    data = session_bytes()
    waiting = data[:data.index(b"Event: AgentCalled")]
    counts = queue_counts(amikit.read_events(waiting))
    assert counts["waiting"].iloc[-1] == 1


def test_no_queue():
    assert "No queue events" in amikit.plot_queue(amikit.events_frame([])).get_title()
    orig = amikit.read_events(capture_bytes("20_behaviour/orig_exten/run1.rawman"))
    assert "No queue events" in orig.ami.plot_queue().get_title()
    busy = amikit.read_events(amikit.sample_recording("busy"))
    assert "for sales" in amikit.plot_queue(busy, queue="sales").get_title()
    assert isinstance(queue_counts(amikit.events_frame([])), pd.DataFrame)


def test_an_axes_of_ones_own():
    _, ax = plt.subplots()
    df = amikit.read_events(amikit.sample_recording())
    assert amikit.plot_queue(df, ax=ax) is ax


def test_paused_has_a_colour_of_its_own():
    ax = amikit.plot_queue(amikit.read_events(session_bytes()))
    colours = {gid: to_hex(line(ax, gid).get_color()) for gid in ("waiting", "busy", "paused")}
    assert colours["paused"] == STATE_COLOURS["paused"].lower()
    # not the timeline's "on hold", nor any other state's colour
    others = {c.lower() for state, c in STATE_COLOURS.items() if state != "paused"}
    assert colours["paused"] not in others and len(set(colours.values())) == 3


def test_plot_queue_makes_the_queue_calls_once(monkeypatch):
    from amikit import callcentre

    df = amikit.read_events(session_bytes())
    made = []
    real = callcentre.queue_calls
    monkeypatch.setattr(callcentre, "queue_calls", lambda data: made.append(1) or real(data))
    ax = amikit.plot_queue(df, queue="support")
    assert len(made) == 1
    assert ax.get_title() == "Queue support: 1 call, 1 answered"
