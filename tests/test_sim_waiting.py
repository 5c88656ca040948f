"""wait_at_most: a cancel always ends the wait, even one that comes as the event is set."""

from __future__ import annotations

import asyncio

from amikit.sim.waiting import wait_at_most


def test_a_cancel_as_the_event_is_set_still_cancels():
    """Python 3.11's wait_for returned normally here and its task went on waiting: the
    replay task of a simulator stopped just after a pause hung the stop for 10 s."""
    async def scenario() -> bool:
        flag = asyncio.Event()
        task = asyncio.ensure_future(wait_at_most(flag, 10))
        await asyncio.sleep(0)  # the task waits
        flag.set()  # its wait ends ...
        task.cancel()  # ... and, in the same turn, the shutdown cancels it
        await asyncio.wait({task}, timeout=2)
        return task.cancelled()

    assert asyncio.run(scenario())


def test_the_limit_and_the_event():
    async def scenario() -> tuple[bool, bool, bool]:
        flag = asyncio.Event()
        late = await wait_at_most(flag, 0.01)
        flag.set()
        return late, await wait_at_most(flag, 0.01), await wait_at_most(flag, None)

    assert asyncio.run(scenario()) == (False, True, True)
