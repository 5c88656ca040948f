"""A queue over time: callers waiting, members busy and members paused, as step lines.

    import amikit
    df = amikit.read_events(amikit.sample_recording("busy"))
    amikit.plot_queue(df)                    # every queue of the frame
    df.ami.plot_queue(queue="support")

The spans come from :mod:`amikit.callcentre`: a caller waits from its ``QueueCallerJoin``
to its answer or its leaving (``queue_calls``), a member is busy from ``AgentConnect`` to
``AgentComplete`` (``busy_spans``) and paused as its ``Paused`` header says
(``pause_spans``). A span still open at the end of the recording is drawn to its end.
"""

from __future__ import annotations

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from amikit import callcentre
from amikit.plots import STATE_COLOURS, _axes, _num, _plural

__all__ = ["plot_queue", "queue_counts"]

#: The lines drawn: (gid, legend label, colour).
_LINES = (("waiting", "callers waiting", STATE_COLOURS["queued"]),
          ("busy", "members busy", STATE_COLOURS["bridged"]),
          ("paused", "members paused", STATE_COLOURS["paused"]))


def _open_count(starts: pd.Series, ends: pd.Series) -> pd.Series:
    """How many spans are open from each moment on: +1 at a start, −1 at an end (none for
    a span still open), summed.

    >>> t = pd.Series(pd.to_datetime(["2026-01-01 00:00:00", "2026-01-01 00:00:01"], utc=True))
    >>> _open_count(t[:1], t[1:]).tolist()  # one span: open from the first moment, shut at the second
    [1, 0]
    """
    starts, ends = starts.reset_index(drop=True), ends.reset_index(drop=True)  # pairs by place
    known = starts.notna()
    shut = known & ends.notna()  # a span without an end stays open
    changes = pd.concat([pd.Series(1, index=pd.DatetimeIndex(starts[known])),
                         pd.Series(-1, index=pd.DatetimeIndex(ends[shut]))])
    return changes.groupby(level=0).sum().sort_index().cumsum()


def queue_counts(data: pd.DataFrame, queue: str | None = None) -> pd.DataFrame:
    """Callers waiting, members busy and members paused (columns ``waiting``, ``busy``,
    ``paused``), from each moment one of them changes until the next; ``queue`` picks one
    queue (None: all). The first row is the frame's first moment, the last its last.

    >>> import amikit
    >>> df = amikit.read_events(amikit.sample_recording("busy"))
    >>> int(queue_counts(df)["waiting"].max()), int(queue_counts(df)["busy"].max())
    (1, 1)
    """
    return _counts(data, queue)[0]


def _counts(data: pd.DataFrame, queue: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`queue_counts` and the (queue's) ``queue_calls`` it was made from."""
    columns = [gid for gid, _, _ in _LINES]
    every = callcentre.queue_calls(data)  # made once: busy_spans needs it too
    calls = every if queue is None else every[every["Queue"] == queue]
    if data.empty or "Timestamp" not in data:
        return pd.DataFrame(columns=columns, dtype="int64"), calls
    times = pd.to_datetime(data["Timestamp"], utc=True)
    first, last = times.min(), times.max()
    busy = callcentre.busy_spans(data, calls=every)
    paused = callcentre.pause_spans(data)
    if queue is not None:
        busy, paused = (t[t["Queue"] == queue] for t in (busy, paused))
    # a caller whose stay is still open at the end of the frame is still waiting then
    waited_until = calls["answered"].fillna(calls["left"])
    counts = pd.DataFrame({
        "waiting": _open_count(calls["joined"], waited_until),
        "busy": _open_count(busy["start"], busy["end"]),
        "paused": _open_count(paused["start"], paused["end"])})
    edges = pd.DatetimeIndex([first, last]).difference(counts.index)
    counts = pd.concat([counts, pd.DataFrame(index=edges, columns=columns, dtype="float64")])
    return counts.sort_index().ffill().fillna(0).astype("int64")[columns], calls


def plot_queue(data: pd.DataFrame, queue: str | None = None, ax: Axes | None = None, *,
               title: str | None = None) -> Axes:
    """Callers waiting and members busy and paused over time, as step lines.

    ``data`` is an event frame; ``queue`` names one queue (None: all of the frame's).
    Returns the Axes (a new figure when ``ax`` is None); see :func:`queue_counts` for the
    values drawn.
    """
    ax = _axes(ax, (11, 3.5))
    counts, calls = _counts(data, queue)
    if calls.empty and not counts[["busy", "paused"]].to_numpy().any():
        ax.set_title(title or f"No queue events{f' for {queue}' if queue else ''}")
        return ax
    x = _num(pd.Series(counts.index))
    for gid, label, colour in _LINES:
        ax.step(x, counts[gid].to_numpy(), where="post", color=colour, linewidth=1.5,
                label=label, gid=gid)
    answered = int(calls["outcome"].isin(["answered", "transferred"]).sum())
    name = f"Queue {queue}" if queue else "Queues"
    ax.set_title(title or f"{name}: {_plural(len(calls), 'call')}, {answered} answered")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0, top=max(1, int(np.nanmax(counts.to_numpy(), initial=0))) + 0.5)
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel("time (UTC)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1), fontsize=8, frameon=False)
    return ax
