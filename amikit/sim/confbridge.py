"""Conferences (apps/app_confbridge.c): the ConfBridge application and its events."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from amikit.sim.pbx import PBX

__all__ = ["Conferences"]


class Conferences:
    """The PBX's conferences, with the profiles of ``confbridge.conf``."""

    def __init__(self, pbx: PBX) -> None:
        self.pbx = pbx
