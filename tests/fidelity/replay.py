"""Replaying one run of a scenario against a fresh simulator and recording its trace.

This module owns the conversation with the simulator, done the way the recording client
talked to the real Asterisk: log in over HTTP ``/rawman``, one thread polling ``WaitEvent``
(Timeout 1) on its own connection, the actions sent on another connection (same cookie)
as their WHEN comes true, every message of every body appended to the trace in the order
received. Only two things are kept out of the trace, both counted in ``Replay.filtered``:
the WaitEvent exchange itself (its Response and its WaitEventComplete), and the security
events caused by the harness's own login (:func:`is_login_security_event`; the recorded
runs left the Login exchange out). The Login and Logoff replies are kept in
``Replay.session``, apart from the trace, as the recordings left them out too.

Actions are sent with fresh ids of the recorded shape, and the channel names in
``Channel``/``ExtraChannel`` mapped by role (:func:`map_channels`).
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from amikit import Message, parse_rawman
from amikit.sim import Simulator
from tests.fidelity.normalise import Ordinals, normalise_run
from tests.fidelity.scenario import Action, Scenario, When

__all__ = ["DEADLINE", "SPEED", "USER", "Replay", "fresh_prefix", "is_login_security_event",
           "map_channels", "replay"]

SPEED = 4.0  # the PBX runs this much faster than real time (delays divided too); races between
# channel timers (half a second apart in the lab dialplan) must stay far above a loaded machine's jitter
DEADLINE = 60.0  # seconds of real time before a replay gives up and says it timed out
USER, SECRET = "hello", "world"

_DT = re.compile(r"(?<![0-9A-Za-z])dt[0-9a-f]{10}(?![0-9A-Za-z])")
_CHANNEL = re.compile(r"(?P<base>[A-Za-z][A-Za-z0-9_]*/[^\s/,;|\"'()]*?)(?P<dash>\\?-)"
                      r"(?P<hex>[0-9a-fA-F]{8})(?![0-9A-Za-z])")
_CHANNEL_HEADERS = frozenset({"channel", "extrachannel"})
_TRUE = frozenset({"yes", "true", "y", "t", "1", "on"})  # Asterisk's ast_true


def fresh_prefix() -> str:
    """A new client id prefix of the recorded shape: ``dt`` + 10 hex digits."""
    return "dt" + secrets.token_hex(5)


def is_login_security_event(msg: Message, user: str = USER) -> bool:
    """The filter ``login_security``: a security-class event about our own AMI login.

    The harness logs in to every simulator it starts; a real recording kept its Login
    exchange (and so these events, e.g. SuccessfulAuth) out of the run.
    """
    privilege = (msg.get("Privilege") or "").lower()
    return (msg.is_event and privilege.split(",")[0] == "security"
            and msg.get("Service", "AMI") == "AMI" and msg.get("AccountID", user) == user)


def map_channels(value: str, real: Ordinals, sim_so_far: Sequence[Message],
                 notes: list[str] | None = None) -> str:
    """Replace each recorded channel name in ``value`` by the simulator's one with its role.

    The role of a name is ``Tech/resource-#k`` in the real run being replayed (``real``, the
    numbering of the whole run); the simulator's channel with the same role is looked up in
    what it has sent so far. A regex such as ``/^Local/600@sets\\-0000015d/`` keeps its form;
    only the hex part changes. When the simulator has no channel of that role, the one with
    the same Tech/resource and the same rank among those is taken; failing that the name is
    left as recorded (and a note says so: the action will likely fail on the simulator).
    """
    sim = normalise_run(sim_so_far, ()).ordinals
    by_role = {sim.role_of(h): h for h in sim.channels}

    def replace(match: re.Match[str]) -> str:
        hexpart = match["hex"].lower()
        role = real.role_of(hexpart)
        if role is None:
            return match[0]  # not a channel of the recorded run: nothing to map
        target = by_role.get(role)
        if target is None:
            base = real.bases[hexpart]
            same_base_real = [h for h in real.channels if real.bases[h] == base]
            same_base_sim = [h for h in sim.channels if sim.bases[h] == base]
            rank = same_base_real.index(hexpart)
            if rank < len(same_base_sim):
                target = same_base_sim[rank]
                if notes is not None:
                    notes.append(f"{match[0]} ({role}) mapped by resource to {base}-{target}")
        if target is None:
            if notes is not None:
                notes.append(f"no simulator channel with the role of {match[0]} ({role}); sent as recorded")
            return match[0]
        return f"{match['base']}{match['dash']}{target}"

    return _CHANNEL.sub(replace, value)


@dataclass
class Replay:
    """What a replay recorded: the simulator's trace and the actions as actually sent."""

    scenario: str
    run: int
    speed: float
    messages: list[Message] = field(default_factory=list)
    sent: list[Action] = field(default_factory=list)
    filtered: dict[str, int] = field(default_factory=lambda: {"waitevent_exchange": 0,
                                                              "login_security": 0})
    session: list[Message] = field(default_factory=list)  # Login and Logoff replies
    timed_out: bool = False
    error: str = ""  # why the replay could not happen at all (the simulator did not start)
    notes: list[str] = field(default_factory=list)
    elapsed: float = 0.0


