"""Fast tests of the fidelity harness itself, on the real recordings (no simulator started).

These check that the yardstick is sound before anyone trusts what it says about the
simulator: identical traces score 1, real run-to-run variation shows in the baselines and
only there, a lost event or a wrong value is seen, and the parsing and mapping steps
account for every line and every reply of the recorded data.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Sequence

import pytest

from amikit import Message
from tests.fidelity.harness import real_runs, summary
from tests.fidelity.normalise import MEANINGFUL, UNKNOWN_REPLY, Key, NormalisedRun, normalise_run, reply_names
from tests.fidelity.replay import fresh_prefix, is_login_security_event, map_channels
from tests.fidelity.scenario import (
    ALL_SCENARIOS,
    BEHAVIOUR,
    SCENARIOS,
    ScenarioError,
    When,
    WhenError,
    load_scenario,
    parse_actions,
    parse_when,
)
from tests.fidelity.score import UNORDERED, Fidelity, Scores, baseline, differences, score_runs


def _ordered_keys(run: NormalisedRun) -> list[Key]:
    return [m.key for m in run.messages if m.name not in UNORDERED]


@pytest.mark.parametrize("name", ALL_SCENARIOS)
def test_a_real_run_against_itself_scores_one(name: str) -> None:
    for run in real_runs(name):
        assert score_runs(run, run) == Scores(1.0, 1.0, 1.0, 1.0)
        assert differences(run, run) == []


@pytest.mark.parametrize("name", ALL_SCENARIOS)
def test_baselines_show_real_variation_and_only_that(name: str) -> None:
    runs = real_runs(name)
    base = baseline(runs)
    assert all(part > 0.5 for part in base), base
    pairs = list(itertools.combinations(runs, 2))
    # order < 1 exactly when two runs put the ordered messages in different orders
    reordered = any(_ordered_keys(x) != _ordered_keys(y) for x, y in pairs)
    assert (base.order < 1.0) == reordered
    # values < 1 exactly when some real pair disagrees on a meaningful value
    disagree = any(d.kind == "value" for x, y in pairs for d in differences(x, y, None))
    assert (base.values < 1.0) == disagree
    names_differ = any(Counter(m.name for m in x.messages) != Counter(m.name for m in y.messages)
                       for x, y in pairs)
    assert (base.names < 1.0) == names_differ


def test_some_baselines_are_below_one() -> None:
    # The README says the interleaving differs from run to run: the baselines must see it
    below = [name for name in SCENARIOS if baseline(real_runs(name)).order < 1.0]
    assert len(below) >= len(SCENARIOS) // 2, below
    assert baseline(real_runs("queue_answered")).names < 1.0  # 141 to 143 messages per run


def _without(messages: Sequence[Message], index: int) -> list[Message]:
    return [m for i, m in enumerate(messages) if i != index]


def test_dropping_one_event_lowers_names_and_order() -> None:
    scenario = load_scenario("orig_exten")
    messages, actions = scenario.runs[1], scenario.actions[1]
    full = normalise_run(messages, actions)
    dropped = next(i for i, m in enumerate(messages) if m.get("Event") == "Newexten")
    scores = score_runs(full, normalise_run(_without(messages, dropped), actions))
    assert scores.names < 1.0
    assert scores.order < 1.0
    missing = differences(full, normalise_run(_without(messages, dropped), actions))
    assert [d.kind for d in missing] == ["missing"]
    assert missing[0].real_index == dropped


def test_changing_one_meaningful_value_lowers_values_only() -> None:
    scenario = load_scenario("orig_exten")
    messages, actions = list(scenario.runs[1]), scenario.actions[1]
    i = next(i for i, m in enumerate(messages) if m.get("Event") == "Newstate")
    messages[i] = Message([(n, "elsewhere" if n == "Context" else v) for n, v in messages[i].headers])
    real = normalise_run(scenario.runs[1], actions)
    changed = normalise_run(messages, actions)
    scores = score_runs(real, changed)
    assert scores.values < 1.0
    assert (scores.names, scores.order, scores.headers) == (1.0, 1.0, 1.0)
    [diff] = differences(real, changed)
    assert (diff.kind, diff.header, diff.real, diff.sim) == ("value", "context", "sets", "elsewhere")


def test_a_timing_value_is_not_compared_and_takes_no_ordinal() -> None:
    scenario = load_scenario("orig_exten")
    messages = [Message([(n, "1.0" if n == "Timestamp" else v) for n, v in m.headers])
                for m in scenario.runs[1]]
    real = normalise_run(scenario.runs[1], scenario.actions[1])
    assert score_runs(real, normalise_run(messages, scenario.actions[1])) == Scores(1.0, 1.0, 1.0, 1.0)
    assert "context" in MEANINGFUL and "timestamp" not in MEANINGFUL


def test_the_same_role_in_different_runs_normalises_alike() -> None:
    # dual_redirect redirects the ;1 half of the dialled Local/600 (0000015c in run 1)
    scenario = load_scenario("dual_redirect")
    assert scenario.actions[1][1].get("Channel") == "Local/600@sets-0000015c;1"
    roles: set[str] = set()
    for n, messages in scenario.runs.items():
        recorded = scenario.actions[n][1].get("Channel", "")
        run = real_runs("dual_redirect")[n - 1]
        roles |= {norm.value("Channel")[0] for raw, norm in zip(messages, run.messages, strict=True)
                  if raw.get("Channel") == recorded}
    assert roles == {"Local/600@sets-#2;1"}


def test_ids_in_data_and_regex_text_are_normalised() -> None:
    msg = Message([("Event", "Newexten"), ("Channel", "Local/101@sets-0000014f;1"),
                   ("AppData", "hangup handler Local/101@sets-0000014f;1 cause 16"),
                   ("Data", "/^Local/600@sets\\-0000015d/"), ("Uniqueid", "1795998112.345"),
                   ("BridgeUniqueid", "0a1b2c3d-0000-4000-8000-00000000abcd"),
                   ("ActionID", "dt45dca96888-o1"), ("Tag", "dt45dca96888"),
                   ("Timestamp", "1795998112.277605")])
    [norm] = normalise_run([msg], ()).messages
    assert norm.headers == (
        ("Event", "Newexten"), ("Channel", "Local/101@sets-#1;1"),
        ("AppData", "hangup handler Local/101@sets-#1;1 cause 16"),
        ("Data", "/^Local/600@sets\\-#2/"), ("Uniqueid", "#U1"), ("BridgeUniqueid", "#B1"),
        ("ActionID", "DT-o1"), ("Tag", "DT"), ("Timestamp", ""))
    assert norm.key == ("Newexten", "Local/101@sets-#1;1", "")


def _action_lines(name: str) -> list[str]:
    text = (BEHAVIOUR / name / "actions.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_the_when_grammar_parses_every_recorded_line() -> None:
    kinds: Counter[str] = Counter()
    for name in ALL_SCENARIOS:
        lines = _action_lines(name)
        scenario = load_scenario(name)
        actions = [a for n in sorted(scenario.actions) for a in scenario.actions[n]]
        assert len(actions) == len(lines)
        for line, action in zip(lines, actions, strict=True):
            assert parse_when(line.split(" | ")[0]) == action.when
            kinds[action.when.kind] += 1
            assert action.headers[0] == ("Action", line.split(" | ")[1].split(": ", 1)[1])
    assert set(kinds) == {"start", "reply", "event", "hungup"}


@pytest.mark.parametrize(("text", "when"), [
    ("at start", When("start")),
    ("after the Getvar reply", When("reply", action="Getvar")),
    ("1.0 s after the Originate reply", When("reply", 1.0, action="Originate")),
    ("after OriginateResponse", When("event", event="OriginateResponse")),
    ("after BridgeEnter with BridgeNumChannels: 2",
     When("event", event="BridgeEnter", header="BridgeNumChannels", value="2")),
    ("3.0 s after QueueCallerJoin", When("event", 3.0, event="QueueCallerJoin")),
    ("after every channel hung up", When("hungup")),
])
def test_when_grammar(text: str, when: When) -> None:
    assert parse_when(text) == when


@pytest.mark.parametrize("text", ["", "soon", "at the start", "after", "after the reply",
                                  "2 s before OriginateResponse", "after some channels hung up",
                                  "x s after OriginateResponse"])
def test_an_unknown_when_is_a_clear_error(text: str) -> None:
    with pytest.raises(WhenError, match="unknown WHEN"):
        parse_when(text)


def test_an_action_waiting_for_a_reply_never_asked_for_is_refused() -> None:
    with pytest.raises(ScenarioError, match="no such action comes before"):
        parse_actions("# run1.rawman\nafter the Getvar reply | Action: Hangup | Channel: x\n")
    with pytest.raises(ScenarioError, match="before any"):
        parse_actions("at start | Action: Ping\n")


def _newchannel(name: str) -> Message:
    return Message([("Event", "Newchannel"), ("Channel", name)])


def test_role_mapping_turns_the_recorded_regex_into_the_simulators_name() -> None:
    scenario = load_scenario("hangup_regex")
    recorded = scenario.actions[1][1].get("Channel", "")
    assert recorded == "/^Local/600@sets\\-0000015d/"
    real = normalise_run(scenario.runs[1], scenario.actions[1]).ordinals
    sim = [_newchannel("Local/600@sets-00000007;1"), _newchannel("Local/600@sets-00000007;2")]
    assert map_channels(recorded, real, sim) == "/^Local/600@sets\\-00000007/"


def test_role_mapping_follows_the_role_not_the_number() -> None:
    # dual_redirect's Redirect names the dialled Local/600 (second channel) and the
    # caller's ;2 half (first channel); the simulator numbers its own way
    scenario = load_scenario("dual_redirect")
    redirect = scenario.actions[1][1]
    real = normalise_run(scenario.runs[1], scenario.actions[1]).ordinals
    sim = [_newchannel("Local/202@sets-000000a0;1"), _newchannel("Local/202@sets-000000a0;2"),
           _newchannel("Local/600@sets-00000011;1")]
    assert map_channels(redirect.get("Channel", ""), real, sim) == "Local/600@sets-00000011;1"
    assert map_channels(redirect.get("ExtraChannel", ""), real, sim) == "Local/202@sets-000000a0;2"
    notes: list[str] = []
    assert map_channels(redirect.get("Channel", ""), real, sim[:2], notes) == redirect.get("Channel", "")
    assert notes and "sent as recorded" in notes[0]


@pytest.mark.parametrize("name", ALL_SCENARIOS)
def test_reply_naming_maps_every_reply_of_every_run_to_an_action(name: str) -> None:
    scenario = load_scenario(name)
    for n, messages in scenario.runs.items():
        names = [x for x in reply_names(messages, scenario.actions[n]) if x is not None]
        assert UNKNOWN_REPLY not in names
        # one reply per action: list actions' items are events
        assert Counter(names) == Counter(f"Response:{a.name}" for a in scenario.actions[n])


def test_the_login_security_filter_takes_only_our_logins_security_events() -> None:
    auth = Message([("Event", "SuccessfulAuth"), ("Privilege", "security,all"), ("Service", "AMI"),
                    ("AccountID", "hello")])
    other = Message([("Event", "SuccessfulAuth"), ("Privilege", "security,all"), ("Service", "AMI"),
                     ("AccountID", "somebody")])
    user_event = Message([("Event", "UserEvent"), ("Privilege", "user,all"), ("AccountID", "hello")])
    assert is_login_security_event(auth)
    assert not is_login_security_event(other)
    assert not is_login_security_event(user_event)


def test_fresh_ids_have_the_recorded_shape() -> None:
    prefixes = {fresh_prefix() for _ in range(20)}
    assert len(prefixes) == 20
    assert all(re.fullmatch(r"dt[0-9a-f]{10}", p) for p in prefixes)


def test_verdict_and_summary() -> None:
    base = Scores(1.0, 0.8, 1.0, 1.0)
    good = Fidelity("a", base, Scores(0.96, 0.77, 1.0, 0.96))
    bad = Fidelity("b", base, Scores(1.0, 0.4, 1.0, 1.0))
    assert good.matches and not bad.matches
    assert "order" in bad.explain() and "< 0.95 x baseline" in bad.explain()
    assert summary([good, bad]) == ("fidelity: 1/2 scenarios match (names 0.98, order 0.73, "
                                    "headers 1.00, values 0.98 of baseline on average)")
