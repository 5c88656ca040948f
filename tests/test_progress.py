from __future__ import annotations

import io
import time

from amikit import AMIClient, EventLog, Simulator
from amikit.progress import progress


def test_quiet_for_quick_work_and_a_text_bar_for_slow_work():
    quick = io.StringIO()
    with progress(10, "quick", stream=quick) as advance:
        advance(10)
    assert quick.getvalue() == ""
    slow = io.StringIO()
    with progress(4, "slow", delay=0.05, stream=slow) as advance:
        for _ in range(4):
            time.sleep(0.03)
            advance()
    text = slow.getvalue()
    assert "slow [" in text and text.rstrip().endswith("4/4")


def test_event_log_collects_with_progress():
    with Simulator(port=0, speed=10) as sim, AMIClient(sim.url, "hello", "world") as ami:
        ami.wait_event(0)
        ami.originate(Channel="Local/101@sets", Context="sets", Exten="103", Priority=1,
                      Async=True)
        log = EventLog()
        assert log.collect(ami, 30, timeout=20) == 30
        assert len(log) == 30
