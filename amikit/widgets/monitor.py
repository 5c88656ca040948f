"""EventMonitor: a live tail of events, filtered, counted, as a DataFrame at any time."""

from __future__ import annotations

import asyncio
import atexit
import html
import threading
import time
import warnings
import weakref
from collections import Counter, deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from amikit.client import AMIClient
from amikit.errors import AMIError
from amikit.message import Message

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["EventMonitor"]

_OPEN: weakref.WeakSet[EventMonitor] = weakref.WeakSet()

#: WaitEvent's timeout while polling: how long close() may wait for the poll in flight.
_POLL_SECONDS = 1


@atexit.register
def _log_off_all() -> None:
    for monitor in list(_OPEN):
        monitor.close()


class EventMonitor(w.VBox):
    """Live events from its own polling session (a :meth:`~amikit.AMIClient.clone` of
    ``client``: the same user, a session of its own).

    Constructing it starts nothing. :meth:`start` (or displaying it) logs that session in
    and returns once it listens, so every event of an action sent right after ``start()``
    reaches the monitor. It then polls: in a notebook as a task on the kernel's running
    asyncio loop (the WaitEvent itself in a worker thread), so cells stay usable; without a
    running loop, in a daemon thread. :meth:`pause` stops taking events in (they wait, and
    :meth:`resume` adds them); :meth:`close` ends polling and logs the session off.
    ``frame`` is what was seen, as a DataFrame; at most ``max_events`` are kept.
    """

    def __init__(self, client: AMIClient, *, max_events: int = 10_000, rows: int = 20) -> None:
        self._session = client.clone(asynchronous=False)
        self.events: deque[Message] = deque(maxlen=max_events)
        self.counts: Counter[str] = Counter()
        self.names = w.SelectMultiple(description="Events", rows=6)
        self.channel = w.Text(description="Channel", placeholder="channel or Linkedid")
        self.text = w.Text(description="Text", placeholder="any text")
        #: the Pause toggle: down while paused (the same as :meth:`pause` / :meth:`resume`)
        self.pause_button = w.ToggleButton(description="Pause", icon="pause")
        self.table = w.Select(rows=rows, layout=w.Layout(width="100%"))
        self.detail = w.HTML()
        self.summary = w.HTML()
        self._rows: list[Message] = []
        self._held: deque[Message] = deque(maxlen=max_events)
        self._listeners: list[Callable[[list[Message]], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self._drawn = 0.0
        # set while no WaitEvent is in flight: close() waits for it before logging off, as
        # a Logoff beside a WaitEvent of the same session would race with it
        self._idle = threading.Event()
        self._idle.set()
        #: set once the monitor's own session is logged in and listening
        self.ready = threading.Event()
        for control in (self.names, self.channel, self.text):
            control.observe(lambda _: self.render(), "value")
        self.pause_button.observe(self._toggled, "value")
        self.table.observe(lambda change: self._show(change["new"]), "index")
        super().__init__([w.HBox([self.names, w.VBox([self.channel, self.text,
                                                      self.pause_button])]),
                          self.summary, self.table, self.detail])

    # -- life cycle --------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True while a poller (task or thread) is alive."""
        return (self._task is not None and not self._task.done()) or (
            self._thread is not None and self._thread.is_alive())

    @property
    def paused(self) -> bool:
        return bool(self.pause_button.value)

    def start(self) -> EventMonitor:
        """Log the monitor's session in, start polling, and return once it listens.

        The login happens here, before returning, in a script and in a kernel alike: what
        happens after ``start()`` returns is queued for this session. Starting a running
        monitor only resumes it. Raises :class:`~amikit.errors.AMIError` when the login
        fails, and on a closed monitor.
        """
        if self._closed:
            raise AMIError("this EventMonitor is closed (its session logged off): make a new one")
        self.resume()
        if self.running:
            return self
        if not self.ready.is_set():
            self._session.login()
            self.ready.set()
        _OPEN.add(self)
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            self._task = loop.create_task(self._poll_on_loop())
        else:
            self._thread = threading.Thread(target=self._poll_in_thread, name="amikit-monitor",
                                            daemon=True)
            self._thread.start()
        return self

    def pause(self) -> None:
        """Stop taking events in; the session stays logged in and keeps polling, and what
        arrives meanwhile is held (up to ``max_events``) until :meth:`resume`."""
        self.pause_button.value = True

    def resume(self) -> None:
        """Take events in again, first those held while paused."""
        self.pause_button.value = False

    def stop(self) -> None:
        """Deprecated: it only ever paused. Use :meth:`pause` (or :meth:`close` to end)."""
        warnings.warn("EventMonitor.stop() only pauses and is deprecated: use pause(), "
                      "or close() to end polling and log off", DeprecationWarning, stacklevel=2)
        self.pause()

    def close(self) -> None:
        """End polling and log the session off (waits at most about a second for the
        WaitEvent in flight)."""
        # ipywidgets calls close() from __del__ too, also on a half-built monitor
        if getattr(self, "_closed", True):
            return
        self._closed = True
        if self._task is not None:
            self._task.cancel()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=_POLL_SECONDS + 10)
        self._idle.wait(timeout=_POLL_SECONDS + 10)
        try:
            if self._session.logged_in:
                self._session.logoff()
        except AMIError:
            pass  # the server may be gone; it expires the session after httptimeout
        finally:
            self._session.close()
            self.ready.clear()
            _OPEN.discard(self)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        if not self._closed:
            try:
                self.start()
            except AMIError as error:
                self._error(error)
        return super()._repr_mimebundle_(**kwargs)

    def _poll_once(self) -> tuple[list[Message], AMIError | None]:
        """One WaitEvent on the monitor's session (run in the poller's thread)."""
        self._idle.clear()
        try:
            if self._closed:
                return [], None
            return self._session.wait_event(_POLL_SECONDS), None
        except AMIError as error:
            return [], error
        finally:
            self._idle.set()

    def _poll_in_thread(self) -> None:
        while not self._closed:
            batch, error = self._poll_once()
            if self._closed:
                return
            self._take(batch, error)
            if error is not None:
                time.sleep(1)

    async def _poll_on_loop(self) -> None:
        # The WaitEvent blocks in a worker thread; what it returns is taken in here, on the
        # kernel's loop, where widget updates belong.
        while not self._closed:
            batch, error = await asyncio.to_thread(self._poll_once)
            if self._closed:
                return
            self._take(batch, error)
            if error is not None:
                await asyncio.sleep(1)

    def _take(self, batch: list[Message], error: AMIError | None) -> None:
        if error is not None:
            self._error(error)
        if not batch:
            return
        if self.paused:
            self._held.extend(batch)
        else:
            self.add(batch)

    def _toggled(self, change: dict[str, Any]) -> None:
        if not change["new"] and self._held:
            held = list(self._held)
            self._held.clear()
            self.add(held)

    def _error(self, error: AMIError) -> None:
        self.summary.value = f"<b style='color:#D55E00'>{html.escape(str(error))}</b>"

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
        """Call ``listener(batch)`` with each batch of events taken in."""
        self._listeners.append(listener)

    @property
    def frame(self) -> pd.DataFrame:
        """The events seen so far, as a typed DataFrame (empty before :meth:`start`)."""
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
        # the whole Timestamp (seconds.microseconds since 1970), as Asterisk sent it
        self.table.options = [
            f"{e.get('Timestamp', '')}  {e.name:<20} {e.get('Channel', '')}" for e in self._rows]
        top = ", ".join(f"{n} {c}" for n, c in self.counts.most_common(8))
        held = f"; paused, {len(self._held)} held" if self.paused else ""
        self.summary.value = f"{len(self.events)} events ({top}){held}"

    def _show(self, index: int | None) -> None:
        if index is not None and 0 <= index < len(self._rows):
            self.detail.value = self._rows[index]._repr_html_()
