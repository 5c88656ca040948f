"""Traffic for a lesson: callers who arrive at random, wait in a queue, and may give up.

:meth:`amikit.Simulator.traffic` is the entry point; this module is the work behind it.

- **Arrivals** are a Poisson process: the gaps between callers are exponential with mean
  ``60 / calls_per_minute`` seconds, drawn from a seeded RNG (:func:`arrivals`), so a seed
  gives the same callers at the same moments every time.
- **Each caller** is a call to the queue's extension (``Local/400@sets`` in the lab: the
  extension that runs ``Queue(support…)``, see :func:`find_target`), placed through the dial
  API as the Originate action places one. The caller's own half runs ``Echo``: it stays on
  the line until the other side ends the call, or until it gives up.
- **Patience**: a caller still waiting unanswered in a queue when its patience runs out
  hangs up. It is hung up as the AMI Hangup action hangs up the queued channel, which is
  how the real ``20_behaviour/queue_abandon`` captures made a caller abandon, so the queue
  reports ``QueueCallerAbandon`` and ``QueueCallerLeave``. Patience is counted from the
  caller's arrival, and is either ``"fixed"`` (every caller waits ``patience`` seconds) or
  ``"exponential"`` (drawn with that mean: most callers give up early, a few wait long).
  A caller whose patience ends before its extension has put it in the queue (the lab's
  400 answers first, half a second) gives up as soon as it joins; one an agent answered
  stays to the end.
- **Waiting** costs nothing while a call goes on: a caller's task sleeps until its
  patience ends, its channel hangs up or it joins a queue (the ``Hangup`` and
  ``QueueCallerJoin`` events wake it), never polling the PBX.
- **Agents** answer as the dialplan and ``queues.conf`` make them; nothing here plays them.

Every time is PBX time: ``Simulator(speed=60)`` plays an hour of traffic in a minute.

    >>> [round(a.at, 1) for a in arrivals(6, minutes=1, seed=1)]
    [1.4, 20.2, 34.7, 37.6, 44.5, 50.4]
    >>> [a.patience for a in arrivals(6, minutes=1, patience=30, seed=1,
    ...                               patience_distribution="fixed")][:2]
    [30.0, 30.0]
    >>> parse_rate("support:6/min"), parse_rate("support:90/h")
    (('support', 6.0), ('support', 1.5))
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import numbers
import random
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from amikit.errors import AMIError
from amikit.sim.events import Event
from amikit.sim.pbx_actions import hangup_channel
from amikit.sim.waiting import wait_at_most

if TYPE_CHECKING:
    from amikit.sim.channel import Channel
    from amikit.sim.dialplan import Dialplan
    from amikit.sim.pbx import PBX

__all__ = ["Arrival", "Traffic", "TrafficError", "arrivals", "find_target", "parse_rate"]

PatienceDistribution = Literal["exponential", "fixed"]
#: Seconds a caller's extension may take to answer: the Originate action's default timeout.
RING_TIMEOUT = 30.0
#: The events that wake a caller's task: its call ended, or it joined a queue.
WAKING_EVENTS = frozenset({"Hangup", "QueueCallerJoin"})
#: Callers are numbered from here (CallerIDNum 5550001, 5550002 …), a made-up range.
FIRST_NUMBER = 5550000


class TrafficError(AMIError, ValueError):
    """Traffic amikit cannot make: a rate, patience or distribution out of range."""


@dataclass(frozen=True)
class Arrival:
    """One caller: when it arrives (PBX seconds after the traffic starts) and how long it
    waits unanswered in a queue before hanging up (None: for as long as it takes)."""

    at: float
    patience: float | None


def arrivals(calls_per_minute: float, minutes: float | None = None, *,
             patience: float | None = None,
             patience_distribution: PatienceDistribution = "exponential",
             seed: int | None = None) -> Iterator[Arrival]:
    """The callers of a Poisson process of ``calls_per_minute``, over ``minutes`` (None: for
    ever), with their patience. A pure function of its arguments once ``seed`` is given.

    Arrival times and patience come from two generators, so changing the patience leaves
    the arrival times of a seed as they were.

        >>> len(list(arrivals(60, minutes=10, seed=7)))  # about 600
        626
        >>> next(arrivals(6, seed=7)) == next(arrivals(6, seed=7))
        True
        >>> arrivals(0)
        Traceback (most recent call last):
        ...
        amikit.sim.traffic.TrafficError: calls_per_minute must be a positive number of calls a minute, not 0

    Bad arguments raise :class:`TrafficError` (an :class:`~amikit.errors.AMIError` and a
    ValueError).
    """
    if not _number(calls_per_minute) or not calls_per_minute > 0:
        raise TrafficError("calls_per_minute must be a positive number of calls a minute, "
                           f"not {calls_per_minute!r}")
    if patience is not None and (not _number(patience) or not patience >= 0):
        raise TrafficError("patience must be a number of seconds, at least 0 (or None: never "
                           f"give up), not {patience!r}")
    if patience_distribution not in ("exponential", "fixed"):
        raise TrafficError("patience_distribution must be 'exponential' or 'fixed', "
                           f"not {patience_distribution!r}")
    if minutes is not None and (not _number(minutes) or not minutes > 0):
        raise TrafficError("minutes must be a positive number of minutes (or None: until "
                           f"stopped), not {minutes!r}")
    return _poisson(calls_per_minute, minutes, patience, patience_distribution, seed)


def _number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _poisson(calls_per_minute: float, minutes: float | None, patience: float | None,
             patience_distribution: PatienceDistribution, seed: int | None
             ) -> Iterator[Arrival]:
    # a generator apart from arrivals(), so that bad arguments are refused when it is called
    gaps, patiences = _generators(seed)
    rate = calls_per_minute / 60.0
    end = None if minutes is None else minutes * 60.0
    at = 0.0
    while True:
        at += gaps.expovariate(rate)
        if end is not None and at > end:
            return
        if patience is None:
            waits = None
        elif patience_distribution == "fixed" or patience == 0:
            waits = float(patience)
        else:
            waits = patiences.expovariate(1.0 / patience)
        yield Arrival(at, waits)


def _generators(seed: int | None) -> tuple[random.Random, random.Random]:
    if seed is None:
        return random.Random(), random.Random()
    # a string seed is hashed the same way on every run and platform (random.seed, version 2)
    return random.Random(seed), random.Random(f"patience {seed}")


def find_target(dialplan: Dialplan, queue: str | None = None, *, exten: str | None = None,
                context: str | None = None) -> tuple[str, str]:
    """``(context, exten)`` where callers go: ``exten`` (in ``context``, or the first context
    that has it), else the extension that runs ``Queue(<queue>…)``.

        >>> from amikit.sim.config import load_config
        >>> from amikit.sim.dialplan import Dialplan
        >>> find_target(Dialplan.parse(load_config().extensions), "support")
        ('sets', '400')
    """
    contexts = [c for c in dialplan.contexts.values() if context in (None, c.name)]
    if exten is not None:
        found = next((c.name for c in contexts if exten in c.extensions), None)
        if found is None:
            raise AMIError(f"there is no extension {exten}"
                           + (f" in context {context}" if context else " in the dialplan"))
        return found, exten
    if queue is None:
        raise AMIError("name a queue, or an extension (exten=) for the callers to call")
    queued: dict[str, tuple[str, str]] = {}  # queue name -> the first place that runs it
    for ctx in contexts:
        for name, priorities in ctx.extensions.items():
            if name.startswith("_"):  # a pattern: no single number to call
                continue
            for step in priorities.values():
                if step.app.lower() == "queue":
                    queued.setdefault(step.data.split(",")[0].strip(), (ctx.name, name))
    if queue in queued:
        return queued[queue]
    known = ", ".join(f"{q} (extension {e}@{c})" for q, (c, e) in queued.items()) or "none"
    raise AMIError(f"no extension runs Queue({queue}) in the dialplan"
                   + (f"'s context {context}" if context else "")
                   + f"; queues the dialplan calls: {known}")


def parse_rate(text: str) -> tuple[str, float]:
    """``QUEUE:N/min`` or ``QUEUE:N/h`` (the command line's ``--traffic``) as
    ``(queue, calls_per_minute)``."""
    match = re.fullmatch(r"\s*([^:\s]+)\s*:\s*([0-9]*\.?[0-9]+)\s*/\s*(min|m|h|hour)\s*", text)
    if match is None:
        raise AMIError(f"traffic is QUEUE:N/min or QUEUE:N/h (e.g. support:6/min), not {text!r}")
    rate = float(match.group(2))
    if rate <= 0:
        raise AMIError(f"the traffic's rate must be positive, not {text!r}")
    return match.group(1), rate / 60.0 if match.group(3).startswith("h") else rate


class Traffic:
    """Callers arriving on the simulator's event loop; what :meth:`Simulator.traffic
    <amikit.Simulator.traffic>` returns, at once (nothing blocks the notebook).

    ``placed`` callers have arrived so far (``failed`` of them could not be placed),
    ``abandoned`` hung up out of patience, ``ended`` calls are over. :meth:`wait` waits
    until the arrivals are over and every call has ended; :meth:`stop` ends the arrivals
    (calls already placed go on to their end).
    """

    def __init__(self, pbx: PBX, loop: asyncio.AbstractEventLoop, plan: Iterable[Arrival], *,
                 channel: str) -> None:
        self.pbx = pbx
        #: the channel each caller is placed on, e.g. ``Local/400@sets``
        self.channel = channel
        self.placed = 0
        self.failed = 0
        self.abandoned = 0
        self.ended = 0
        self._loop = loop
        self._plan = iter(plan)
        self._stopping = False
        self._wake: asyncio.Event | None = None
        #: a live caller's wake-up, under the names of both halves of its call
        self._callers: dict[str, asyncio.Event] = {}
        self._finished = threading.Event()
        self._error: BaseException | None = None
        self._numbers = itertools.count(1)
        loop.call_soon_threadsafe(self._begin)

    def __repr__(self) -> str:
        state = "done" if self.done else "stopping" if self._stopping else "running"
        return (f"<Traffic to {self.channel}: {self.placed} placed, {self.abandoned} abandoned, "
                f"{self.ended} ended, {state}>")

    @property
    def done(self) -> bool:
        """True once the arrivals are over and every call placed has ended (or the
        simulator stopped, ending them all)."""
        return self._finished.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until :attr:`done` (or ``timeout`` seconds, real time); returns ``done``.
        In a notebook, ``await asyncio.to_thread(traffic.wait)`` keeps widgets polling."""
        finished = self._finished.wait(timeout)
        if self._error is not None:
            raise AMIError(f"the traffic failed: {self._error!r}") from self._error
        return finished

    def stop(self) -> None:
        """No caller arrives any more; those already placed go on to their end."""
        self._stopping = True
        with contextlib.suppress(RuntimeError):  # the simulator is gone: nothing arrives
            self._loop.call_soon_threadsafe(self._wake_up)

    # -- on the simulator's loop -------------------------------------------------------
    def _begin(self) -> None:
        self.pbx.spawn(self._run())

    def _wake_up(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _heard(self, event: Event) -> None:
        """A bus listener: wake the caller whose channel hung up or joined a queue."""
        if event.name in WAKING_EVENTS:
            name = next((value for header, value in event.headers if header == "Channel"), "")
            wake = self._callers.get(name)
            if wake is not None:
                wake.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        start = loop.time()
        calls: set[asyncio.Task[object]] = set()
        self.pbx.bus.listeners.append(self._heard)
        try:
            for arrival in self._plan:
                delay = start + arrival.at / self.pbx.speed - loop.time()
                if not self._stopping and delay > 0:
                    await wait_at_most(self._wake, delay)
                if self._stopping:
                    break
                task = self.pbx.spawn(self._call(next(self._numbers), arrival))
                calls.add(task)
                task.add_done_callback(calls.discard)
            while calls:
                await asyncio.wait(list(calls))
        except Exception as exc:  # told by wait(); the PBX logs it as a failed task too
            self._error = exc
            raise
        finally:
            with contextlib.suppress(ValueError):
                self.pbx.bus.listeners.remove(self._heard)
            self._finished.set()

    async def _call(self, number: int, arrival: Arrival) -> None:
        pbx = self.pbx
        self.placed += 1
        arrived = asyncio.get_running_loop().time()
        try:
            status, chan = await pbx.dial.originate(
                self.channel, context=None, exten=None, priority=1, app="Echo", data="",
                timeout=RING_TIMEOUT, callerid=(f"Caller {number}", str(FIRST_NUMBER + number)),
                account="", variables=[], ids=(None, None))
            if status != "ANSWER" or chan is None:
                self.failed += 1
                return
            names = [chan.name] + ([chan.peer.name] if chan.peer is not None else [])
            wake = asyncio.Event()
            for name in names:
                self._callers[name] = wake
            try:
                give_up = None if arrival.patience is None else (
                    arrived + arrival.patience / pbx.speed)
                await self._stay(chan, give_up, wake)
            finally:
                for name in names:
                    self._callers.pop(name, None)
        finally:
            self.ended += 1

    async def _stay(self, chan: Channel, give_up: float | None, wake: asyncio.Event) -> None:
        """Until the call ends (``wake`` is set at its hangup and when it joins a queue); a
        caller whose patience has ended (at the loop's time ``give_up``) hangs up once it
        waits unanswered in a queue."""
        loop = asyncio.get_running_loop()
        impatient = False
        while not chan.dead:
            if give_up is not None and loop.time() >= give_up:
                give_up, impatient = None, True
            if impatient:
                if _queued(chan).bridge is not None:  # an agent answered: it stays to the end
                    impatient = False
                elif self.pbx.queues.is_waiting(chan):
                    hangup_channel(self.pbx, _queued(chan))
                    self.abandoned += 1
                    impatient = False
                # else not in the queue yet (its extension still answering): woken as it joins
            wake.clear()
            timeout = None if give_up is None else give_up - loop.time()
            await wait_at_most(wake, timeout)


def _queued(chan: Channel) -> Channel:
    """The half of a caller's call that waits in the queue: a Local ``;2`` runs the
    dialplan (and the queue), its ``;1`` is the caller's side."""
    return chan.peer if chan.peer is not None and not chan.peer.dead else chan
