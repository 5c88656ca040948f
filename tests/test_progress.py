from __future__ import annotations

import io
import time

from amikit import AMIClient, EventLog, Simulator
from amikit.progress import progress


def test_quiet_for_quick_work_and_tqdms_text_bar_for_slow_work():
    quick = io.StringIO()
    with progress(10, "quick", stream=quick) as advance:
        advance(10)
    assert quick.getvalue() == ""
    slow = io.StringIO()
    with progress(4, "slow", delay=0.05, stream=slow) as advance:
        for _ in range(4):
            time.sleep(0.03)
            advance()
    last = slow.getvalue().rstrip("\n").split("\r")[-1]
    assert last.startswith("slow: 100%|") and " 4/4 [" in last, last  # tqdm's own bar


def test_the_bar_is_tqdm_auto(monkeypatch):
    """No stream: tqdm.auto chooses (its widget in a notebook, its text bar in a terminal)."""
    import tqdm.auto

    made = []

    class Recorder(tqdm.auto.tqdm):
        def __init__(self, *args, **kwargs):
            made.append(kwargs)
            super().__init__(*args, **{**kwargs, "disable": True})

    monkeypatch.setattr(tqdm.auto, "tqdm", Recorder)
    with progress(5, "events", delay=2) as advance:
        advance(5)
    assert made == [{"total": 5, "desc": "events", "delay": 2, "file": None}]


def test_event_log_collects_with_progress():
    with Simulator(port=0, speed=10) as sim, AMIClient(sim.url, "hello", "world") as ami:
        ami.wait_event(0)
        ami.originate(Channel="Local/101@sets", Context="sets", Exten="103", Priority=1,
                      Async=True)
        log = EventLog()
        assert log.collect(ami, 30, timeout=20) == 30
        assert len(log) == 30
