"""The AMI actions of queues (apps/app_queue.c)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from amikit.sim.manager import Handler
    from amikit.sim.pbx import PBX

__all__ = ["QueueActions"]


class QueueActions:
    """Action handlers by lower-case name."""

    def __init__(self, pbx: PBX) -> None:
        self.pbx = pbx
        self.handlers: dict[str, Handler] = {}
