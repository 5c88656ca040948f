"""Fidelity harness: replay the recorded real-Asterisk call scenarios against the simulator.

The recordings are ``tests/captures/20_behaviour/<scenario>/`` (five real runs each). The
package is split by what each module owns:

- :mod:`tests.fidelity.scenario`: reading a scenario (runs, ``actions.txt``, the WHEN grammar);
- :mod:`tests.fidelity.normalise`: pure normalisation of a trace (roles, ordinals, names, keys);
- :mod:`tests.fidelity.score`: the four scores, baselines, verdicts and differences;
- :mod:`tests.fidelity.replay`: sending a scenario's actions to a simulator, recording its trace;
- :mod:`tests.fidelity.harness`: running scenarios concurrently and reporting on them.

``tools/fidelity.py`` prints the report; ``tests/fidelity/test_fidelity.py`` asserts it.
"""
