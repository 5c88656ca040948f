"""What the simulator's two fronts (HTTP in :mod:`amikit.sim.httpd`, TCP AMI in
:mod:`amikit.sim.tcpfront`) share: the connections they serve and how they end them.

Each connection runs as one asyncio task, from ``asyncio.start_server``'s callback. It is
registered while it runs, so that :meth:`Front.close` can end every open one when the
simulator stops; a connection over the front's limit is closed before it is registered.
"""

from __future__ import annotations

import asyncio

__all__ = ["Front"]


class Front:
    """A listening socket's open connections.

        >>> import asyncio
        >>> front = Front()
        >>> asyncio.run(front.close())  # nothing open: nothing to end
        >>> front.connections, front.port
        ({}, 0)
    """

    def __init__(self) -> None:
        self.connections: dict[asyncio.StreamWriter, asyncio.Task[object]] = {}
        self.port = 0  # the port bound, once the simulator has bound it

    def opened(self, writer: asyncio.StreamWriter) -> None:
        """Register the connection whose task is running now."""
        task = asyncio.current_task()
        assert task is not None
        self.connections[writer] = task

    def closed(self, writer: asyncio.StreamWriter) -> None:
        """Forget a connection and close its socket (from the serving task's ``finally``)."""
        self.connections.pop(writer, None)
        writer.close()

    async def close(self) -> None:
        """End every open connection: each task is cancelled and awaited."""
        tasks = list(self.connections.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
