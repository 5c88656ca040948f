"""Dialplan applications of the simulated PBX (Dial is in :mod:`amikit.sim.dial`).

Each follows its Asterisk implementation in what AMI can see: ``pbx_builtin_answer`` (a
channel that was not up waits half a second for media after answering), ``pbx_builtin_hangup``
(cause 16 when none is set, hangup source ``dialplan/builtin``), ``pbx_builtin_busy`` and
``pbx_builtin_congestion`` (indicate, set the cause, state Busy, wait), ``pbx_builtin_ringing``,
``pbx_builtin_wait``, ``playback_exec`` (CEL STREAM_BEGIN/END and PLAYBACKSTATUS),
``pbx_builtin_setvar``, ``pbx_builtin_goto``/``gotoif`` and ``userevent_exec``. An application
returns :data:`~amikit.sim.pbx.HANGUP` to end the channel's dialplan.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

from amikit.sim import perms
from amikit.sim.channel import BUSY, HANGUP, RINGING, UP, Channel
from amikit.sim.dialplan import split_args
from amikit.sim.replies import is_number

if TYPE_CHECKING:
    from amikit.sim.pbx import PBX, App

__all__ = ["SOUNDS", "install"]

#: How long the lab's sound files play (seconds).
SOUNDS = {"beep": 0.44, "hello-world": 1.42, "vm-goodbye": 0.92, "tt-monkeys": 7.0,
          "demo-congrats": 6.3}
ANSWER_MEDIA_WAIT = 0.5  # __ast_answer waits this long for the first media frame


def install(pbx: PBX) -> None:
    """Register the applications with the PBX."""
    async def noop(chan: Channel, data: str) -> None:
        return None

    async def answer(chan: Channel, data: str) -> None:
        if chan.state != UP:
            pbx.answer(chan)
            await pbx.sleep(ANSWER_MEDIA_WAIT)

    async def hangup(chan: Channel, data: str) -> int:
        cause = data.strip()
        if is_number(cause):
            chan.hangupcause = int(cause)
        elif not chan.hangupcause:
            chan.hangupcause = 16
        chan.hangupsource = "dialplan/builtin"
        return HANGUP

    async def wait(chan: Channel, data: str) -> None:
        await pbx.sleep(float(data or 0))

    async def playback(chan: Channel, data: str) -> None:
        for sound in split_args(data)[0].split("&"):
            sound = sound.strip()
            pbx.cel(chan, "STREAM_BEGIN", json.dumps(
                {"sound": sound, "format": "gsm", "language": chan.language},
                separators=(",", ":")))
            await pbx.sleep(SOUNDS.get(sound, 1.0))
            pbx.cel(chan, "STREAM_END")
        pbx.varset(chan, "PLAYBACKSTATUS", "SUCCESS")

    async def echo(chan: Channel, data: str) -> None:
        pbx.answer(chan)
        await asyncio.get_running_loop().create_future()  # until hung up or redirected

    async def ringing(chan: Channel, data: str) -> None:
        pbx.dial.indicate(chan, RINGING)

    def refuse(status: str, cause: int) -> App:
        async def app(chan: Channel, data: str) -> int:
            chan.hangupcause = cause
            pbx.dial.indicate(chan, status)
            if chan.state != UP:
                pbx.set_state(chan, BUSY)
            timeout = split_args(data)[0].strip()
            if timeout:
                await pbx.sleep(float(timeout))
            else:
                await asyncio.get_running_loop().create_future()
            return HANGUP
        return app

    async def set_(chan: Channel, data: str) -> None:
        name, _, value = data.partition("=")
        pbx.vars.assign(chan, name.strip(), value)

    async def goto(chan: Channel, data: str) -> None:
        _goto(pbx, chan, data)

    async def gotoif(chan: Channel, data: str) -> None:
        condition, _, targets = data.partition("?")
        when_true, _, when_false = targets.partition(":")
        target = when_true if condition.strip() not in ("", "0") else when_false
        if target:
            _goto(pbx, chan, target)

    async def userevent(chan: Channel, data: str) -> None:
        name, *fields = split_args(data)
        body = []
        for item in fields:
            key, _, value = item.partition(":")
            body.append((key.strip(), value.strip()))
        pbx.emit("UserEvent", perms.USER, [*chan.state_headers(), ("UserEvent", name), *body])

    pbx.apps.update({
        "noop": noop, "verbose": noop, "log": noop, "progress": noop, "answer": answer,
        "hangup": hangup, "wait": wait, "playback": playback, "echo": echo,
        "ringing": ringing, "busy": refuse("BUSY", 17), "congestion": refuse("CONGESTION", 34),
        "set": set_, "goto": goto, "gotoif": gotoif, "userevent": userevent,
    })


def _goto(pbx: PBX, chan: Channel, target: str) -> None:
    """``pbx_builtin_goto``: ``[[context,]exten,]priority``, a label allowed."""
    parts = [p.strip() for p in target.split(",")]
    context, exten = chan.context, chan.exten
    if len(parts) == 3:
        context, exten, prio = parts
    elif len(parts) == 2:
        exten, prio = parts
    else:
        prio = parts[0]
    number = int(prio) if is_number(prio) else pbx.dialplan.label(context, exten, prio)
    if number is not None:
        chan.context, chan.exten, chan.priority = context, exten, number
