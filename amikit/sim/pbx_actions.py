"""The AMI actions about channels and the dialplan, answered by the simulated PBX.

Originate (``action_originate``), Redirect (``action_redirect``), Hangup (``action_hangup``:
``ast_channel_softhangup_withcause_locked``, which sends no event of its own), Status,
CoreShowChannels, Getvar, Setvar and ShowDialPlan, with the replies and list shapes of
main/manager.c and main/pbx.c. ``Command`` is answered by :mod:`amikit.sim.cli`.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from amikit.protocol import is_true
from amikit.sim import perms
from amikit.sim.channel import SOFTHANGUP_EXPLICIT, Channel
from amikit.sim.channel_replies import core_show_channel_item, status_item, status_variables
from amikit.sim.cli import CLI
from amikit.sim.confbridge_actions import ConfbridgeActions
from amikit.sim.dial import REASON
from amikit.sim.dialplan import split_args
from amikit.sim.queue_actions import QueueActions
from amikit.sim.replies import Pairs, error, header, is_number, list_reply, response, with_action_id
from amikit.sim.variables import split_callerid

if TYPE_CHECKING:
    from amikit.sim.manager import Request, Session
    from amikit.sim.pbx import PBX

__all__ = ["PBXActions", "hangup_channel"]

#: Originate applications that need the system class (``originate_app_permissions``).
SYSTEM_APPS = ("agi", "exec", "system", "mixmonitor", "originate", "reload", "dbdeltree",
               "externalivr")
SYSTEM_DATA = ("SHELL", "EVAL", "CURL", "DB", "FILE", "ODBC", "REALTIME")


def app_permitted(app: str, data: str) -> bool:
    """``is_originate_app_permitted`` over ``originate_app_permissions``: whether a user without
    the system class may originate to this application with this data.

    The application is matched case-insensitively against substrings (``app_match``:
    ``strcasestr``), so TrySystem, TryExec and EAGI are caught; the data case-sensitively
    against substrings (``appdata_match``: ``strstr``), so ``${SHELL(id)}`` is.
    """
    lowered = app.lower()
    if any(word in lowered for word in SYSTEM_APPS):
        return False
    return not (data and any(word in data for word in SYSTEM_DATA))


def hangup_channel(pbx: PBX, chan: Channel, cause: int | None = None) -> None:
    """What the Hangup action does to a channel (``ast_channel_softhangup_withcause_locked``):
    the cause, if given, and a soft hangup that sends no event (the channel's dialplan ending
    sends the SoftHangupRequest). :mod:`amikit.sim.traffic` hangs up impatient callers so."""
    pbx.softhangup(chan, SOFTHANGUP_EXPLICIT, cause=cause, publish=False)


class PBXActions:
    """The PBX's side of the manager: action handlers by lower-case name, and call counts."""

    def __init__(self, pbx: PBX) -> None:
        self.pbx = pbx
        self.cli = CLI(pbx)
        self.handlers = {
            "originate": self.originate, "redirect": self.redirect, "hangup": self.hangup,
            "status": self.status, "coreshowchannels": self.coreshowchannels,
            "getvar": self.getvar, "setvar": self.setvar, "showdialplan": self.showdialplan,
            "command": self.cli.action,
            **QueueActions(pbx).handlers, **ConfbridgeActions(pbx).handlers,
        }

    def call_counts(self) -> tuple[int, int]:
        return self.pbx.call_counts()

    async def originate(self, session: Session, request: Request, msg: Pairs) -> list[Pairs]:
        action_id = header(msg, "ActionID")
        channel = header(msg, "Channel")
        if not channel:
            return [error(action_id, "Channel not specified")]
        app, data = header(msg, "Application"), header(msg, "Data")
        context, exten, prio = header(msg, "Context"), header(msg, "Exten"), header(msg, "Priority")
        timeout_text = header(msg, "Timeout")
        try:
            timeout = int(timeout_text) / 1000 if timeout_text else 30.0
        except ValueError:
            return [error(action_id, "Invalid timeout")]
        if "/" not in channel:
            return [error(action_id, "Invalid channel")]
        priority = 1
        if not app:
            if not (exten and context and prio):
                return [error(action_id, "Originate with 'Exten' requires 'Context' and 'Priority'")]
            if is_number(prio):
                priority = int(prio)
            else:
                label = self.pbx.dialplan.label(context, exten, prio)
                if label is None:
                    return [error(action_id, "Invalid priority")]
                priority = label
        if app and not session.writeperm & perms.SYSTEM and not app_permitted(app, data):
            return [error(action_id, "Originate Access Forbidden: app or data blacklisted")]
        callerid = split_callerid(header(msg, "CallerID"))
        variables = []
        for name, value in msg:
            if name.lower() == "variable":
                for item in split_args(value):
                    key, _, val = item.partition("=")
                    variables.append((key.strip(), val))
        ids = (header(msg, "ChannelId") or None, header(msg, "OtherChannelId") or None)
        place = [("Application", app), ("Data", data)] if app else [("Context", context),
                                                                    ("Exten", exten)]

        def originate_response(status: str, chan: Channel | None) -> None:
            ok = status == "ANSWER" and chan is not None
            reason = REASON.get(status, 0) if chan is not None else 0
            if status == "NOANSWER" and chan is not None and not chan.ringing:
                reason = 1
            self.pbx.emit("OriginateResponse", perms.CALL, [
                *with_action_id(action_id), ("Response", "Success" if ok else "Failure"),
                ("Channel", chan.name if ok and chan else channel), *place,
                ("Reason", str(reason)),
                # a failed call reports the ChannelId it was given, else no id at all
                ("Uniqueid", chan.uniqueid if ok and chan else ids[0] or "<unknown>"),
                ("CallerIDNum", callerid[1] or "<unknown>"),
                ("CallerIDName", callerid[0] or "<unknown>")])

        asynchronous = is_true(header(msg, "Async"))
        run = self.pbx.dial.originate(
            channel, context=context or None, exten=exten or None, priority=priority,
            app=app or None, data=data, timeout=timeout, callerid=callerid,
            account=header(msg, "Account"), variables=variables, ids=ids,
            on_result=originate_response if asynchronous else None)
        if asynchronous:
            self.pbx.spawn(run)
            return [response("Success", action_id, [("Message", "Originate successfully queued")])]
        status, _chan = await run
        if status != "ANSWER":
            return [error(action_id, "Originate failed")]
        return [response("Success", action_id, [("Message", "Originate successfully queued")])]

    async def redirect(self, session: Session, request: Request, msg: Pairs) -> list[Pairs]:
        action_id = header(msg, "ActionID")
        for name, text in (("Channel", "Channel not specified"), ("Context", "Context not specified"),
                           ("Exten", "Exten not specified"), ("Priority", "Priority not specified")):
            if not header(msg, name):
                return [error(action_id, text)]
        moves = []
        for prefix in ("", "Extra"):
            chan_name = header(msg, prefix + "Channel")
            if not chan_name:
                continue
            chan = self.pbx.find_channel(chan_name)
            if chan is None:
                return [error(action_id, f"Channel does not exist: {chan_name}")]
            context = header(msg, prefix + "Context") or header(msg, "Context")
            exten = header(msg, prefix + "Exten") or header(msg, "Exten")
            prio = header(msg, prefix + "Priority") or header(msg, "Priority")
            number = int(prio) if is_number(prio) else self.pbx.dialplan.label(context, exten, prio)
            if number is None:
                return [error(action_id, "Priority is invalid")]
            moves.append((chan, context, exten, number))
        for chan, context, exten, number in moves:
            self.pbx.redirect(chan, context, exten, number)
        text = "Dual Redirect successful" if len(moves) == 2 else "Redirect successful"
        return [response("Success", action_id, [("Message", text)])]

    async def hangup(self, session: Session, request: Request, msg: Pairs) -> list[Pairs]:
        action_id = header(msg, "ActionID")
        name = header(msg, "Channel")
        if not name:
            return [error(action_id, "No channel specified")]
        cause_text = header(msg, "Cause")
        # action_hangup: strtol with the whole text consumed, 0..127, else the cause is ignored
        cause = int(cause_text) if is_number(cause_text) and 0 < int(cause_text) <= 127 else None
        if len(name) > 2 and name.startswith("/") and name.endswith("/"):
            try:
                pattern = re.compile(name[1:-1])
            except re.error:
                return [error(action_id, "Invalid regex")]
            matched = [c for c in list(self.pbx.channels.values()) if pattern.search(c.name)]
            items = [[("Event", "ChannelHungup"), ("Channel", c.name),
                      *with_action_id(action_id)] for c in matched]
            for chan in matched:
                hangup_channel(self.pbx, chan, cause)
            return [response("Success", action_id, [("EventList", "start"),
                                                     ("Message", "Channels hung up will follow")]),
                    *items, [("Event", "ChannelsHungupListComplete"),
                             *with_action_id(action_id),
                             ("EventList", "Complete"), ("ListItems", str(len(items)))]]
        chan = self.pbx.find_channel(name)
        if chan is None:
            return [error(action_id, "No such channel")]
        hangup_channel(self.pbx, chan, cause)
        return [response("Success", action_id, [("Message", "Channel Hungup")])]

    async def status(self, session: Session, request: Request, msg: Pairs) -> list[Pairs]:
        action_id = header(msg, "ActionID")
        name = header(msg, "Channel")
        if name:
            chan = self.pbx.find_channel(name)
            if chan is None:
                return [error(action_id, "No such channel")]
            chans = [chan]
        else:
            chans = list(self.pbx.channels.values())
        items = []
        for chan in chans:
            names = status_variables(msg, chan.variables)
            variables = [(var, self.pbx.vars.lookup(chan, var) if self.pbx.vars.is_set(chan, var)
                          else None) for var in names]
            items.append(status_item(
                chan.state_headers(), connected=(chan.connected_num, chan.connected_name),
                bridge_id=chan.bridge.id if chan.bridge else "", application=chan.appl,
                data=chan.data, seconds=int(time.time() - chan.created), variables=variables,
                action_id=action_id))
        return list_reply(action_id, "Channel status will follow", items, "StatusComplete",
                          [("Items", str(len(items)))])

    async def coreshowchannels(self, session: Session, request: Request,
                                      msg: Pairs) -> list[Pairs]:
        action_id = header(msg, "ActionID")
        items = [core_show_channel_item(
            chan.state_headers(), application=chan.appl, data=chan.data,
            seconds=int(time.time() - chan.created),
            bridge_id=chan.bridge.id if chan.bridge else "", action_id=action_id)
            for chan in self.pbx.channels.values()]
        return list_reply(action_id, "Channels will follow", items, "CoreShowChannelsComplete")

    def _channel_header(self, msg: Pairs, action_id: str) -> tuple[Channel | None, list[Pairs]]:
        """The channel an optional Channel header names, or the error reply for a bad one."""
        name = header(msg, "Channel")
        if not name:
            return None, []
        chan = self.pbx.find_channel(name)
        return chan, [] if chan is not None else [error(action_id, "No such channel")]

    async def getvar(self, session: Session, request: Request, msg: Pairs) -> list[Pairs]:
        action_id = header(msg, "ActionID")
        variable = header(msg, "Variable")
        if not variable:
            return [error(action_id, "No variable specified")]
        if re.match(r"(SHELL|EVAL)\(", variable, re.I) and not session.writeperm & perms.SYSTEM:
            return [error(action_id, "GetVar Access Forbidden: Variable")]
        chan, refusal = self._channel_header(msg, action_id)
        if refusal:
            return refusal
        return [response("Success", action_id, [("Variable", variable),
                                                 ("Value", self.pbx.vars.lookup(chan, variable))])]

    async def setvar(self, session: Session, request: Request, msg: Pairs) -> list[Pairs]:
        action_id = header(msg, "ActionID")
        variable = header(msg, "Variable")
        if not variable:
            return [error(action_id, "No variable specified")]
        chan, refusal = self._channel_header(msg, action_id)
        if refusal:
            return refusal
        if not self.pbx.vars.assign(chan, variable, header(msg, "Value", raw=True)):
            return [error(action_id, "Variable not set")]
        return [response("Success", action_id, [("Message", "Variable Set")])]

    async def showdialplan(self, session: Session, request: Request,
                                  msg: Pairs) -> list[Pairs]:
        action_id = header(msg, "ActionID")
        want_ctx, want_ext = header(msg, "Context"), header(msg, "Extension")
        items, contexts, extens = [], set(), set()
        for ctx in self.pbx.dialplan.contexts.values():
            if want_ctx and ctx.name != want_ctx:
                continue
            for exten, priorities in ctx.extensions.items():
                if want_ext and exten != want_ext:
                    continue
                for number, step in sorted(priorities.items()):
                    items.append([("Event", "ListDialplan"),
                                  *with_action_id(action_id),
                                  ("Context", ctx.name), ("Extension", exten),
                                  ("Priority", str(number)), ("Application", step.app),
                                  ("AppData", step.data), ("Registrar", "pbx_config")])
                    contexts.add(ctx.name)
                    extens.add((ctx.name, exten))
        if not items:
            return [error(action_id, f"Did not find context {want_ctx}" if want_ctx
                           else "Did not find any dialplan")]
        return list_reply(action_id, "DialPlan list will follow", items, "ShowDialPlanComplete",
                          [("ListExtensions", str(len(extens))), ("ListPriorities", str(len(items))),
                           ("ListContexts", str(len(contexts)))])
