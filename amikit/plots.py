"""Pictures of calls with matplotlib: channel timelines, call ladders, event rates.

Each function takes ``ax=None`` (a new figure when None), draws, and returns the Axes;
nothing calls ``plt.show()``. Colours come from a palette that reads on light and dark
backgrounds. Timelines draw with collections (one artist per state, not per segment), so
thousands of channels stay fast.

    import amikit
    df = amikit.read_events(amikit.sample_recording())
    amikit.plot_timeline(df)                 # one lane per channel, grouped by call
    amikit.plot_ladder(df, df.ami.calls().Linkedid[1])
    amikit.plot_event_rate(df, freq="1s")
"""

from __future__ import annotations

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PolyCollection

from amikit import tables

__all__ = ["STATE_COLOURS", "plot_event_rate", "plot_ladder", "plot_timeline"]

#: Segment colours by state (Okabe–Ito: distinguishable for colour-blind readers too);
#: ``paused`` (a queue member's, in :func:`amikit.plot_queue`) is the palette's black.
STATE_COLOURS = {"ringing": "#E69F00", "up": "#56B4E9", "bridged": "#009E73",
                 "hold": "#CC79A7", "queued": "#0072B2", "conference": "#F0E442",
                 "paused": "#000000"}
_HANGUP_COLOUR = "#D55E00"
_LINK_COLOUR = "#999999"


def _axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots(figsize=size, layout="constrained")
    return new


def _num(times: pd.Series) -> np.ndarray:
    """Datetimes as matplotlib date numbers (NaT → nan)."""
    values = pd.to_datetime(times, utc=True)
    out = np.full(len(values), np.nan)
    ok = values.notna().to_numpy()
    if ok.any():
        out[ok] = mdates.date2num(values[ok].dt.tz_convert(None).to_numpy())
    return out


def _bars(starts: np.ndarray, ends: np.ndarray, lanes: np.ndarray,
          height: float) -> list[np.ndarray]:
    """One rectangle (4 corners) per bar with a known start and end."""
    ok = ~(np.isnan(starts) | np.isnan(ends)) & (ends >= starts)
    s, e, y = starts[ok], ends[ok], lanes[ok]
    half = height / 2
    return list(np.stack([np.stack([s, y - half], 1), np.stack([e, y - half], 1),
                          np.stack([e, y + half], 1), np.stack([s, y + half], 1)], 1))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def plot_timeline(data: pd.DataFrame, ax: Axes | None = None, *, events: list[str] | None = None,
                  max_labels: int = 40, title: str | None = None) -> Axes:
    """One horizontal lane per channel, grouped by call, coloured by state.

    ``data`` is an event frame (from :func:`amikit.read_events`) or the table of
    ``df.ami.channels()``. Segments: ringing (created → answered), up (answered → hangup),
    waiting in a queue (``QueueCallerJoin`` → ``QueueCallerLeave``), bridged (bridge
    enter → leave), in a conference (``ConfbridgeJoin`` → ``ConfbridgeLeave``) and on hold
    (music on hold, a thinner bar), the last four from an event frame; the hangup cause is
    marked at
    the end of each lane, bridged channels are joined by a thin line, and the events named
    in ``events`` (e.g. ``["DialBegin", "Hangup"]``) are ticked on their lanes.

    Any event frame draws: a call without bridges, a frame of only Newchannel and Hangup
    events, or one without a ``Timestamp`` (lanes without bars, said in the title).
    """
    is_events = "Event" in data
    chans = tables.channels(data) if is_events else data
    ax = _axes(ax, (11, max(2.5, min(12, 0.3 * len(chans) + 1.5))))
    if chans.empty:
        ax.set_title(title or "No channels")
        return ax
    chans = chans.assign(_call=chans["Linkedid"].astype(object).fillna(chans["Uniqueid"]))
    first = chans.groupby("_call", sort=False)["created"].transform("min")
    chans = chans.assign(_first=first.fillna(chans.get("first_seen"))).sort_values(
        ["_first", "_call", "created"], kind="stable").reset_index(drop=True)
    lanes = np.arange(len(chans), dtype=float)
    lane_of = dict(zip(chans["Uniqueid"].astype(str), lanes, strict=False))
    created = _num(chans["created"].fillna(chans.get("first_seen")))
    answered = _num(chans["answered"])
    ended = _num(chans["hungup"].fillna(chans.get("last_seen")))
    ring_end = np.where(np.isnan(answered), ended, answered)
    ax.add_collection(PolyCollection(_bars(created, ring_end, lanes, 0.6),
                                     facecolors=STATE_COLOURS["ringing"], edgecolors="none",
                                     label="ringing", gid="ringing"))
    ax.add_collection(PolyCollection(_bars(answered, ended, lanes, 0.6),
                                     facecolors=STATE_COLOURS["up"], edgecolors="none",
                                     label="up", gid="up"))
    timed = is_events and {"Uniqueid", "Timestamp"} <= set(data.columns)
    if timed:
        _draw_spans(ax, data, lane_of)
    hung = chans["hungup"].notna().to_numpy() & ~np.isnan(ended)
    ax.scatter(ended[hung], lanes[hung], marker="|", s=120, color=_HANGUP_COLOUR, zorder=3,
               label="hangup", gid="hangup")
    if len(chans) <= max_labels:
        times = np.r_[created, ended]
        middle = (np.nanmin(times) + np.nanmax(times)) / 2 if np.isfinite(times).any() else 0
        for y, x, cause in zip(lanes[hung], ended[hung], chans.loc[hung, "Cause-txt"],
                               strict=False):
            if isinstance(cause, str) and cause:
                # Each label goes on the roomier side of its hangup mark, inside the axes:
                # always to the right would need seconds of empty axis after the last hangup.
                after = x < middle
                ax.annotate(cause, (x, y), xytext=(4 if after else -4, 0),
                            textcoords="offset points", ha="left" if after else "right",
                            va="center", fontsize=7, color=_HANGUP_COLOUR, gid="cause",
                            bbox={"boxstyle": "square,pad=0.1", "facecolor": "white",
                                  "edgecolor": "none", "alpha": 0.7})
    if timed and events:
        _tick_events(ax, data, lane_of, events)
    _finish_lanes(ax, chans, lanes, created, ended, max_labels)
    untimed = "" if np.isfinite(created).any() or np.isfinite(ended).any() else \
        " (no event times)"
    ax.set_title(title or f"Channel timeline: {_plural(len(chans), 'channel')}, "
                          f"{_plural(chans['_call'].nunique(), 'call')}{untimed}")
    # beside the lanes, not over them: the x-axis ends where the calls end
    ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1), fontsize=8, frameon=False)
    return ax


