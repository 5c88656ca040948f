"""Music on hold (res/res_musiconhold.c) as AMI sees it.

``local_ast_moh_start`` sends ``MusicOnHoldStart`` with the class, ``local_ast_moh_stop``
``MusicOnHoldStop``; the applications ``MusicOnHold(class[,duration])`` (``play_moh_exec``),
``StartMusicOnHold(class)`` and ``StopMusicOnHold()``. CEL records the music as a stream
(STREAM_BEGIN with the class, STREAM_END).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from amikit.sim import perms
from amikit.sim.dialplan import split_args

if TYPE_CHECKING:
    from amikit.sim.channel import Channel
    from amikit.sim.pbx import PBX

__all__ = ["MusicOnHold"]


class MusicOnHold:
    """The PBX's music on hold: which channel hears which class."""

    def __init__(self, pbx: PBX) -> None:
        self.pbx = pbx
        self.classes = [s.name for s in pbx.config.musiconhold if s.name != "general"]
        self.playing: dict[str, str] = {}  # channel name -> class
        pbx.apps.update({"musiconhold": self.music_on_hold,
                         "startmusiconhold": self.start_app, "stopmusiconhold": self.stop_app})

    def start(self, chan: Channel, klass: str = "") -> None:
        """``local_ast_moh_start``: the channel hears ``klass`` (its ``musicclass``, else
        ``default``)."""
        klass = klass or chan.variables.get("MUSICCLASS", "") or "default"
        if chan.name in self.playing:
            self.stop(chan)
        self.playing[chan.name] = klass
        self.pbx.cel(chan, "STREAM_BEGIN", f'{{"class":"{klass}"}}')
        self.pbx.emit("MusicOnHoldStart", perms.CALL, [*chan.state_headers(), ("Class", klass)])

    def stop(self, chan: Channel) -> None:
        """``local_ast_moh_stop``: only a channel that hears music sends MusicOnHoldStop."""
        if self.playing.pop(chan.name, None) is not None:
            self.pbx.emit("MusicOnHoldStop", perms.CALL, chan.state_headers())
            self.pbx.cel(chan, "STREAM_END")

    async def music_on_hold(self, chan: Channel, data: str) -> None:
        """``play_moh_exec``: music until the duration ends or the channel hangs up."""
        args = split_args(data)
        klass = args[0].strip()
        duration = args[1].strip() if len(args) > 1 else ""
        self.start(chan, klass)
        try:
            if duration:
                await self.pbx.sleep(float(duration))
            else:
                await asyncio.get_running_loop().create_future()
        finally:
            self.stop(chan)

    async def start_app(self, chan: Channel, data: str) -> None:
        self.start(chan, split_args(data)[0].strip())

    async def stop_app(self, chan: Channel, data: str) -> None:
        self.stop(chan)
