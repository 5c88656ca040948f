"""Call queues (apps/app_queue.c): the Queue application, its members and its events."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from amikit.sim.pbx import PBX

__all__ = ["Queues"]


class Queues:
    """The PBX's queues, read from ``queues.conf``."""

    def __init__(self, pbx: PBX) -> None:
        self.pbx = pbx
