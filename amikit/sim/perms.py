"""AMI permission classes (``perms[]`` in include/asterisk/manager.h, main/manager.c).

    >>> parse_perms("call,originate") == CALL | ORIGINATE
    True
    >>> privilege(CALL)
    'call,all'
"""

from __future__ import annotations

__all__ = ["ACTION_CLASSES", "ALL", "CLASSES", "UNSIMULATED_CLASSES", "parse_perms", "parse_privilege",
           "privilege"]

SYSTEM, CALL, LOG, VERBOSE, COMMAND = 1 << 0, 1 << 1, 1 << 2, 1 << 3, 1 << 4
AGENT, USER, CONFIG, DTMF, REPORTING = 1 << 5, 1 << 6, 1 << 7, 1 << 8, 1 << 9
CDR, DIALPLAN, ORIGINATE, AGI, CC, AOC = 1 << 10, 1 << 11, 1 << 12, 1 << 13, 1 << 15, 1 << 16
TEST, SECURITY, MESSAGE = 1 << 17, 1 << 18, 1 << 30
ALL = 0x7FFFFFFF

CLASSES = {
    "system": SYSTEM, "call": CALL, "log": LOG, "verbose": VERBOSE, "command": COMMAND,
    "agent": AGENT, "user": USER, "config": CONFIG, "dtmf": DTMF, "reporting": REPORTING,
    "cdr": CDR, "dialplan": DIALPLAN, "originate": ORIGINATE, "agi": AGI, "cc": CC, "aoc": AOC,
    "test": TEST, "security": SECURITY, "message": MESSAGE,
}

#: The write class each action needs (0: anyone, even before Login for some).
ACTION_CLASSES = {
    "ping": 0, "events": 0, "logoff": 0, "login": 0, "challenge": 0, "listcommands": 0,
    "waitevent": 0, "hangup": SYSTEM | CALL, "status": SYSTEM | CALL | REPORTING,
    "setvar": CALL, "getvar": CALL | REPORTING, "redirect": CALL, "originate": ORIGINATE,
    "command": COMMAND, "coreshowchannels": SYSTEM | REPORTING, "userevent": USER,
    "filter": SYSTEM, "coresettings": SYSTEM | REPORTING, "corestatus": SYSTEM | REPORTING,
    "showdialplan": CONFIG | REPORTING,
    # app_queue.c load_module
    "queuestatus": 0, "queuesummary": 0, "queueadd": AGENT, "queueremove": AGENT,
    "queuepause": AGENT, "queuelog": AGENT, "queuepenalty": AGENT,
    "queuememberringinuse": AGENT, "queuerule": 0, "queuereason": AGENT, "queuereset": 0,
    "queuewithdrawcaller": 0, "queuechangepriority": 0,
    # app_confbridge.c load_module
    "confbridgelist": REPORTING, "confbridgelistrooms": REPORTING, "confbridgemute": CALL,
    "confbridgeunmute": CALL, "confbridgekick": CALL, "confbridgelock": CALL,
    "confbridgeunlock": CALL, "confbridgestartrecord": SYSTEM, "confbridgestoprecord": SYSTEM,
    "confbridgesetsinglevideosrc": CALL,
}

#: Actions Asterisk registers that the simulator does not answer, with their write class:
#: ``process_message`` answers "Permission denied" to a user without the class before it
#: would run them, so only an authorised user sees "Invalid/unknown command".
UNSIMULATED_CLASSES = {
    "getconfig": SYSTEM | CONFIG, "getconfigjson": SYSTEM | CONFIG, "updateconfig": CONFIG,
    "createconfig": CONFIG, "listcategories": CONFIG, "reload": SYSTEM | CONFIG,
    "moduleload": SYSTEM, "modulecheck": SYSTEM, "loggerrotate": SYSTEM,
}


def parse_perms(text: str) -> int:
    """A manager.conf ``read=``/``write=`` list as a bit mask (names are case-sensitive)."""
    mask = 0
    for name in (n.strip() for n in text.split(",")):
        if not name or name == "none":
            continue
        if name == "all":
            mask |= ALL
        elif name in CLASSES:
            mask |= CLASSES[name]
        else:
            raise ValueError(f"unknown permission class {name!r}")
    return mask


def privilege(mask: int) -> str:
    """An event's ``Privilege`` value: its classes, then ``all`` (``authority_to_str``)."""
    names = [name for name, bit in CLASSES.items() if mask & bit]
    return ",".join([*names, "all"])


def parse_privilege(text: str | None) -> int:
    """An event's classes from its recorded ``Privilege`` (``call,all``), names in any case;
    ``all`` (which ``authority_to_str`` adds to every event) and unknown names add nothing.
    An event that names no class (or has no Privilege) goes to every reader: ``ALL``.

        >>> parse_privilege("call,all") == CALL, parse_privilege(None) == ALL
        (True, True)
    """
    mask = 0
    for name in (text or "").split(","):
        mask |= CLASSES.get(name.strip().lower(), 0)
    return mask or ALL
