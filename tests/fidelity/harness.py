"""Running the fidelity check: scenarios replayed concurrently, scored and reported.

This module owns the glue and the presentation: :func:`evaluate` replays the scenarios
(each on its own simulator, in a thread pool) while it normalises the real runs, then scores
each replay against the five real runs; :func:`table` and :func:`summary` format the report
``tools/fidelity.py`` prints and ``test_fidelity.py`` asserts on.
"""

from __future__ import annotations

import functools
import statistics
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from tests.fidelity.normalise import NormalisedRun, normalise_run
from tests.fidelity.replay import DEADLINE, SPEED, Replay, replay
from tests.fidelity.scenario import SCENARIOS, load_scenario
from tests.fidelity.score import PARTS, Fidelity, baseline, differences, mean_scores, score_runs

__all__ = ["evaluate", "real_runs", "report", "score_replay", "summary", "table"]


@functools.cache
def real_runs(name: str) -> tuple[NormalisedRun, ...]:
    """The normalised real runs of a scenario, in run order (cached: they never change)."""
    scenario = load_scenario(name)
    return tuple(normalise_run(scenario.runs[n], scenario.actions[n]) for n in sorted(scenario.runs))


def score_replay(result: Replay, diff_limit: int | None = 20) -> Fidelity:
    """Score a replay against its scenario's real runs; differences are against the replayed run."""
    real = real_runs(result.scenario)
    sim = normalise_run(result.messages, result.sent)
    per_run = [score_runs(run, sim) for run in real]
    replayed = real[sorted(load_scenario(result.scenario).runs).index(result.run)]
    return Fidelity(result.scenario, baseline(real), mean_scores(per_run), per_run,
                    differences(replayed, sim, diff_limit), result.timed_out, result.error,
                    list(result.notes), dict(result.filtered), result.elapsed)


def evaluate(names: Sequence[str] = SCENARIOS, *, speed: float = SPEED, run: int = 1,
             deadline: float = DEADLINE, diff_limit: int | None = 20,
             workers: int | None = None) -> list[Fidelity]:
    """Replay and score each scenario; results in the order of ``names``.

    Every scenario gets its own simulator on port 0, by default all at once (``workers``
    limits that): a replay spends its time waiting (on the PBX's timers and on WaitEvent),
    so threads overlap well even on 2 cores.
    """
    scenarios = [load_scenario(name) for name in names]  # fail fast on unreadable data
    workers = workers or max(1, len(scenarios))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fidelity") as pool:
        futures = [pool.submit(replay, s, run, speed=speed, deadline=deadline) for s in scenarios]
        for name in names:  # meanwhile, on this thread: the real side
            real_runs(name)
        return [score_replay(f.result(), diff_limit) for f in futures]


_WIDTH = 18


def table(results: Sequence[Fidelity]) -> list[str]:
    """The report's fixed-width table: a header line, then one line per scenario."""
    parts = " ".join(f"{p:>7}" for p in PARTS)
    lines = [f"{'scenario':<{_WIDTH}} | baseline {parts} | simulator {parts} | result",
             "-" * (_WIDTH + 2 * (len(parts) + 13) + 10)]
    for r in results:
        base = " ".join(f"{v:7.3f}" for v in r.baseline)
        sim = " ".join(f"{v:7.3f}" for v in r.simulator)
        verdict = "match" if r.matches else "MISMATCH"
        if r.timed_out:
            verdict += " (timed out)"
        if r.error:
            verdict += " (no replay: see below)"
        lines.append(f"{r.scenario:<{_WIDTH}} | {'':8} {base} | {'':9} {sim} | {verdict}")
    return lines


def summary(results: Sequence[Fidelity], elapsed: float | None = None) -> str:
    """The one-line summary: how many match, and each part's share of baseline on average."""
    matched = sum(r.matches for r in results)
    ratios = [r.ratios() for r in results]
    shares = ", ".join(
        f"{p} {statistics.fmean(getattr(x, p) for x in ratios):.2f}" if ratios else f"{p} -"
        for p in PARTS)
    took = f"; {elapsed:.1f} s" if elapsed is not None else ""
    return f"fidelity: {matched}/{len(results)} scenarios match ({shares} of baseline on average{took})"


def report(names: Sequence[str] = SCENARIOS, *, speed: float = SPEED, deadline: float = DEADLINE,
           diff: bool = False, diff_limit: int = 3) -> tuple[list[Fidelity], list[str]]:
    """Evaluate and format: the table, then differences (all with ``diff``, else for mismatches
    only, ``diff_limit`` each), then the summary as the last line."""
    started = time.monotonic()
    results = evaluate(names, speed=speed, deadline=deadline)
    lines = table(results)
    for r in results:
        if diff or not r.matches:
            lines += ["", r.explain(limit=20 if diff else diff_limit)]
            if diff:
                lines.append(f"  filtered out of the trace: {r.filtered}; replay {r.elapsed:.1f} s")
    lines += ["", summary(results, time.monotonic() - started)]
    return results, lines
