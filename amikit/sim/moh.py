"""Music on hold (res/res_musiconhold.c) as AMI sees it.

``local_ast_moh_start`` sends ``MusicOnHoldStart`` with the class, ``local_ast_moh_stop``
``MusicOnHoldStop``; the applications ``MusicOnHold(class[,duration])`` (``play_moh_exec``),
``StartMusicOnHold(class)`` and ``StopMusicOnHold()``. CEL records the music as a stream
(STREAM_BEGIN with the class, STREAM_END).
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING

from amikit.sim import perms
from amikit.sim.dialplan import split_args

if TYPE_CHECKING:
    from amikit.sim.channel import Channel
    from amikit.sim.pbx import PBX

__all__ = ["MusicOnHold"]

log = logging.getLogger("amikit.sim")


class MusicOnHold:
    """The PBX's music on hold: which channel hears which class."""

    def __init__(self, pbx: PBX) -> None:
        self.pbx = pbx
        self.classes = {s.name for s in pbx.config.musiconhold if s.name != "general"} | {"default"}
        self.playing: dict[str, str] = {}  # channel name -> class
        pbx.apps.update({"musiconhold": self.music_on_hold,
                         "startmusiconhold": self.start_app, "stopmusiconhold": self.stop_app})

    def start(self, chan: Channel, klass: str = "") -> None:
        """``local_ast_moh_start``: the channel hears its own ``CHANNEL(musicclass)``, else
        ``klass``, else ``default``; a class musiconhold.conf does not have is ``default``."""
        klass = chan.musicclass or klass or "default"
        if klass not in self.classes:
            log.warning("music on hold class %r is not in musiconhold.conf; using default",
                        klass)
            klass = "default"
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
        seconds = re.match(r"\s*[+-]?\d+", duration)  # sscanf("%30d"), else for ever
        if duration and not seconds:
            log.warning("invalid MusicOnHold duration %r; waiting indefinitely", duration)
        self.start(chan, klass)
        try:
            if seconds and int(seconds.group()) > 0:
                await self.pbx.sleep(int(seconds.group()))
            else:
                await asyncio.get_running_loop().create_future()
        finally:
            self.stop(chan)

    async def start_app(self, chan: Channel, data: str) -> None:
        self.start(chan, split_args(data)[0].strip())

    async def stop_app(self, chan: Channel, data: str) -> None:
        self.stop(chan)
