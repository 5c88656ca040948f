"""The ``df.ami`` accessor: call analysis on any event frame from :func:`amikit.read_events`.

    >>> import amikit
    >>> df = amikit.read_events(amikit.sample_recording())
    >>> calls = df.ami.calls()
    >>> sorted(calls["disposition"].dropna().unique())[:3]
    ['ANSWERED', 'BUSY', 'CONGESTION']
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from amikit import tables

__all__ = ["AMIAccessor"]


@pd.api.extensions.register_dataframe_accessor("ami")
class AMIAccessor:
    """``df.ami.channels()``, ``.calls()``, ``.bridges()``, ``.call(linkedid)`` and plots."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    def channels(self) -> pd.DataFrame:
        """One row per channel (Uniqueid): created, answered, hungup, duration, Cause …"""
        return tables.channels(self._frame)

    def calls(self) -> pd.DataFrame:
        """One row per call (Linkedid): legs, start, end, duration, disposition …"""
        return tables.calls(self._frame)

    def bridges(self) -> pd.DataFrame:
        """One row per bridge with its members and their enter and leave times."""
        return tables.bridges(self._frame)

    def call(self, linkedid: str) -> pd.DataFrame:
        """The events of one call, in order, keeping only columns with information."""
        return tables.call(self._frame, linkedid)

    def plot_timeline(self, **kwargs: Any):
        """:func:`amikit.plot_timeline` of this frame."""
        from amikit.plots import plot_timeline

        return plot_timeline(self._frame, **kwargs)

    def plot_ladder(self, linkedid: str, **kwargs: Any):
        """:func:`amikit.plot_ladder` of one call of this frame."""
        from amikit.plots import plot_ladder

        return plot_ladder(self._frame, linkedid, **kwargs)

    def plot_event_rate(self, **kwargs: Any):
        """:func:`amikit.plot_event_rate` of this frame."""
        from amikit.plots import plot_event_rate

        return plot_event_rate(self._frame, **kwargs)
