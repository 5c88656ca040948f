"""The ``df.ami`` accessor: call analysis on any event frame from :func:`amikit.read_events`.

    >>> import amikit
    >>> df = amikit.read_events(amikit.sample_recording())
    >>> calls = df.ami.calls()
    >>> sorted(calls["disposition"].dropna().unique())[:3]
    ['ANSWERED', 'BUSY', 'CONGESTION']

``import amikit`` does not import pandas (the command line and the client start without
it), yet ``df.ami`` works on every DataFrame once amikit is imported. :func:`install`, run
by ``import amikit``, registers the accessor at once when pandas is already imported, and
otherwise leaves a one-shot import hook on ``sys.meta_path`` that registers it the moment
pandas has finished importing, whoever imports it. (An import hook, rather than registering
when amikit first builds a frame, so that a frame pandas reads by itself, e.g. from
Parquet, has ``.ami`` too.)

An accessor on a frame that is not an event frame raises ``AttributeError``, as pandas
expects of an accessor's validation:

    >>> calls.ami.calls()
    Traceback (most recent call last):
    ...
    AttributeError: df.ami works on event frames ...
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
import warnings
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = ["AMIAccessor", "install", "register"]

#: The column every event frame has (``read_events`` and ``events_frame`` put it first).
_EVENT_COLUMN = "Event"


class AMIAccessor:
    """``df.ami.channels()``, ``.calls()``, ``.bridges()``, ``.call(linkedid)``, the
    call-centre tables (``.queue_calls()``, ``.agents()``, ``.queue_stats()``,
    ``.conferences()``) and plots.

    Only for event frames: one row per AMI event with an ``Event`` column, as
    :func:`amikit.read_events` and :func:`amikit.events_frame` make them (a slice of one,
    or an empty one, too). Any other frame raises ``AttributeError`` saying so.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        # an empty frame with no columns is what events_frame([]) returns
        if _EVENT_COLUMN not in frame.columns and not (frame.empty and len(frame.columns) == 0):
            shown = ", ".join(map(str, list(frame.columns)[:8]))
            more = " …" if len(frame.columns) > 8 else ""
            raise AttributeError(
                "df.ami works on event frames (one row per AMI event, with an 'Event' column, "
                "as amikit.read_events() and amikit.events_frame() make them); this frame has "
                f"no 'Event' column (columns: {shown or 'none'}{more}). A table such as "
                "df.ami.channels() or df.ami.calls() is already the analysis: use it as a "
                "plain DataFrame.")
        self._frame = frame

    def channels(self) -> pd.DataFrame:
        """One row per channel (Uniqueid): created, answered, hungup, duration, Cause …"""
        from amikit import tables

        return tables.channels(self._frame)

    def calls(self) -> pd.DataFrame:
        """One row per call (Linkedid): legs, start, end, duration, disposition …"""
        from amikit import tables

        return tables.calls(self._frame)

    def bridges(self) -> pd.DataFrame:
        """One row per bridge with its members and their enter and leave times."""
        from amikit import tables

        return tables.bridges(self._frame)

    def call(self, linkedid: str) -> pd.DataFrame:
        """The events of one call, in order, keeping only columns with information."""
        from amikit import tables

        return tables.call(self._frame, linkedid)

    def queue_calls(self) -> pd.DataFrame:
        """One row per caller's stay in a queue: joined, outcome, wait, answered_by, talk …"""
        from amikit import callcentre

        return callcentre.queue_calls(self._frame)

    def agents(self) -> pd.DataFrame:
        """One row per queue member: offered, answered, talk, paused, occupancy …"""
        from amikit import callcentre

        return callcentre.agents(self._frame)

    def queue_stats(self, freq: str | None = None,
                    service_level: str | pd.Timedelta = "20s") -> pd.DataFrame:
        """Per queue (and interval): offered, answered, abandoned, asa, service_level …"""
        from amikit import callcentre

        return callcentre.queue_stats(self._frame, freq=freq, service_level=service_level)

    def conferences(self) -> pd.DataFrame:
        """One row per conference instance: start, end, participants, most_at_once."""
        from amikit import callcentre

        return callcentre.conferences(self._frame)

    def plot_timeline(self, **kwargs: Any) -> Axes:
        """:func:`amikit.plot_timeline` of this frame."""
        from amikit.plots import plot_timeline

        return plot_timeline(self._frame, **kwargs)

    def plot_ladder(self, linkedid: str, **kwargs: Any) -> Axes:
        """:func:`amikit.plot_ladder` of one call of this frame."""
        from amikit.plots import plot_ladder

        return plot_ladder(self._frame, linkedid, **kwargs)

    def plot_event_rate(self, **kwargs: Any) -> Axes:
        """:func:`amikit.plot_event_rate` of this frame."""
        from amikit.plots import plot_event_rate

        return plot_event_rate(self._frame, **kwargs)

    def plot_queue(self, **kwargs: Any) -> Axes:
        """:func:`amikit.plot_queue` of this frame."""
        from amikit.queueplot import plot_queue

        return plot_queue(self._frame, **kwargs)


# re-entrant: importing pandas under it may run the hook below in the same thread
_lock = threading.RLock()
_registered = False


def register() -> None:
    """Register ``df.ami`` on pandas DataFrames now (imports pandas; once only)."""
    global _registered
    import pandas as pd  # outside the lock: this import may run the hook, which registers

    with _lock:
        if _registered:
            return
        pd.api.extensions.register_dataframe_accessor("ami")(AMIAccessor)
        _registered = True


def install() -> None:
    """``df.ami`` now if pandas is imported, else as soon as it is (``import amikit`` runs this)."""
    if "pandas" in sys.modules:
        register()
        return
    with _lock:
        if not any(isinstance(f, _AfterPandas) for f in sys.meta_path):
            sys.meta_path.insert(0, _AfterPandas())


class _AfterPandas(importlib.abc.MetaPathFinder):
    """Finds nothing itself: hands pandas' own spec back with a loader that registers after."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != "pandas":
            return None
        # out of the way while the real finders look, which also makes it one-shot
        with _lock:
            if self in sys.meta_path:
                sys.meta_path.remove(self)
        spec = importlib.util.find_spec("pandas")
        if spec is None or spec.loader is None:
            with _lock:  # not installed (yet): keep waiting, the import fails as it would
                sys.meta_path.insert(0, self)
            return None
        spec.loader = _RegisterAfter(spec.loader)
        return spec


class _RegisterAfter(importlib.abc.Loader):
    """pandas' own loader, then :func:`register` once pandas is fully executed."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # pandas sees its own loader, as without amikit
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        self._loader.exec_module(module)
        try:
            register()
        except Exception as exc:  # a broken df.ami must not break `import pandas`
            warnings.warn(f"amikit could not register df.ami: {exc}", RuntimeWarning,
                          stacklevel=2)

    def __getattr__(self, name: str) -> Any:  # get_resource_reader, is_package …
        return getattr(self._loader, name)