class _Conversation:
    """One replay in progress: the shared trace and the two threads' views of it."""

    def __init__(self, url: str, scenario: Scenario, run: int, speed: float, deadline: float) -> None:
        self.rawman = url + "/rawman"
        self.actions = scenario.actions[run]
        self.real = normalise_run(scenario.runs[run], self.actions).ordinals
        self.speed = speed
        self.deadline = time.monotonic() + deadline
        self.result = Replay(scenario.name, run, speed)
        self.times: list[float] = []  # arrival time of each trace message
        self.reply_times: list[float] = []  # arrival time of each sent action's reply
        # When the latest WaitEvent that has come back was sent: the events a reply's action
        # raised are surely read only by a poll sent after that reply arrived.
        self.polled_from = 0.0
        self.poll_ended = False  # the WaitEvent thread gave up (its note says why)
        self.replies: list[Message | None] = []  # first message of each sent action's reply
        self.changed = threading.Condition()
        self.stop = threading.Event()
        self.polling = threading.Event()  # set once the WaitEvent thread is about to poll
        self.cookie: dict[str, str] = {}
        self.prefix = fresh_prefix()

    # -- the trace ---------------------------------------------------------------------
    def append(self, messages: Sequence[Message], at: int | None = None) -> None:
        """Add messages to the trace, at its end or at position ``at``."""
        with self.changed:
            now = time.monotonic()
            where = len(self.result.messages) if at is None else at
            self.result.messages[where:where] = messages
            self.times[where:where] = [now] * len(messages)
            self.changed.notify_all()

    def wait_until(self, condition: Callable[[], float | None]) -> float | None:
        """Block until ``condition`` gives the time it came true; None at the deadline."""
        with self.changed:
            while True:
                when = condition()
                if when is not None:
                    return when
                remaining = self.deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self.changed.wait(remaining)

    # -- conditions (called with the lock held) ------------------------------------------
    def _event_time(self, when: When) -> float | None:
        # The recording client acted on the first such event of its run; no scenario waits
        # twice for the same event, so the first one in the trace is the one meant.
        for msg, t in zip(self.result.messages, self.times, strict=True):
            if msg.get("Event") == when.event and (not when.header or msg.get(when.header) == when.value):
                return t
        return None

    def _reply_time(self, when: When) -> float | None:
        for action, t in zip(reversed(self.result.sent), reversed(self.reply_times), strict=True):
            if action.name == when.action:
                return t
        # parse_actions checked that such an action comes before: it has been sent
        raise AssertionError(f"no {when.action} sent before an action waiting for its reply")

    def settled(self) -> float | None:
        """Now, if every channel seen has hung up and every queued Originate has answered,
        as seen by a poll sent after the latest reply came back."""
        accepted = 0
        for action, reply in zip(self.result.sent, self.replies, strict=True):
            if (action.name.lower() == "originate" and (action.get("Async") or "").lower() in _TRUE
                    and reply is not None and reply.get("Response") == "Success"):
                accepted += 1
        created: set[str] = set()
        hung: set[str] = set()
        answered = 0
        for msg in self.result.messages:
            event = msg.get("Event")
            if event == "OriginateResponse":
                answered += 1
            elif event in ("Newchannel", "Hangup"):
                ident = msg.get("Uniqueid") or msg.get("Channel") or ""
                (created if event == "Newchannel" else hung).add(ident)
        read = self.poll_ended or self.polled_from >= max(self.reply_times, default=0.0)
        return time.monotonic() if read and answered >= accepted and created <= hung else None

    def condition(self, when: When) -> Callable[[], float | None]:
        if when.kind == "start":
            return time.monotonic
        if when.kind == "reply":
            return lambda: self._reply_time(when)
        if when.kind == "event":
            return lambda: self._event_time(when)
        return self.settled

    # -- the two threads -----------------------------------------------------------------
    def poll(self) -> None:
        """The WaitEvent thread: poll until told to stop, never dropping a message read.

        The last request is one that began after the stop: whatever the simulator queued
        before the end of the run is then read, however late this thread got going.
        """
        try:
            self._poll()
        finally:
            self.polling.set()  # never leave the action thread waiting for a dead poller
            with self.changed:
                self.poll_ended = True
                self.changed.notify_all()

    def _poll(self) -> None:
        filtered = self.result.filtered
        with httpx.Client(timeout=10.0) as client:
            self.polling.set()
            while True:
                last = self.stop.is_set()
                sent_at = time.monotonic()
                try:
                    reply = client.get(self.rawman, params={"Action": "WaitEvent", "Timeout": "1"},
                                       headers=self.cookie)
                except httpx.HTTPError as exc:
                    self.note(f"WaitEvent failed: {exc!r}; polling stopped")
                    return
                messages = parse_rawman(reply.content)
                keep, failed = [], reply.status_code != 200
                for i, msg in enumerate(messages):
                    if i == 0 and not msg.is_event:  # the WaitEvent's own Response
                        filtered["waitevent_exchange"] += 1
                        failed = failed or msg.get("Response") != "Success"
                    elif msg.get("Event") == "WaitEventComplete":
                        filtered["waitevent_exchange"] += 1
                    elif is_login_security_event(msg):
                        filtered["login_security"] += 1
                    else:
                        keep.append(msg)
                self.append(keep)
                with self.changed:
                    self.polled_from = sent_at
                    self.changed.notify_all()
                if failed:  # an error reply would come back at once, forever
                    self.note(f"WaitEvent answered HTTP {reply.status_code}: {reply.text[:120]!r}; "
                              "polling stopped")
                    return
                if last:
                    return

    def note(self, text: str) -> None:
        with self.changed:
            self.result.notes.append(text)

    def prepare(self, action: Action) -> Action:
        """The action as it is sent: fresh ids, channel names mapped to the simulator's."""
        with self.changed:
            so_far = list(self.result.messages)
        notes: list[str] = []
        headers = []
        for name, value in action.headers:
            value = _DT.sub(self.prefix, value)
            if name.lower() in _CHANNEL_HEADERS:
                value = map_channels(value, self.real, so_far, notes)
            headers.append((name, value))
        for text in notes:
            self.note(f"{action.name}: {text}")
        return Action(action.when, tuple(headers))

    def send(self, client: httpx.Client, action: Action) -> None:
        sent = self.prepare(action)
        with self.changed:
            # Asterisk writes an action's reply before its manager events reach any
            # WaitEvent (they go through stasis first: all five real runs of every scenario
            # have the reply first), while the simulator queues them at once and the two
            # connections race. The reply goes before the events read while it was on its way.
            position = len(self.result.messages)
        try:
            reply = client.get(self.rawman, params=list(sent.headers), headers=self.cookie)
        except httpx.HTTPError as exc:
            self.note(f"{action.name} failed: {exc!r}")
            messages: list[Message] = []
        else:
            messages = parse_rawman(reply.content)
            if reply.status_code != 200:
                self.note(f"{action.name} answered HTTP {reply.status_code}")
        with self.changed:
            self.result.sent.append(sent)
            self.replies.append(messages[0] if messages else None)
            self.reply_times.append(time.monotonic())
        self.append(messages, at=position)

    def pause_until(self, moment: float) -> bool:
        """Sleep until ``moment`` (monotonic); False when the deadline comes first."""
        if moment > self.deadline:
            time.sleep(max(0.0, self.deadline - time.monotonic()))
            return False
        time.sleep(max(0.0, moment - time.monotonic()))
        return True

    def run(self) -> Replay:
        started = time.monotonic()
        result = self.result
        with httpx.Client(timeout=10.0) as client:
            try:
                login = client.get(self.rawman, params={"action": "Login", "username": USER,
                                                        "secret": SECRET})
            except httpx.HTTPError as exc:
                result.error = f"login failed: {exc!r}"
                return result
            result.session += parse_rawman(login.content)
            # The cookie exactly as Set-Cookie gave it, quotes included, like the recorder
            cookie = login.headers.get("set-cookie", "").split(";")[0]
            if login.status_code != 200 or not cookie.startswith("mansession_id="):
                result.error = f"login failed: HTTP {login.status_code} {login.text[:120]!r}"
                return result
            self.cookie = {"Cookie": cookie}
            poller = threading.Thread(target=self.poll, name=f"fidelity-poll-{result.scenario}",
                                      daemon=True)
            poller.start()
            # Like the recorder, be polling before the first action, so that no event of
            # the run waits for a poller still being set up (which takes long on a busy machine)
            self.polling.wait(timeout=10.0)
            try:
                for action in self.actions:
                    came_true = self.wait_until(self.condition(action.when))
                    if came_true is None or not self.pause_until(came_true + action.when.delay / self.speed):
                        result.timed_out = True
                        break
                    self.send(client, action)
                if not result.timed_out:
                    came_true = self.wait_until(self.settled)
                    # one more second of polling after the last hang-up, as the recorder did
                    if came_true is None or not self.pause_until(came_true + 1.0 / self.speed):
                        result.timed_out = True
            finally:
                self.stop.set()
                poller.join(timeout=15.0)
            if result.timed_out:
                result.notes.append(f"timed out after {time.monotonic() - started:.1f} s")
            try:
                # Connection: close lets the server end this connection itself, rather than
                # have the simulator's shutdown cancel a keep-alive read in flight
                logoff = client.get(self.rawman, params={"Action": "Logoff"},
                                    headers={**self.cookie, "Connection": "close"})
                result.session += parse_rawman(logoff.content)
            except httpx.HTTPError as exc:
                result.notes.append(f"Logoff failed: {exc!r}")
        result.elapsed = time.monotonic() - started
        return result


def replay(scenario: Scenario, run: int = 1, *, speed: float = SPEED, deadline: float = DEADLINE) -> Replay:
    """Replay run ``run``'s actions against a fresh simulator (port 0) and return its trace."""
    if run not in scenario.actions:
        raise ValueError(f"scenario {scenario.name} has no run {run}")
    sim = Simulator(port=0, speed=speed)
    try:
        sim.start()
    except Exception as exc:
        # A simulator that cannot start is a finding about the simulator (it may be in the
        # middle of a rewrite), not a reason to lose the other scenarios' report: the replay
        # comes back empty, with the reason, and scores as a mismatch.
        sim.stop()
        return Replay(scenario.name, run, speed,
                      error=f"the simulator did not start: {type(exc).__name__}: {exc}")
    try:
        return _Conversation(sim.url, scenario, run, speed, deadline).run()
    finally:
        sim.stop()
