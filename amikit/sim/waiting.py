"""Waiting for an asyncio.Event with a time limit, in a way that a cancel always ends.

Python 3.11's ``asyncio.wait_for`` swallows a cancellation that arrives just as the awaited
thing finishes, and returns as if nothing happened; a task stopped by the simulator's
shutdown then waits on and the shutdown hangs (the replay task did, when a pause's wake-up
met the stop). ``asyncio.timeout`` does not have that flaw.

    >>> import asyncio
    >>> async def demo():
    ...     flag = asyncio.Event()
    ...     late = await wait_at_most(flag, 0.01)
    ...     flag.set()
    ...     return late, await wait_at_most(flag, 1)
    >>> asyncio.run(demo())
    (False, True)
"""

from __future__ import annotations

import asyncio

__all__ = ["wait_at_most"]


async def wait_at_most(event: asyncio.Event, seconds: float | None) -> bool:
    """Wait until ``event`` is set (True) or ``seconds`` pass (False; None: no limit)."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
