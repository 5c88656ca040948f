"""TimelineView: the channel timeline of a live log, redrawn at most twice a second."""

from __future__ import annotations

import asyncio
import base64
import io
import threading
import time
from typing import TYPE_CHECKING, Any

import ipywidgets as w
from matplotlib.figure import Figure

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["LATEST", "TimelineView", "latest_calls"]

#: ``TimelineView.call.value`` meaning "the latest calls" rather than one call's Linkedid
#: (ipywidgets takes a value of None for no choice at all, and would show a blank list).
LATEST = ""

#: How many calls "follow the latest" keeps.
FOLLOWED = 8


def latest_calls(df: pd.DataFrame, calls: pd.DataFrame, count: int = FOLLOWED) -> pd.DataFrame:
    """The rows of ``df`` about the ``count`` latest of ``calls`` (``df.ami.calls()``): those
    whose ``Linkedid`` is one of them, and those without a Linkedid (``Cdr``,
    ``OriginateResponse``, ``VarSet`` …) whose ``Uniqueid`` (or, without one, ``Channel``)
    is a channel of theirs. Every other row is left out.

        >>> import amikit
        >>> df = amikit.read_events(amikit.sample_recording("busy"))
        >>> latest_calls(df, df.ami.calls(), 8).ami.calls().shape[0]
        8
    """
    if "Linkedid" not in df or len(calls) <= count:
        return df
    keep = set(calls["Linkedid"].astype(str).tail(count))
    linked = df["Linkedid"].astype(object)
    ours = linked.notna() & linked.astype(str).isin(keep)
    unlinked = linked.isna()
    theirs = ours & False
    no_uid = unlinked
    if "Uniqueid" in df:
        uid = df["Uniqueid"].astype(object)
        uids = set(uid[ours].dropna().astype(str))
        theirs = uid.notna() & uid.astype(str).isin(uids)
        no_uid = uid.isna()
    if "Channel" in df:
        channel = df["Channel"].astype(object)
        names = set(channel[ours].dropna().astype(str))
        theirs = theirs | (no_uid & channel.notna() & channel.astype(str).isin(names))
    return df[ours | (unlinked & theirs)]


