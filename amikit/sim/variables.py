"""Channel variables, globals and the dialplan functions the simulator knows.

``${NAME}`` reads a channel variable (inherited ``_``/``__`` names included), a built-in
(``CHANNEL``, ``UNIQUEID``, ``CONTEXT``, ``EXTEN``, ``PRIORITY``, ``HANGUPCAUSE``) or a global;
the functions are ``GLOBAL()``, ``CALLERID()``, ``CHANNEL()``, ``TIMEOUT()`` and ``CDR()``, as
``pbx_builtin_getvar_helper``/``pbx_builtin_setvar_helper`` and ``ast_func_read``/``write``
treat them. Setting a variable sends a VarSet event; setting caller id sends NewCallerid
(through the channel's snapshot).
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

from amikit.sim.channel import SOFTHANGUP_TIMEOUT, STATES, Channel

if TYPE_CHECKING:
    from amikit.sim.pbx import PBX

__all__ = ["Variables", "split_callerid"]


def split_callerid(text: str) -> tuple[str, str]:
    """``"Name" <number>`` into (name, number) (``ast_callerid_parse``).

    >>> split_callerid('"Diff Trace" <1001>')
    ('Diff Trace', '1001')
    >>> split_callerid("1001")
    ('', '1001')
    """
    match = re.match(r'\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$', text)
    if match:
        return match[1].strip(), match[2].strip()
    return ("", text.strip()) if text.strip().replace("+", "").isdigit() else (text.strip(), "")


class Variables:
    """Reads and writes ``${…}`` names for a PBX; holds its globals."""

    def __init__(self, pbx: PBX) -> None:
        self.pbx = pbx
        self.globals = dict(pbx.dialplan.globals)

    def lookup(self, chan: Channel | None, name: str) -> str:
        """The value of ``${name}`` for ``chan`` (functions included)."""
        func, paren, arg = name.partition("(")
        arg = arg[:-1] if paren else ""
        upper = func.upper()
        if paren:
            if upper == "GLOBAL":
                return self.globals.get(arg, "")
            if chan is None:
                return ""
            if upper == "CALLERID":
                return {"num": chan.caller_num, "number": chan.caller_num,
                        "name": chan.caller_name,
                        "all": f'"{chan.caller_name}" <{chan.caller_num}>'}.get(arg.lower(), "")
            if upper == "CHANNEL":
                return {"language": chan.language, "musicclass": chan.musicclass,
                        "name": chan.name, "uniqueid": chan.uniqueid,
                        "linkedid": chan.linkedid,
                        "state": STATES.get(chan.state, "")}.get(arg.lower(), "")
            return ""
        if chan is not None:
            builtin = {"CHANNEL": chan.name, "UNIQUEID": chan.uniqueid, "CONTEXT": chan.context,
                       "EXTEN": chan.exten, "PRIORITY": str(chan.priority),
                       "HANGUPCAUSE": str(chan.hangupcause)}.get(name)
            if builtin is not None:
                return builtin
            for key in (name, "_" + name, "__" + name):
                if key in chan.variables:
                    return chan.variables[key]
        return self.globals.get(name, "")

    def is_set(self, chan: Channel, name: str) -> bool:
        """Whether ``name`` has a value for Status' ``Variables`` (else ``(null)``)."""
        return "(" in name or any(k in chan.variables for k in (name, "_" + name, "__" + name))

    def assign(self, chan: Channel | None, name: str, value: str) -> bool:
        """Set a variable or function (``GLOBAL()``, ``CALLERID()``, ``CHANNEL()`` …)."""
        func, paren, arg = name.partition("(")
        arg = arg[:-1] if paren else ""
        upper = func.upper()
        if upper == "GLOBAL" or (chan is None and not paren):
            self.pbx.varset(None, arg if upper == "GLOBAL" else name, value)
            return True
        if chan is None:
            return False
        if upper == "CALLERID":
            which = arg.lower()
            if which == "all":
                chan.caller_name, chan.caller_num = split_callerid(value)
            elif which == "name":
                chan.caller_name = value
            elif which in ("num", "number"):
                chan.caller_num = value
            self.pbx.publish(chan)
            return True
        if upper == "CHANNEL":
            if arg.lower() == "language":
                chan.language = value
            elif arg.lower() == "musicclass":
                chan.musicclass = value
            return True
        if upper == "TIMEOUT":
            if arg.lower() != "absolute":  # digit and response timeouts: no keypad here
                return True
            try:
                seconds = float(value or 0)
            except ValueError:
                return False
            # ast_channel_setwhentohangup_tv replaces the timer; 0 clears it
            for timer in chan.timers:
                timer.cancel()
            chan.timers = []
            if seconds > 0:
                chan.timers.append(asyncio.get_running_loop().call_later(
                    seconds / self.pbx.speed, self._absolute_timeout, chan))
            return True
        if upper == "CDR":
            if arg.lower() == "userfield":
                chan.userfield = value
            return True
        if paren:
            return False
        self.pbx.varset(chan, name, value)
        return True

    def _absolute_timeout(self, chan: Channel) -> None:
        # ast_channel_setwhentohangup_tv: the channel is soft-hung-up with AST_SOFTHANGUP_TIMEOUT
        self.pbx.softhangup(chan, SOFTHANGUP_TIMEOUT, publish=False)
