"""Report how closely the simulator replays the recorded real-Asterisk scenarios.

Run from the repository root:

    python tools/fidelity.py                     # the 20 scenarios in scope
    python tools/fidelity.py busy redirect --diff
    python tools/fidelity.py queue_answered --speed 5

One line per scenario (the baseline per part: the worst score between two real runs; the
simulator per part: its mean score against the five real runs; match or MISMATCH), the
first differences of mismatches (all differences with ``--diff``), and a last summary line.
It is a report, not a test: the exit status is 0 unless the recorded data cannot be read.
The harness itself is ``tests/fidelity`` (see its package docstring).
"""

from __future__ import annotations

import argparse
import logging
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from tests.fidelity.harness import report
from tests.fidelity.replay import DEADLINE, SPEED
from tests.fidelity.scenario import ALL_SCENARIOS, SCENARIOS, ScenarioError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                        help=f"scenarios to replay (default: the {len(SCENARIOS)} in scope; "
                             f"known: {', '.join(ALL_SCENARIOS)})")
    parser.add_argument("--speed", type=float, default=SPEED,
                        help=f"how much faster than real time the simulator runs (default {SPEED:g})")
    parser.add_argument("--deadline", type=float, default=DEADLINE,
                        help=f"seconds before a replay gives up and says it timed out (default {DEADLINE:g})")
    parser.add_argument("--diff", action="store_true", help="list the differences of every scenario")
    args = parser.parse_args(argv)
    if args.speed <= 0 or args.deadline <= 0:
        parser.error("--speed and --deadline must be positive")
    # The simulator warns once per instance about dialplan applications it does not
    # simulate (Queue, ConfBridge): sixteen copies of it would bury the table.
    logging.getLogger("amikit.sim").setLevel(logging.ERROR)
    try:
        _, lines = report(args.scenarios or SCENARIOS, speed=args.speed, deadline=args.deadline,
                          diff=args.diff)
    except ScenarioError as exc:
        print(f"fidelity: cannot read the recorded data: {exc}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
