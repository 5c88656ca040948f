"""The simulated Asterisk CLI, as the AMI ``Command`` action reaches it (``action_command``).

It knows the commands a learner types first: ``core show version``, ``core show channels``,
``manager show commands``, ``manager show command X``, ``manager show events``,
``manager show event X``, ``manager show user X`` and ``dialplan show [[exten@]context]``.
The ``manager show`` help texts are Asterisk's own, recorded (:mod:`amikit.sim.helptext`).
Anything else answers as Asterisk answers an unknown command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from amikit.sim import helptext, perms
from amikit.sim.channel import STATES
from amikit.sim.manager_actions import SYNOPSIS
from amikit.sim.queue_actions import queue_show
from amikit.sim.replies import Pairs, error, header, response

if TYPE_CHECKING:
    from amikit.sim.manager import Request, Session
    from amikit.sim.pbx import PBX

__all__ = ["CLI"]

VERSION = ("Asterisk 23.4.1 (amikit simulator) built by amikit on a python running the "
           "amikit sim")


class CLI:
    """Runs a CLI command line and returns its output lines (None: no such command)."""

    def __init__(self, pbx: PBX) -> None:
        self.pbx = pbx

    async def action(self, session: Session, request: Request, msg: Pairs) -> list[Pairs]:
        action_id = header(msg, "ActionID")
        command = header(msg, "Command")
        if not command:
            return [error(action_id, "No command provided")]
        output = self.run(command)
        if output is None:
            text = " ".join(command.split())
            return [response("Error", action_id, [
                ("Message", "Command output follows"),
                ("Output", f"No such command '{text}' (type 'core show help {text}' for other "
                           "possible commands)")])]
        return [response("Success", action_id, [("Message", "Command output follows"),
                                                 *[("Output", line) for line in output]])]

    def run(self, command: str) -> list[str] | None:
        words = command.split()
        lowered = [w.lower() for w in words]
        verb, arg = lowered[:3], words[3] if len(words) > 3 else None
        if verb == ["core", "show", "version"]:
            return [VERSION]
        if verb == ["core", "show", "channels"]:
            return self._channels()
        if verb == ["manager", "show", "commands"]:
            return helptext.commands_listing()
        if verb == ["manager", "show", "events"]:
            return helptext.events_listing()
        if verb == ["manager", "show", "command"] and arg:
            name = next((n for n in SYNOPSIS if n.lower() == arg.lower()), arg)
            klass = perms.ACTION_CLASSES.get(name.lower(), 0)
            return helptext.command_help(name, SYNOPSIS.get(name),
                                         perms.privilege(klass) if klass else None)
        if verb == ["manager", "show", "event"] and arg:
            return helptext.event_help(arg)
        if verb == ["manager", "show", "user"] and arg:
            return self._user(arg)
        if lowered[:2] == ["queue", "show"]:
            return queue_show(self.pbx, words[2] if len(words) > 2 else None)
        if lowered[:2] == ["dialplan", "show"]:
            target = words[2] if len(words) > 2 else None
            exten, at, context = (target or "").rpartition("@")
            if target and not at:
                exten, context = "", target
            shown = self.pbx.dialplan.show(context or None, exten or None)
            if shown is not None:
                return shown
            return [f"There is no existence of '{target}' context" if not exten
                    else f"There is no existence of {exten}@{context} extension"]
        return None

    def _channels(self) -> list[str]:
        channels = self.pbx.channels.values()
        lines = ["Channel              Location             State   Application(Data)"]
        for chan in channels:
            lines.append(f"{chan.name[:20]:<20} {chan.exten}@{chan.context}:{chan.priority:<6} "
                         f"{STATES.get(chan.state, ''):<7} {chan.appl}({chan.data})")
        _channels, processed = self.pbx.call_counts()
        # handle_chanlist: ast_active_calls(), the channels running the dialplan (04_lists
        # 009: "16 active channels", "8 of 500 max active calls")
        running = sum(1 for chan in channels if chan.in_pbx)
        return [*lines, f"{len(self.pbx.channels)} active channels", f"{running} active calls",
                f"{processed} calls processed"]

    def _user(self, name: str) -> list[str] | None:
        user = self.pbx.config.users.get(name)
        if user is None:
            return None
        return ["", f"          username: {user.name}", "            secret: <Set>",
                "               ACL: no", f"         read perm: {perms.privilege(user.read)}",
                f"        write perm: {perms.privilege(user.write)}",
                "   displayconnects: yes", "allowmultiplelogin: yes"]