class TimelineView(w.VBox):
    """A timeline of ``log`` (an :class:`EventMonitor`, an :class:`~amikit.EventLog` or an
    event DataFrame) that follows the latest calls or zooms to one, with its ladder.

    ``call`` chooses what is drawn: its value is :data:`LATEST` (``""``, shown as "latest
    calls") for the latest calls, else a call's ``Linkedid``. With "follow the latest"
    ticked, the latest calls are the :data:`FOLLOWED` (8) that started last; unticked, all
    of them. ``figure`` is the matplotlib Figure drawn last.

    A log with ``on_events`` (an EventMonitor) redraws the view as events arrive: at most
    ``max_rate`` times a second, and never more than about half the time, as a draw of a
    long log takes seconds and holds the kernel meanwhile: after a draw that took longer
    than ``1 / max_rate``, the next one waits as long as it took (``draw_seconds``). An
    update arriving sooner is not dropped: it schedules one redraw for when the wait is
    over (on the running asyncio loop, a kernel's, if there is one; else in a timer
    thread), so the last events are always drawn. :meth:`close` cancels it.
    """

    def __init__(self, log: Any, *, max_rate: float = 2.0) -> None:
        self.source = log
        self.output = w.Output()
        self.call = w.Dropdown(description="Call", options=[("latest calls", LATEST)],
                               value=LATEST)
        self.follow = w.Checkbox(value=True, description="follow the latest")
        self.button = w.Button(description="Redraw", icon="refresh")
        self.interval = 1.0 / max_rate
        #: how long the last draw took (seconds): the next waits at least as long
        self.draw_seconds = 0.0
        self.draws = 0
        self.figure: Figure | None = None
        self._drawn = float("-inf")
        self._lock = threading.RLock()  # one draw at a time: a listener's, a timer's, a click's
        self._pending: asyncio.TimerHandle | threading.Timer | None = None
        self._scheduled = 0  # redraws scheduled so far: which one is pending
        self._pending_loop: asyncio.AbstractEventLoop | None = None  # the pending one's
        self._choosing = False  # set while refresh() itself updates the call list
        self._closed = False
        self.button.on_click(lambda _: self.refresh(force=True))
        self.call.observe(self._chosen, "value")
        if hasattr(log, "on_events"):
            log.on_events(lambda _: None if self._closed else self.refresh())
        super().__init__([w.HBox([self.call, self.follow, self.button]), self.output])

    def _frame(self) -> pd.DataFrame:
        if hasattr(self.source, "frame"):
            frame = self.source.frame
            return frame() if callable(frame) else frame
        return self.source

    def _chosen(self, _change: dict[str, Any]) -> None:
        if not self._choosing:
            self.refresh(force=True)

    def refresh(self, force: bool = False) -> bool:
        """Draw now if the wait after the last draw is over (or ``force``): True if drawn.
        Otherwise schedule one redraw for when it is over (if none is pending yet)."""
        with self._lock:
            if self._closed:
                return False
            wait = self._drawn + max(self.interval, self.draw_seconds) - time.monotonic()
            if not force and wait > 0:
                self._redraw_later(wait)
                return False
            self._cancel_pending()
            began = time.monotonic()
            self._draw()
            self._drawn = time.monotonic()  # the wait counts from the end of a draw
            self.draw_seconds = self._drawn - began
            return True

    def _draw(self) -> None:
        from amikit.plots import plot_ladder, plot_timeline

        df = self._frame()
        calls = df.ami.calls() if len(df) else None
        if calls is not None and len(calls):
            options = [("latest calls", LATEST)] + [
                (f"{c.Linkedid} {c.originator}", str(c.Linkedid)) for c in calls.itertuples()]
            values = [value for _, value in options]
            if [value for _, value in self.call.options] != values:
                current = self.call.value
                self._choosing = True
                try:
                    self.call.options = options
                    self.call.value = current if current in values else LATEST
                finally:
                    self._choosing = False
        chosen = self.call.value
        if not chosen:  # LATEST, or None set by code
            figure = Figure(figsize=(10, 4), dpi=80, layout="constrained")
            recent = df
            if self.follow.value and calls is not None:
                recent = latest_calls(df, calls, FOLLOWED)
            plot_timeline(recent, ax=figure.subplots())
        else:
            # one above the other: side by side, the ladder's lanes and title ran off the
            # right edge and the timeline's date ran into its axis label
            figure = Figure(figsize=(10, 8), dpi=80, layout="constrained")
            axes = figure.subplots(2, 1, height_ratios=(2, 3))
            plot_timeline(df[df["Linkedid"].astype(object).astype(str) == chosen], ax=axes[0])
            plot_ladder(df, chosen, ax=axes[1])
        # Set the PNG on the Output widget directly: it then shows the same in any front end,
        # with or without a kernel capturing display calls.
        png = io.BytesIO()
        figure.savefig(png, format="png")
        self.output.outputs = ({"output_type": "display_data", "metadata": {},
                                "data": {"image/png": base64.b64encode(png.getvalue()).decode(),
                                         "text/plain": "<channel timeline>"}},)
        self.figure = figure
        self.draws += 1

    # -- the trailing redraw ------------------------------------------------------------
    def _redraw_later(self, delay: float) -> None:
        if self._pending is not None and not (
                self._pending_loop is not None and self._pending_loop.is_closed()):
            return  # one is coming already: it draws whatever arrived by then
        self._scheduled += 1
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        self._pending_loop = loop
        if loop is not None:  # a kernel: draw on its loop, where widget updates belong
            self._pending = loop.call_later(delay, self._redraw_due, self._scheduled)
        else:
            timer = threading.Timer(delay, self._redraw_due, args=(self._scheduled,))
            timer.name, timer.daemon = "amikit-timeline", True
            self._pending = timer
            timer.start()

    def _redraw_due(self, scheduled: int) -> None:
        with self._lock:
            # a timer that had fired when it was cancelled (a draw came first, or close())
            if self._pending is None or scheduled != self._scheduled:
                return
            self._pending = None
            self.refresh()

    def _cancel_pending(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

    def close(self) -> None:
        """Stop redrawing (a redraw scheduled is cancelled) and close the widget with its
        controls."""
        # ipywidgets calls close() from __del__ too, also on a half-built view
        if getattr(self, "_closed", True):
            return
        with self._lock:
            self._closed = True
            self._cancel_pending()
        for control in (self.call, self.follow, self.button, self.output):
            control.close()
        super().close()
