"""Reading a recorded scenario: its five real runs, its ``actions.txt`` and the WHEN grammar.

This module owns the file formats of ``tests/captures/20_behaviour`` (see its README) and
nothing else: it parses, it does not normalise or score.

An ``actions.txt`` line is ``WHEN | Action: X | Header: value | ...``, under a
``# runN.rawman`` line. WHEN is a small grammar::

    when  := "at start" | [NUMBER " s "] "after " cond
    cond  := "the " ACTION " reply" | "every channel hung up" | EVENT [" with " HEADER ": " VALUE]

    >>> parse_when("1.0 s after the Originate reply")
    When(kind='reply', delay=1.0, action='Originate', event='', header='', value='')
    >>> parse_when("after BridgeEnter with BridgeNumChannels: 2").header
    'BridgeNumChannels'
"""

from __future__ import annotations

import functools
import pathlib
import re
from dataclasses import dataclass
from typing import Literal, overload

from amikit import Message, parse_rawman

__all__ = ["ALL_SCENARIOS", "BEHAVIOUR", "SCENARIOS", "Action", "Scenario", "ScenarioError",
           "When", "WhenError", "load_scenario", "parse_actions", "parse_when"]

BEHAVIOUR = pathlib.Path(__file__).resolve().parents[1] / "captures" / "20_behaviour"

#: The scenarios in scope for pytest and the default report, in the README's order.
SCENARIOS = ("orig_exten", "orig_app", "busy", "congestion", "noanswer", "badctx_async",
             "badctx_sync", "vars_ids", "dial_cause21", "hangup_cause_pair", "redirect",
             "dual_redirect", "hangup_regex", "userevent", "setvar_getvar", "status_vars",
             "queue_answered", "queue_abandon", "queue_actions", "conference")
#: Every recorded scenario (those not in SCENARIOS are handled when asked by name).
ALL_SCENARIOS = (*SCENARIOS, *(name for name in ("queue_answered", "queue_abandon", "queue_actions",
                                                  "conference") if name not in SCENARIOS))


class ScenarioError(ValueError):
    """A scenario's files cannot be read or do not follow the README's format."""


class WhenError(ScenarioError):
    """A WHEN text outside the grammar: better to stop than to send an action at a guess."""


WhenKind = Literal["start", "reply", "event", "hungup"]


@dataclass(frozen=True)
class When:
    """When an action was sent: ``delay`` seconds (real time) after a condition came true."""

    kind: WhenKind
    delay: float = 0.0
    action: str = ""  # kind "reply": the action whose reply is awaited
    event: str = ""  # kind "event": the event awaited ...
    header: str = ""  # ... optionally with this header ...
    value: str = ""  # ... having this value


_AFTER = re.compile(r"(?:(?P<delay>\d+(?:\.\d+)?) s )?after (?P<cond>.+)")
_REPLY = re.compile(r"the (?P<action>[A-Za-z][A-Za-z0-9_]*) reply")
_EVENT = re.compile(r"(?P<event>[A-Za-z][A-Za-z0-9_]*)"
                    r"(?: with (?P<header>[A-Za-z][A-Za-z0-9_-]*): (?P<value>.*))?")


def parse_when(text: str) -> When:
    """Parse one WHEN text; raise :class:`WhenError` for anything outside the grammar."""
    text = text.strip()
    if text == "at start":
        return When("start")
    after = _AFTER.fullmatch(text)
    if after is not None:
        delay = float(after["delay"] or 0.0)
        cond = after["cond"]
        if cond == "every channel hung up":
            return When("hungup", delay)
        reply = _REPLY.fullmatch(cond)
        if reply is not None:
            return When("reply", delay, action=reply["action"])
        event = _EVENT.fullmatch(cond)
        if event is not None:
            return When("event", delay, event=event["event"], header=event["header"] or "",
                        value=event["value"] or "")
    raise WhenError(f"unknown WHEN {text!r}: expected 'at start' or '[N s ]after' followed by "
                    "'the <Action> reply', 'every channel hung up' or "
                    "'<Event>[ with <Header>: <value>]'")


@dataclass(frozen=True)
class Action:
    """One recorded action: its WHEN and its headers in the order sent (``Action`` first)."""

    when: When
    headers: tuple[tuple[str, str], ...]

    @property
    def name(self) -> str:
        return self.headers[0][1]

    @property
    def action_id(self) -> str | None:
        return next((v for n, v in self.headers if n.lower() == "actionid"), None)

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: str) -> str: ...

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of header ``name`` (any case), else ``default``."""
        return next((v for n, v in self.headers if n.lower() == name.lower()), default)


_RUN = re.compile(r"# run(?P<run>\d+)\.rawman")


def parse_actions(text: str) -> dict[int, tuple[Action, ...]]:
    """Parse an ``actions.txt``: run number -> its actions in the order they were sent."""
    runs: dict[int, list[Action]] = {}
    current: list[Action] | None = None
    for number, line in enumerate(text.splitlines(), 1):
        run = _RUN.fullmatch(line.strip())
        if run is not None:
            current = runs.setdefault(int(run["run"]), [])
            continue
        if not line.strip() or line.startswith("#"):
            continue
        if current is None:
            raise ScenarioError(f"actions.txt line {number}: an action before any '# runN.rawman'")
        # " | " and ": " split exactly once each, so values keep their own spaces
        when, *fields = line.split(" | ")
        headers = []
        for field in fields:
            name, colon, value = field.partition(":")
            if not colon:
                raise ScenarioError(f"actions.txt line {number}: {field!r} is not 'Header: value'")
            headers.append((name.strip(), value[1:] if value.startswith(" ") else value))
        if not headers or headers[0][0].lower() != "action":
            raise ScenarioError(f"actions.txt line {number}: the first header must be Action")
        action = Action(parse_when(when), tuple(headers))
        # "after the X reply" means the latest X sent before: there must be one
        if action.when.kind == "reply" and all(a.name != action.when.action for a in current):
            raise ScenarioError(f"actions.txt line {number}: waits for the {action.when.action} reply, "
                                "but no such action comes before it in its run")
        current.append(action)
    return {run: tuple(actions) for run, actions in runs.items()}


@dataclass(frozen=True)
class Scenario:
    """A recorded scenario: ``runs[n]`` and ``actions[n]`` for run n (1 to 5)."""

    name: str
    runs: dict[int, tuple[Message, ...]]
    actions: dict[int, tuple[Action, ...]]


@functools.cache
def load_scenario(name: str, root: pathlib.Path = BEHAVIOUR) -> Scenario:
    """Read ``root/name``; cached, since the files are read-only and scoring reads them often."""
    folder = root / name
    if not folder.is_dir():
        raise ScenarioError(f"no scenario {name!r} in {root}")
    try:
        actions = parse_actions((folder / "actions.txt").read_text(encoding="utf-8"))
        runs = {int(path.stem[3:]): tuple(parse_rawman(path.read_bytes()))
                for path in sorted(folder.glob("run*.rawman"))}
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario {name!r}: {exc}") from exc
    if not runs or set(runs) != set(actions):
        raise ScenarioError(f"scenario {name!r}: runs {sorted(runs)} but actions for {sorted(actions)}")
    return Scenario(name, runs, actions)
