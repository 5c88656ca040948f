"""TimelineView: the channel timeline of a live log, redrawn at most twice a second."""

from __future__ import annotations

import base64
import io
import time
from typing import TYPE_CHECKING, Any

import ipywidgets as w
from matplotlib.figure import Figure

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["TimelineView"]


class TimelineView(w.VBox):
    """A timeline of ``log`` (an :class:`EventMonitor`, an :class:`~amikit.EventLog` or an
    event DataFrame) that follows the latest calls or zooms to one, with its ladder."""

    def __init__(self, log: Any, *, max_rate: float = 2.0) -> None:
        self.source = log
        self.output = w.Output()
        self.call = w.Dropdown(description="Call", options=[("latest calls", None)])
        self.follow = w.Checkbox(value=True, description="follow the latest")
        self.button = w.Button(description="Redraw", icon="refresh")
        self.interval = 1.0 / max_rate
        self._drawn = 0.0
        self.draws = 0
        self.button.on_click(lambda _: self.refresh(force=True))
        self.call.observe(lambda _: self.refresh(force=True), "value")
        if hasattr(log, "on_events"):
            log.on_events(lambda _: self.refresh())
        super().__init__([w.HBox([self.call, self.follow, self.button]), self.output])

    def _frame(self) -> pd.DataFrame:
        if hasattr(self.source, "frame"):
            frame = self.source.frame
            return frame() if callable(frame) else frame
        return self.source

    def refresh(self, force: bool = False) -> bool:
        """Redraw (at most ``max_rate`` times a second unless ``force``); True if drawn."""
        if not force and time.monotonic() - self._drawn < self.interval:
            return False
        from amikit.plots import plot_ladder, plot_timeline

        df = self._frame()
        calls = df.ami.calls() if len(df) else None
        if calls is not None and len(calls):
            options = [("latest calls", None)] + [
                (f"{c.Linkedid} {c.originator}", str(c.Linkedid)) for c in calls.itertuples()]
            if [o[1] for o in self.call.options] != [o[1] for o in options]:
                current = self.call.value
                self.call.options = options
                self.call.value = current if current in [o[1] for o in options] else None
        figure = Figure(figsize=(10, 4), layout="constrained")
        if self.call.value is None:
            recent = df
            if self.follow.value and calls is not None and len(calls) > 8:
                keep = set(calls["Linkedid"].astype(str).tail(8))
                recent = df[df["Linkedid"].astype(object).astype(str).isin(keep)
                            | df["Linkedid"].isna()] if "Linkedid" in df else df
            plot_timeline(recent, ax=figure.subplots())
        else:
            axes = figure.subplots(1, 2)
            plot_timeline(df[df["Linkedid"].astype(object).astype(str) == self.call.value],
                          ax=axes[0])
            plot_ladder(df, self.call.value, ax=axes[1])
        # Set the PNG on the Output widget directly: it then shows the same in any front end,
        # with or without a kernel capturing display calls.
        png = io.BytesIO()
        figure.savefig(png, format="png", dpi=80)
        self.output.outputs = ({"output_type": "display_data", "metadata": {},
                                "data": {"image/png": base64.b64encode(png.getvalue()).decode(),
                                         "text/plain": "<channel timeline>"}},)
        self.draws += 1
        self._drawn = time.monotonic()  # counted from the end of a draw, however long it took
        return True
