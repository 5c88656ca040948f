"""The simulator replays each recorded scenario as a real Asterisk 23.4.1 did (fidelity).

One session-wide run replays all the scenarios in scope at once (each on its own
simulator, see :func:`tests.fidelity.harness.evaluate`); each test then asserts one
scenario's verdict, its failure message giving the four parts against the baseline and
the first differences, so a failure says what to fix in ``amikit/sim``.
"""

from __future__ import annotations

import logging

import pytest

from tests.fidelity.harness import evaluate
from tests.fidelity.scenario import SCENARIOS
from tests.fidelity.score import Fidelity


@pytest.fixture(scope="session")
def fidelity() -> dict[str, Fidelity]:
    # The simulator warns per instance about dialplan applications it does not simulate;
    # sixteen instances would repeat it sixteen times in the captured log.
    logging.getLogger("amikit.sim").setLevel(logging.ERROR)
    return {result.scenario: result for result in evaluate(SCENARIOS)}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_simulator_matches_the_real_runs(fidelity: dict[str, Fidelity], scenario: str) -> None:
    result = fidelity[scenario]
    assert result.matches, result.explain(limit=8)
