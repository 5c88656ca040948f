"""Queues and their members as ``queues.conf`` describes them (apps/app_queue.c), without I/O.

What lives here is the queue's state and the pure rules over it: reading a ``[queue]`` section
(``reload_single_queue``, ``queue_set_param``, ``parse_empty_options``), the members'
iteration order (app_queue keeps them in an ao2 hash container of 37 buckets hashed by
``member_hash_fn``, so ``QueueStatus`` lists ``Local/211@…`` before ``Local/210@…``), who may
be rung (``can_ring_entry``), who counts as present for ``joinempty``/``leavewhenempty``
(``get_member_status``) and the strategies' metrics (``calc_metric``).

    >>> from amikit.sim.config import read_conf
    >>> section = read_conf("[support]\\nstrategy = ringall\\nmember => Local/210@sets/n,0,A")[0]
    >>> queue = Queue.from_section(section, "queues.conf", now=0)
    >>> [m.name for m in queue.ordered()], queue.strategy
    (['A'], 'ringall')
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field

from amikit.protocol import is_false, is_true
from amikit.sim.config import ConfigError, Section
from amikit.sim.replies import Pairs

__all__ = ["DEVICE_STATES", "STRATEGIES", "Caller", "Member", "Queue", "member_bucket"]

STRATEGIES = ("ringall", "leastrecent", "fewestcalls", "random", "rrmemory", "linear",
              "wrandom", "rrordered")
#: ``enum ast_device_state``: the numbers QueueMemberStatus reports as ``Status``.
DEVICE_STATES = {"UNKNOWN": 0, "NOT_INUSE": 1, "INUSE": 2, "BUSY": 3, "INVALID": 4,
                 "UNAVAILABLE": 5, "RINGING": 6, "RINGINUSE": 7, "ONHOLD": 8}
UNKNOWN, NOT_INUSE, INUSE, BUSY, INVALID, UNAVAILABLE, RINGING = 0, 1, 2, 3, 4, 5, 6
log = logging.getLogger("amikit.sim")
BUCKETS = 37  # ao2_container_alloc_hash(..., 37, member_hash_fn, ...) in init_queue
# parse_empty_options' condition names
EMPTY_CONDITIONS = ("penalty", "paused", "inuse", "ringing", "unavailable", "invalid",
                    "unknown", "wrapup")


def member_bucket(interface: str) -> int:
    """``member_hash_fn`` modulo the container's buckets: five characters from the ``/`` on.

        >>> member_bucket("Local/211@sets/n") < member_bucket("Local/210@sets/n")
        True
    """
    start = interface.find("/")
    name = interface[start:] if start >= 0 else interface
    value = 0
    for i, char in enumerate(name[:5]):
        code = ord(char) & 0x7F  # compress_char
        code = 0 if code < 32 else code - 64 if code > 96 else code - 32
        value += code << (i * 6)
    return abs(value % BUCKETS)


def parse_empty(text: str, *, joinempty: bool) -> frozenset[str]:
    """``parse_empty_options``: the member conditions that make a queue "empty"."""
    conditions: set[str] = set()
    for option in (o.strip().lower() for o in text.split(",")):
        if option in EMPTY_CONDITIONS:
            conditions.add(option)
        elif option == "loose":
            conditions = {"penalty", "invalid"}
        elif option == "strict":
            conditions = {"penalty", "invalid", "paused", "unavailable"}
        elif is_true(option) or is_false(option):
            # "joinempty = no" and "leavewhenempty = yes" are the strict-ish pair
            conditions = {"penalty", "invalid", "paused"} if is_true(option) != joinempty \
                else set()
        elif option:
            log.warning("queues.conf: unknown empty condition %r ignored", option)
    return frozenset(conditions)


@dataclass
class Member:
    """A queue member (``struct member``)."""

    interface: str
    name: str
    state_interface: str
    penalty: int = 0
    dynamic: bool = False
    paused: bool = False
    reason: str = ""
    ringinuse: bool = True
    wrapuptime: int = 0  # the member's own; 0: the queue's (get_wrapuptime)
    calls: int = 0
    lastcall: float = 0.0
    lastpause: float = 0.0
    logintime: float = field(default_factory=time.time)
    status: int = NOT_INUSE
    in_call: bool = False
    ringing: bool = False  # being rung for a caller now
    position: int = 0  # order of addition (``linear``, ``rrordered``)

    @property
    def device(self) -> str:
        """The device whose state is the member's: a Local interface without its options."""
        tech, _, rest = self.state_interface.partition("/")
        if tech.lower() == "local":
            return f"{tech}/{rest.split('/')[0]}"
        return self.state_interface

    def blob(self, queue: str) -> Pairs:
        """``queue_member_blob_create``: the body of QueueMemberStatus, Pause, Added, …"""
        return [("Queue", queue), ("MemberName", self.name), ("Interface", self.interface),
                ("StateInterface", self.state_interface),
                ("Membership", "dynamic" if self.dynamic else "static"),
                ("Penalty", str(self.penalty)), ("CallsTaken", str(self.calls)),
                ("LastCall", str(int(self.lastcall))), ("LastPause", str(int(self.lastpause))),
                ("LoginTime", str(int(self.logintime))), ("InCall", str(int(self.in_call))),
                ("Status", str(self.status)), ("Paused", str(int(self.paused))),
                ("PausedReason", self.reason), ("Ringinuse", str(int(self.ringinuse))),
                ("Wrapuptime", str(self.wrapuptime))]

    def status_item(self, queue: str) -> Pairs:
        """A QueueMember item of ``QueueStatus`` (``manager_queues_status``)."""
        blob = dict(self.blob(queue))
        return [("Queue", queue), ("Name", self.name), ("Location", self.interface),
                *[(k, blob[k]) for k in ("StateInterface", "Membership", "Penalty", "CallsTaken",
                                         "LastCall", "LastPause", "LoginTime", "InCall",
                                         "Status", "Paused", "PausedReason", "Wrapuptime")]]

    def available(self, conditions: frozenset[str], *, in_wrapup: bool = False) -> bool:
        """Whether this member keeps the queue from being "empty" (``get_member_status``:
        each device state excludes it only under its own condition)."""
        excluded = {INVALID: "invalid", UNAVAILABLE: "unavailable", INUSE: "inuse",
                    RINGING: "ringing", UNKNOWN: "unknown"}.get(self.status)
        if excluded in conditions:
            return False
        if self.paused and "paused" in conditions:
            return False
        return not (in_wrapup and "wrapup" in conditions)