def _intervals(data: pd.DataFrame, lane_of: dict[str, float], start: str, stop: str,
               group: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(starts, stops, lanes) of each channel's spans between ``start`` and ``stop`` events.

    Empty when the frame has no such events or lacks the ``group`` column (a frame without
    bridge events has no ``BridgeUniqueid`` at all).
    """
    none = np.zeros(0), np.zeros(0), np.zeros(0)
    if group is not None and group not in data:
        return none
    ev = data[data["Event"].isin([start, stop]) & data["Uniqueid"].notna()]
    ev = ev.assign(_lane=ev["Uniqueid"].astype(str).map(lane_of), _t=_num(ev["Timestamp"]))
    ev = ev[ev["_lane"].notna()]
    if ev.empty:
        return none
    keys = [ev["Uniqueid"].astype(str)] + ([ev[group].astype(str)] if group else [])
    spans = []
    for _, one in ev.groupby(keys, sort=False):
        opened = one.loc[one["Event"] == start, "_t"].to_numpy()
        closed = one.loc[one["Event"] == stop, "_t"].to_numpy()
        for i, begin in enumerate(opened):
            spans.append((begin, closed[i] if i < len(closed) else np.nan, one["_lane"].iloc[0]))
    if not spans:
        return none
    begins, ends, lanes = (np.array(column, dtype=float) for column in zip(*spans, strict=True))
    last = np.nanmax(_num(data["Timestamp"]))
    return begins, np.where(np.isnan(ends), last, ends), lanes


#: The states drawn from pairs of events, in drawing order (a later one over an earlier):
#: (state, label, opening event, closing event, the column pairing them, bar height).
_SPAN_STATES = (
    ("queued", "in queue", "QueueCallerJoin", "QueueCallerLeave", "Queue", 0.6),
    ("bridged", "bridged", "BridgeEnter", "BridgeLeave", "BridgeUniqueid", 0.6),
    ("conference", "in conference", "ConfbridgeJoin", "ConfbridgeLeave", "Conference", 0.6),
    ("hold", "on hold", "MusicOnHoldStart", "MusicOnHoldStop", None, 0.3),
)


def _draw_spans(ax: Axes, data: pd.DataFrame, lane_of: dict[str, float]) -> None:
    for state, label, start, stop, group, height in _SPAN_STATES:
        begins, ends, lanes = _intervals(data, lane_of, start, stop, group)
        if len(begins):
            ax.add_collection(PolyCollection(_bars(begins, ends, lanes, height),
                                             facecolors=STATE_COLOURS[state], edgecolors="none",
                                             label=label, gid=state))
    if "BridgeUniqueid" not in data:
        return
    enters = data[(data["Event"] == "BridgeEnter") & data["Uniqueid"].notna()]
    enters = enters.assign(_lane=enters["Uniqueid"].astype(str).map(lane_of),
                           _t=_num(enters["Timestamp"]))
    links = [[(group["_t"].max(), group["_lane"].min()), (group["_t"].max(), group["_lane"].max())]
             for _, group in enters[enters["_lane"].notna()].groupby(
                 enters["BridgeUniqueid"].astype(str), sort=False) if len(group) > 1]
    if links:
        ax.add_collection(LineCollection(links, colors=_LINK_COLOUR, linewidths=1,
                                         linestyles="dotted", gid="bridge-links"))


def _tick_events(ax: Axes, data: pd.DataFrame, lane_of: dict[str, float],
                 names: list[str]) -> None:
    ev = data[data["Event"].isin(names)]
    own = ev["Uniqueid"].astype(object) if "Uniqueid" in ev else None
    if "DestUniqueid" in ev:  # Dial events of an Originate carry only the callee's snapshot
        dest = ev["DestUniqueid"].astype(object)
        own = dest if own is None else own.where(own.notna(), dest)
    if own is None:
        return
    lanes = own.astype(str).map(lane_of)
    ok = lanes.notna().to_numpy()
    ax.scatter(_num(ev["Timestamp"])[ok], lanes.to_numpy(dtype=float)[ok], marker="d", s=14,
               color="#CC79A7", zorder=4, label="events", gid="events")


def _finish_lanes(ax: Axes, chans: pd.DataFrame, lanes: np.ndarray, created: np.ndarray,
                  ended: np.ndarray, max_labels: int) -> None:
    finite = np.r_[created[~np.isnan(created)], ended[~np.isnan(ended)]]
    if len(finite):
        low, high = finite.min(), finite.max()
        # a margin in proportion to what is drawn (a 50 ms floor keeps a call of a few
        # milliseconds visible), so a short call gets no seconds of empty axis around it
        pad = max((high - low) * 0.02, 0.05 / 86400)
        ax.set_xlim(low - pad, high + pad)
    ax.set_ylim(len(lanes) - 0.5, -0.5)
    if len(chans) <= max_labels:
        ax.set_yticks(lanes, chans["Channel"].astype(str).tolist(), fontsize=8)
    else:
        ax.set_yticks([])
        ax.set_ylabel(f"{len(chans)} channels")
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel("time (UTC)")
    ax.grid(axis="x", alpha=0.3)


def plot_ladder(data: pd.DataFrame, linkedid: str, ax: Axes | None = None, *,
                title: str | None = None) -> Axes:
    """A call-flow (sequence) diagram of one call, in the style of sngrep's ladder.

    Lanes are the call's channels and bridges; time runs down. Arrows: Dial (caller to
    callee), bridge enter/leave (channel to bridge), hangup (a cross with its cause),
    each labelled with seconds since the call began.
    """
    events = tables.call(data, linkedid)
    ax = _axes(ax, (10, 6))
    if events.empty:
        ax.set_title(title or f"No events for call {linkedid}")
        return ax
    chans = tables.channels(events)
    lane_names = chans["Channel"].astype(str).tolist()
    bridge_ids = (events["BridgeUniqueid"].dropna().astype(str).unique().tolist()
                  if "BridgeUniqueid" in events else [])
    lane_names += [f"bridge {b[:8]}" for b in bridge_ids]
    lane_x = {name: i for i, name in enumerate(lane_names)}
    start = pd.to_datetime(events["Timestamp"], utc=True).min()
    seconds = (pd.to_datetime(events["Timestamp"], utc=True) - start).dt.total_seconds()
    moved = set(tables.redirects(events).index)
    steps = []
    for (index, row), t in zip(events.iterrows(), seconds, strict=True):
        kind = row["Event"]
        if index in moved and str(row.get("Channel", "")) in lane_x:
            chan = str(row["Channel"])
            steps.append((t, chan, chan, f"Redirect to {row.get('Exten', '')}@{row.get('Context', '')}"))
            continue
        chan = str(row.get("Channel", ""))
        if kind == "DialBegin" and str(row.get("DestChannel", "")) in lane_x:
            source = chan if chan in lane_x else str(row["DestChannel"])
            steps.append((t, source, str(row["DestChannel"]), f"Dial {row.get('DialString', '')}"))
        elif kind == "DialEnd" and str(row.get("DestChannel", "")) in lane_x:
            steps.append((t, str(row["DestChannel"]), chan if chan in lane_x
                          else str(row["DestChannel"]), f"{row.get('DialStatus', '')}"))
        elif kind in ("BridgeEnter", "BridgeLeave") and chan in lane_x:
            bridge = f"bridge {str(row['BridgeUniqueid'])[:8]}"
            a, b = (chan, bridge) if kind == "BridgeEnter" else (bridge, chan)
            steps.append((t, a, b, kind.replace("Bridge", "")))
        elif kind == "Hangup" and chan in lane_x:
            steps.append((t, chan, chan, f"Hangup {row.get('Cause-txt', '')}"))
        elif kind == "Newstate" and chan in lane_x and row.get("ChannelState") == 6:
            steps.append((t, chan, chan, "Up"))
    n = len(lane_names)
    depth = max(len(steps), 1)
    for x, name in enumerate(lane_names):
        ax.plot([x, x], [0, depth + 1], color=_LINK_COLOUR, linewidth=1, zorder=1)
        ax.text(x, -0.4, name, ha="center", va="bottom", fontsize=7, rotation=0)
    for y, (t, a, b, label) in enumerate(steps, start=1):
        xa, xb = lane_x[a], lane_x[b]
        if a == b:
            hangup, redirect = label.startswith("Hangup"), label.startswith("Redirect")
            colour = _HANGUP_COLOUR if hangup else "#CC79A7" if redirect else STATE_COLOURS["up"]
            ax.plot([xa], [y], marker="x" if hangup else ">" if redirect else "o", color=colour,
                    zorder=3)
        else:
            ax.annotate("", xy=(xb, y), xytext=(xa, y),
                        arrowprops={"arrowstyle": "->", "color": STATE_COLOURS["bridged"]
                                    if "Enter" in label or "Leave" in label else "#0072B2"})
        ax.text((xa + xb) / 2, y - 0.15, f"{label}  +{t:.3f}s", ha="center", va="bottom",
                fontsize=7)
    ax.set_xlim(-0.7, n - 0.3)
    ax.set_ylim(depth + 1, -1)
    ax.axis("off")
    ax.set_title(title or f"Call {linkedid}: {len(chans)} channels, {len(steps)} steps")
    return ax


def plot_event_rate(data: pd.DataFrame, freq: str = "1s", by: str | None = "Event",
                    ax: Axes | None = None, *, top: int = 8, title: str | None = None) -> Axes:
    """Events per ``freq`` over time, one line per value of ``by`` (the ``top`` most common,
    the rest summed as "other"); ``by=None`` draws the total."""
    ax = _axes(ax, (11, 3.5))
    if data.empty or "Timestamp" not in data:
        ax.set_title(title or "No events")
        return ax
    times = pd.to_datetime(data["Timestamp"], utc=True)
    if by is None:
        counts = times.dt.floor(freq).value_counts().sort_index().to_frame("events")
    else:
        keys = data[by].astype(object).fillna("(none)")
        common = keys.value_counts().index[:top]
        keys = keys.where(keys.isin(common), "other")
        counts = pd.crosstab(times.dt.floor(freq), keys)
    full = pd.date_range(counts.index.min(), counts.index.max(), freq=freq)
    counts = counts.reindex(full, fill_value=0)
    for column in counts.columns:
        ax.plot(counts.index.tz_convert(None), counts[column], label=str(column), linewidth=1.2)
    ax.set_ylabel(f"events per {freq}")
    ax.set_title(title or f"Event rate ({len(data):,} events)")
    if by is not None:
        ax.legend(fontsize=7, ncols=min(4, len(counts.columns)), frameon=False)
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.grid(alpha=0.3)
    return ax


