"""The records Asterisk keeps of a call, as AMI events: CEL, Cdr and DeviceStateChange.

On a real server these come from their own task processors (main/cel.c, main/cdr.c,
main/devicestate.c), so their place among the channel events varies from run to run; what
does not vary is which of them are sent and what they say, which is what this module builds.

    >>> from amikit.sim.channel import Channel
    >>> chan = Channel("Local/101@sets-00000000;2", "1.2", "1.1", "Local", "Local/101@sets",
    ...                "sets", "101")
    >>> dict(cel(chan, "CHAN_START"))["EventName"]
    'CHAN_START'
    >>> cdr_disposition(chan)
    'FAILED'
"""

from __future__ import annotations

import json
import time

from amikit.sim.channel import BUSY, RINGING, UP, Channel
from amikit.sim.replies import Pairs

__all__ = ["cdr", "cdr_disposition", "cel", "device_state", "hangup_extra", "localtime"]

#: DIALSTATUS → CDR disposition for a dialed channel that was never answered
#: (``cdr_object_set_disposition`` and the dial end handling in main/cdr.c).
_DIAL_DISPOSITION = {"BUSY": "BUSY", "CONGESTION": "FAILED", "NOANSWER": "NO ANSWER",
                     "CHANUNAVAIL": "FAILED", "CANCEL": "NO ANSWER"}


def localtime(epoch: float | None) -> str:
    """CEL and CDR times: the server's local time, to the second ('' when unset)."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch)) if epoch else ""


def cel(chan: Channel, event: str, extra: str = "", peer: str = "") -> Pairs:
    """A CEL event's body, in the order cel/cel_manager.c (``manager_log``) writes it."""
    return [("EventName", event), ("AccountCode", chan.accountcode),
            ("CallerIDnum", chan.caller_num if event != "CHAN_START" else ""),
            ("CallerIDname", chan.caller_name if event != "CHAN_START" else ""),
            ("CallerIDani", chan.ani if event != "CHAN_START" else ""),
            ("CallerIDrdnis", ""), ("CallerIDdnid", ""),
            ("Exten", chan.exten), ("Context", chan.context), ("Channel", chan.name),
            ("Application", chan.appl), ("AppData", chan.data),
            ("EventTime", localtime(time.time())), ("AMAFlags", "DOCUMENTATION"),
            ("UniqueID", chan.uniqueid), ("LinkedID", chan.linkedid),
            ("Userfield", chan.userfield), ("Peer", peer), ("PeerAccount", ""), ("Extra", extra)]


def hangup_extra(chan: Channel, source: str) -> str:
    """CEL HANGUP's Extra: the cause, who hung up, and the channel's DIALSTATUS."""
    return json.dumps({"hangupcause": chan.hangupcause, "hangupsource": source,
                       "dialstatus": chan.variables.get("DIALSTATUS", "")}, separators=(",", ":"))


def cdr_disposition(chan: Channel) -> str:
    """ANSWERED once answered; else from how its dial ended, else from its hangup cause."""
    if chan.answered:
        return "ANSWERED"
    if chan.dialstatus in _DIAL_DISPOSITION:
        return _DIAL_DISPOSITION[chan.dialstatus]
    return "BUSY" if chan.hangupcause == 17 else "FAILED"


def cdr(chan: Channel, peer: str, last: tuple[str, str]) -> Pairs:
    """A Cdr event of ``chan`` as party A, with ``peer`` as party B and ``last`` its last
    application."""
    end = time.time()
    app, data = last
    return [("AccountCode", chan.accountcode), ("Source", chan.caller_num),
            ("Destination", chan.cdr_exten or chan.exten),
            ("DestinationContext", chan.context),
            ("CallerID", f'"{chan.caller_name}" <{chan.caller_num}>'), ("Channel", chan.name),
            ("DestinationChannel", peer),
            ("LastApplication", app), ("LastData", data),
            ("StartTime", localtime(chan.created)), ("AnswerTime", localtime(chan.answered)),
            ("EndTime", localtime(end)), ("Duration", str(int(end - chan.created))),
            ("BillableSeconds", str(int(end - chan.answered)) if chan.answered else "0"),
            ("Disposition", cdr_disposition(chan)), ("AMAFlags", "DOCUMENTATION"),
            ("UniqueID", chan.uniqueid), ("UserField", chan.userfield)]


def device_state(chan: Channel, *, ended: bool, exists: bool) -> str:
    """The state a channel's device reports (``local_devicestate``, ``chan_pjsip_devicestate``).

    A Local device whose extension does not exist is INVALID; otherwise a channel that rings,
    answers or is busy makes its device INUSE (a phone's: RINGING, INUSE, BUSY) and its end
    NOT_INUSE.
    """
    if chan.tech == "Local":
        if not exists:
            return "INVALID"
        return "NOT_INUSE" if ended else "INUSE"
    if ended:
        return "NOT_INUSE"
    return {RINGING: "RINGING", UP: "INUSE", BUSY: "BUSY"}.get(chan.state, "INUSE")
