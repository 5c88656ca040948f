"""Events of the simulated Asterisk and the bus that hands a copy to every session.

An event is built once (``Event``, ``Privilege: <class>,all``, ``Timestamp`` first, as
``__manager_event_sessions_va`` writes them) and rendered once per encoding, however many
sessions read it. Each session has a bounded queue: a session that stops polling loses its
oldest events (counted in ``dropped``) instead of growing without bound, much as Asterisk
expires events nobody read.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from amikit.sim import wire
from amikit.sim.perms import privilege

__all__ = ["Event", "EventBus", "EventQueue"]

log = logging.getLogger("amikit.sim")

Pairs = list[tuple[str, str]]


@dataclass
class Event:
    """One AMI event: its class bits and its headers in wire order."""

    name: str
    klass: int
    headers: Pairs
    _rendered: dict[str, bytes] = field(default_factory=dict, repr=False)

    def rendered(self, encoding: str) -> bytes:
        """This event's bytes in ``rawman`` or ``mxml``, made once."""
        out = self._rendered.get(encoding)
        if out is None:
            out = self._rendered[encoding] = (
                wire.rawman([self.headers]) if encoding == "rawman"
                else wire.mxml([self.headers])[len(b"<ajax-response>\n"):-len(b"</ajax-response>\n")]
            )
        return out


class EventQueue:
    """A session's queue of events: bounded, with a wake-up for the waiting WaitEvent."""

    def __init__(self, limit: int, wake: Callable[[], None], owner: str = "a session") -> None:
        self.events: deque[Event] = deque(maxlen=limit)
        self.dropped = 0
        self.read_at = time.monotonic()  # when the session last took its events
        self.owner = owner
        self._wake = wake

    def put(self, event: Event) -> None:
        if len(self.events) == self.events.maxlen:
            if self.dropped == 0:
                log.warning("%s has not polled for %d events; dropping its oldest ones "
                            "(count in dropped)", self.owner, self.events.maxlen)
            self.dropped += 1
        self.events.append(event)
        self._wake()

    def drain(self) -> list[Event]:
        self.read_at = time.monotonic()
        out = list(self.events)
        self.events.clear()
        return out


class EventBus:
    """Builds events and gives each subscribed queue its copy."""

    def __init__(self, *, timestamps: bool = True, clock: Callable[[], float] = time.time) -> None:
        self.timestamps = timestamps
        self.clock = clock
        self.queues: set[EventQueue] = set()
        self.published = 0
        self.listeners: list[Callable[[Event], None]] = []

    def publish(self, name: str, klass: int, body: Pairs, *, at: float | None = None) -> Event:
        """Send an event to every session: ``Event``, ``Privilege``, ``Timestamp``, body.

        ``at``: when it happened (the bus's clock), for an event delivered later than that."""
        headers = [("Event", name), ("Privilege", privilege(klass))]
        if self.timestamps:
            headers.append(("Timestamp", f"{self.clock() if at is None else at:.6f}"))
        headers.extend(body)
        return self.deliver(Event(name, klass, headers))

    def deliver(self, event: Event) -> Event:
        """Hand an event already built (a replayed one keeps its recorded headers) to every
        session and listener."""
        self.published += 1
        for queue in self.queues:
            queue.put(event)
        for listener in self.listeners:
            listener(event)
        return event
