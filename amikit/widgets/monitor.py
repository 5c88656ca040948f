"""EventMonitor: a live tail of events, filtered, counted, as a DataFrame at any time."""

from __future__ import annotations

import asyncio
import atexit
import html
import threading
import time
import weakref
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from amikit.client import AMIClient, AsyncAMIClient
from amikit.errors import AMIError
from amikit.message import Message

__all__ = ["EventMonitor"]

_OPEN: weakref.WeakSet[EventMonitor] = weakref.WeakSet()


@atexit.register
def _log_off_all() -> None:
    for monitor in list(_OPEN):
        monitor.close()


class EventMonitor(w.VBox):
    """Live events from its own polling session (the sync client's credentials).

    Constructing it starts nothing; polling starts with :meth:`start` or when it is
    displayed. In a notebook it polls as a task on the kernel's running asyncio loop, so
    cells stay usable; without a running loop it polls in a daemon thread. :meth:`stop`
    pauses, :meth:`close` ends polling and logs off. ``frame`` is what was seen, as a
    DataFrame; at most ``max_events`` are kept.
    """

    def __init__(self, client: AMIClient, *, max_events: int = 10_000, rows: int = 20) -> None:
        core = client._core
        self._credentials = (core.url, core.username, core._secret)
        self._options = {"encoding": core.encoding, "auth": core.auth}
        self.events: deque[Message] = deque(maxlen=max_events)
        self.counts: Counter[str] = Counter()
        self.names = w.SelectMultiple(description="Events", rows=6)
        self.channel = w.Text(description="Channel", placeholder="channel or Linkedid")
        self.text = w.Text(description="Text", placeholder="any text")
        self.pause = w.ToggleButton(description="Pause", icon="pause")
        self.table = w.Select(rows=rows, layout=w.Layout(width="100%"))
        self.detail = w.HTML()
        self.summary = w.HTML()
        self._rows: list[Message] = []
        self._listeners: list[Callable[[list[Message]], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self._drawn = 0.0
        #: set once the monitor's own session is logged in and listening
        self.ready = threading.Event()
        for control in (self.names, self.channel, self.text):
            control.observe(lambda _: self.render(), "value")
        self.table.observe(lambda change: self._show(change["new"]), "index")
        super().__init__([w.HBox([self.names, w.VBox([self.channel, self.text, self.pause])]),
                          self.summary, self.table, self.detail])

    # -- life cycle --------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return (self._task is not None and not self._task.done()) or (
            self._thread is not None and self._thread.is_alive())

    def start(self) -> EventMonitor:
        """Start (or resume) polling."""
        self.pause.value = False
        if self.running or self._closed:
            return self
        _OPEN.add(self)
        loop = None
        try:
            loop = asyncio.get_event_loop()
        except RuntimeError:
            loop = None
        if loop is not None and loop.is_running():
            self._task = loop.create_task(self._poll())
        else:
            self._thread = threading.Thread(target=lambda: asyncio.run(self._poll()),
                                            name="amikit-monitor", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Pause: events are no longer shown (the session is kept)."""
        self.pause.value = True

    def close(self) -> None:
        """End polling and log the session off."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
        if self._thread is not None:
            self._thread.join(timeout=5)
        _OPEN.discard(self)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        self.start()
        return super()._repr_mimebundle_(**kwargs)

    async def _poll(self) -> None:
        url, user, secret = self._credentials
        async with AsyncAMIClient(url, user, secret, **self._options) as ami:
            await ami.wait_event(0)
            self.ready.set()
            while not self._closed:
                if self.pause.value:
                    await asyncio.sleep(0.2)
                    continue
                try:
                    batch = await ami.wait_event(1)
                except AMIError as error:
                    self.summary.value = f"<b style='color:#D55E00'>{html.escape(str(error))}</b>"
                    await asyncio.sleep(1)
                    continue
                if batch and not self.pause.value:
                    self.add(batch)

    # -- data ------------------------------------------------------------------------
    def add(self, events: list[Message]) -> None:
        """Take events in (the poller does; tests and replays may too)."""
        self.events.extend(events)
        self.counts.update(e.name or "?" for e in events)
        for listener in self._listeners:
            listener(events)
        if time.monotonic() - self._drawn > 0.25:
            self.render()

    def on_events(self, listener: Callable[[list[Message]], None]) -> None:
        self._listeners.append(listener)

    @property
    def frame(self):
        """The events seen so far, as a typed DataFrame (empty before polling starts)."""
        from amikit.frames import events_frame

        return events_frame(list(self.events))

    def _matches(self, event: Message) -> bool:
        names = set(self.names.value)
        if names and event.name not in names:
            return False
        wanted = self.channel.value.strip()
        if wanted and wanted not in (event.get("Channel") or "") and wanted != event.get("Linkedid"):
            return False
        text = self.text.value.strip().lower()
        return not text or any(text in v.lower() for _, v in event.headers)

    def render(self) -> None:
        """Redraw the counts and the table (filters applied)."""
        self._drawn = time.monotonic()
        known = sorted(self.counts)
        if list(self.names.options) != known:
            chosen = [n for n in self.names.value if n in known]
            self.names.options = known
            self.names.value = tuple(chosen)
        self._rows = [e for e in self.events if self._matches(e)][-200:]
        self.table.options = [
            f"{e.get('Timestamp', '')[-15:]}  {e.name:<20} {e.get('Channel', '')}" for e in self._rows]
        top = ", ".join(f"{n} {c}" for n, c in self.counts.most_common(8))
        self.summary.value = f"{len(self.events)} events ({top})"

    def _show(self, index: int | None) -> None:
        if index is not None and 0 <= index < len(self._rows):
            self.detail.value = self._rows[index]._repr_html_()