@dataclass
class Caller:
    """A caller waiting in a queue (``struct queue_ent``)."""

    channel: str
    joined: float  # wall-clock time of joining
    original_position: int


@dataclass
class Queue:
    """A call queue (``struct call_queue``) and its statistics."""

    name: str
    strategy: str = "ringall"
    timeout: float = 15.0
    retry: float = 5.0
    wrapuptime: int = 0
    maxlen: int = 0
    servicelevel: int = 0
    weight: int = 0
    ringinuse: bool = True
    joinempty: frozenset[str] = frozenset()
    leavewhenempty: frozenset[str] = frozenset()
    musicclass: str = ""
    members: dict[str, Member] = field(default_factory=dict)  # by lower-case interface
    callers: list[Caller] = field(default_factory=list)
    completed: int = 0
    abandoned: int = 0
    completed_in_sl: int = 0
    abandoned_in_sl: int = 0
    holdtime: int = 0  # running averages in whole seconds, as app_queue keeps them
    talktime: int = 0
    rrpos: int = 0
    _added: int = 0

    @classmethod
    def from_section(cls, section: Section, path: str, *, now: float | None = None) -> Queue:
        """A queue from its ``queues.conf`` section (unknown keys are ignored, as Asterisk
        warns and goes on)."""
        queue = cls(section.name)
        # reload_single_queue: the queue's parameters first, its members in a second pass
        items = sorted(section.items, key=lambda item: item[0].lower() == "member")
        for key, value, line in items:
            key = key.lower()
            try:
                if key == "member":
                    interface, penalty, name, state, ringinuse = _member_args(value)
                    queue.add(interface, penalty, name, state, now=now, ringinuse=ringinuse)
                elif key == "strategy":
                    if value.lower() not in STRATEGIES:
                        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}")
                    queue.strategy = value.lower()
                elif key in ("timeout", "retry"):
                    setattr(queue, key, float(value))
                elif key in ("wrapuptime", "maxlen", "servicelevel", "weight"):
                    setattr(queue, key, int(value))
                elif key == "ringinuse":
                    queue.ringinuse = is_true(value)
                elif key in ("joinempty", "leavewhenempty"):
                    setattr(queue, key, parse_empty(value, joinempty=key == "joinempty"))
                elif key in ("musicclass", "music", "musiconhold"):
                    queue.musicclass = value
            except ValueError as exc:
                raise ConfigError(f"{path}:{line}: [{section.name}] {key}: {exc}") from None
        return queue

    def add(self, interface: str, penalty: int = 0, name: str = "", state_interface: str = "",
            *, dynamic: bool = False, paused: bool = False, reason: str = "",
            now: float | None = None, ringinuse: bool | None = None) -> Member:
        """A new member (``create_queue_member``); its name defaults to the interface, its
        ring-in-use to the queue's."""
        member = Member(interface, name or interface, state_interface or interface, penalty,
                        dynamic=dynamic, paused=paused, reason=reason,
                        ringinuse=self.ringinuse if ringinuse is None else ringinuse,
                        position=self._added)
        if now is not None:
            member.logintime = now
        self._added += 1
        self.members[interface.lower()] = member
        return member

    def ordered(self) -> list[Member]:
        """Members in the container's iteration order: by hash bucket, then as added — except
        for ``linear``, whose container has one bucket so that the order is the added one."""
        if self.strategy == "linear":
            return sorted(self.members.values(), key=lambda m: m.position)
        return sorted(self.members.values(),
                      key=lambda m: (member_bucket(m.interface), m.position))

    def wrapuptime_of(self, member: Member) -> int:
        """``get_wrapuptime``: the member's own, else the queue's."""
        return member.wrapuptime or self.wrapuptime

    def in_wrapup(self, member: Member, now: float, speed: float = 1.0) -> bool:
        """Whether ``member`` is still wrapping up its last call at wall-clock ``now`` (the
        wrap-up is in PBX seconds: ``speed`` times faster than real ones)."""
        wrapup = self.wrapuptime_of(member)
        return bool(wrapup and member.lastcall and (now - member.lastcall) * speed < wrapup)

    def position_of(self, channel: str) -> int:
        return next((i for i, c in enumerate(self.callers, 1) if c.channel == channel), 0)

    def empty(self, conditions: frozenset[str], now: float = 0.0, speed: float = 1.0) -> bool:
        """No member is present under ``conditions`` (``get_member_status`` < 0); a queue
        without members is empty unless ``conditions`` is empty (``joinempty = yes``)."""
        if not conditions:
            return False
        return not any(m.available(conditions, in_wrapup=self.in_wrapup(m, now, speed))
                       for m in self.members.values())

    def ringable(self, now: float, speed: float = 1.0) -> list[Member]:
        """Who may be rung now (``can_ring_entry``): not paused, out of wrap-up, and — unless
        ring-in-use — neither in use nor already ringing. In ``try_calling``'s order: it
        prepends each member to its list of calls, so the container's last comes first."""
        found = []
        for member in reversed(self.ordered()):
            if member.paused or member.status in (INVALID, UNAVAILABLE):
                continue
            if self.in_wrapup(member, now, speed):
                continue
            # member_status_available: not in use, or unknown
            if not member.ringinuse and (member.status not in (NOT_INUSE, UNKNOWN)
                                         or member.ringing or member.in_call):
                continue
            found.append(member)
        return found

    def pick(self, members: list[Member], rng: random.Random, now: float) -> list[Member]:
        """Whom one ring round calls (``calc_metric`` then ``ring_one``): every member of the
        lowest penalty for ``ringall``, else the one with the lowest metric."""
        if not members:
            return []
        if self.strategy == "ringall":
            low = min(m.penalty for m in members)
            return [m for m in members if m.penalty == low]
        order = sorted(self.members.values(), key=lambda m: m.position)

        def metric(member: Member) -> float:
            base = member.penalty * 1_000_000
            index = order.index(member)
            if self.strategy == "leastrecent":
                return base + (1_000_000 - (now - member.lastcall) if member.lastcall else 0)
            if self.strategy == "fewestcalls":
                return base + member.calls
            if self.strategy in ("random", "wrandom"):
                return base + rng.randrange(1000)
            if self.strategy in ("rrmemory", "rrordered"):  # the next one after the last rung
                return base + (index - self.rrpos) % len(order)
            return base + index  # linear
        best = min(members, key=metric)
        if self.strategy in ("rrmemory", "rrordered"):
            self.rrpos = order.index(best) + 1
        return [best]

    def connected(self, hold: int) -> bool:
        """``recalc_holdtime`` when a caller is connected after ``hold`` whole seconds:
        the average hold time; and whether the call is within the service level."""
        self.holdtime = ((self.holdtime << 2) - self.holdtime + hold) >> 2
        return hold <= self.servicelevel

    def completed_call(self, talk: int, in_sl: bool) -> None:
        """``update_queue`` when a connected call ends after ``talk`` whole seconds."""
        self.completed += 1
        self.completed_in_sl += in_sl
        if self.completed == 1:
            self.talktime = talk
        else:
            self.talktime = ((self.talktime << 2) - self.talktime + talk) >> 2

    def abandoned_call(self, hold: int) -> None:
        """``record_abandoned``: a caller left unanswered after ``hold`` whole seconds."""
        self.abandoned += 1
        self.abandoned_in_sl += hold <= self.servicelevel

    def params(self) -> Pairs:
        """The QueueParams item of ``QueueStatus``."""
        total = self.completed + self.abandoned
        # manager_queues_status: sl and sl2
        perf = 100.0 * self.completed_in_sl / self.completed if self.completed else 0.0
        perf2 = 100.0 * (self.completed_in_sl + self.abandoned_in_sl) / total if total else 0.0
        return [("Queue", self.name), ("Max", str(self.maxlen)), ("Strategy", self.strategy),
                ("Calls", str(len(self.callers))), ("Holdtime", str(self.holdtime)),
                ("TalkTime", str(self.talktime)), ("Completed", str(self.completed)),
                ("Abandoned", str(self.abandoned)), ("ServiceLevel", str(self.servicelevel)),
                ("ServicelevelPerf", f"{perf:.1f}"), ("ServicelevelPerf2", f"{perf2:.1f}"),
                ("Weight", str(self.weight))]

    def reset(self) -> None:
        """``clear_queue`` (QueueReset): statistics back to zero, members' counts too."""
        self.completed = self.abandoned = self.completed_in_sl = self.abandoned_in_sl = 0
        self.holdtime = self.talktime = 0
        for member in self.members.values():
            member.calls, member.lastcall = 0, 0.0


def _member_args(value: str) -> tuple[str, int, str, str, bool | None]:
    """``member => interface[,penalty[,membername[,state_interface[,ringinuse]]]]``."""
    parts = [p.strip() for p in value.split(",")] + [""] * 4
    if not parts[0] or "/" not in parts[0]:
        raise ValueError(f"a member needs an interface such as Local/210@sets/n, not {value!r}")
    penalty = int(parts[1]) if parts[1] else 0
    ringinuse = None if not parts[4] else is_true(parts[4])
    return parts[0], penalty, parts[2], parts[3], ringinuse
