"""The AMI actions of confbridges (apps/app_confbridge.c).

``ConfbridgeListRooms`` (``action_confbridgelistrooms``), ``ConfbridgeList``
(``action_confbridgelist``), ``ConfbridgeMute``/``ConfbridgeUnmute``
(``action_mute_unmute_helper`` over ``generic_mute_unmute_helper``: a channel name prefix,
``all`` or ``participants``), ``ConfbridgeLock``/``ConfbridgeUnlock``
(``action_lock_unlock_helper``) and ``ConfbridgeKick`` (``action_confbridgekick`` over
``kick_conference_participant``: the exact name, ``all`` or ``participants``), with their
replies as recorded (04_lists, 21_queue_conference_actions).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from amikit.sim.confbridge import Conference, User
from amikit.sim.replies import (
    Pairs,
    error,
    header,
    list_reply,
    response,
    with_action_id,
    yes_no,
)

if TYPE_CHECKING:
    from amikit.sim.manager import Handler, Request, Session
    from amikit.sim.pbx import PBX

__all__ = ["ConfbridgeActions"]

NO_NAME = "No Conference name provided."
NO_CONFERENCES = "No active conferences."
NO_SUCH_CONFERENCE = "No Conference by that name found."
NO_SUCH_CHANNEL = "No Channel by that name found in Conference."


def _ack(action_id: str, text: str) -> list[Pairs]:
    """``astman_send_ack``."""
    return [response("Success", action_id, [("Message", text)])]


def _chosen(users: list[User], channel: str, matches: Callable[[str, str], bool]) -> list[User]:
    """The users an action's ``Channel`` names: the first match, or every user for ``all``,
    every non-admin for ``participants`` (the helpers' walk over the active, then the waiting
    list, which stops at the first channel that matches by name)."""
    every = channel.lower() == "all"
    participants = channel.lower() == "participants"
    chosen = []
    for user in users:
        match = matches(channel, user.chan.name)
        if match or every or (participants and not user.profile.admin):
            chosen.append(user)
            if match:
                break
    return chosen


class ConfbridgeActions:
    """Action handlers by lower-case name."""

    def __init__(self, pbx: PBX) -> None:
        self.pbx = pbx
        self.handlers: dict[str, Handler] = {
            "confbridgelistrooms": self.list_rooms, "confbridgelist": self.list_users,
            "confbridgemute": self.mute, "confbridgeunmute": self.unmute,
            "confbridgelock": self.lock, "confbridgeunlock": self.unlock,
            "confbridgekick": self.kick,
        }

    def _conference(self, msg: Pairs, action_id: str) -> tuple[Conference | None, list[Pairs]]:
        """The conference the action names, or the error reply, checked in Asterisk's order."""
        name = header(msg, "Conference")
        if not name:
            return None, [error(action_id, NO_NAME)]
        if not self.pbx.conferences.conferences:
            return None, [error(action_id, NO_CONFERENCES)]
        conference = self.pbx.conferences.find(name)
        if conference is None:
            return None, [error(action_id, NO_SUCH_CONFERENCE)]
        return conference, []

    async def list_rooms(self, session: Session, request: Request, msg: Pairs) -> list[Pairs]:
        action_id = header(msg, "ActionID")
        conferences = list(self.pbx.conferences.conferences.values())
        if not conferences:
            return [error(action_id, NO_CONFERENCES)]
        items = [[("Event", "ConfbridgeListRooms"), *with_action_id(action_id),
                  ("Conference", c.name), ("Parties", str(len(c.users))),
                  ("Marked", str(c.markedusers)), ("Locked", yes_no(c.locked)),
                  ("Muted", yes_no(c.muted))] for c in conferences]
        return list_reply(action_id, "Confbridge conferences will follow", items,
                          "ConfbridgeListRoomsComplete")

    async def list_users(self, session: Session, request: Request, msg: Pairs) -> list[Pairs]:
        action_id = header(msg, "ActionID")
        conference, refusal = self._conference(msg, action_id)
        if conference is None:
            return refusal
        conferences = self.pbx.conferences
        items = []
        for user in conference.users:  # action_confbridgelist_item
            profile = user.profile
            items.append([
                ("Event", "ConfbridgeList"), *with_action_id(action_id),
                ("Conference", conference.name), ("Admin", yes_no(profile.admin)),
                ("MarkedUser", yes_no(profile.marked)), ("WaitMarked", yes_no(profile.wait_marked)),
                ("EndMarked", yes_no(profile.end_marked)),
                ("EndMarkedAny", yes_no(profile.end_marked_any)), ("Waiting", yes_no(user.waiting)),
                ("Muted", yes_no(user.muted)), ("Talking", "No"),
                ("AnsweredTime", str(conferences.up_time(user))), *user.chan.state_headers()])
        return list_reply(action_id, "Confbridge user list will follow", items,
                          "ConfbridgeListComplete")

    async def _mute_unmute(self, msg: Pairs, mute: bool) -> list[Pairs]:
        """``action_mute_unmute_helper``: a channel name prefix matches, case-insensitively."""
        action_id = header(msg, "ActionID")
        name, channel = header(msg, "Conference"), header(msg, "Channel")
        if not name:
            return [error(action_id, NO_NAME)]
        if not channel:
            return [error(action_id, "No channel name provided.")]
        conference, refusal = self._conference(msg, action_id)
        if conference is None:
            return refusal
        chosen = _chosen(conference.users, channel,
                         lambda given, chan: chan.lower().startswith(given.lower()))
        if not chosen:
            return [error(action_id, NO_SUCH_CHANNEL)]
        for user in chosen:
            self.pbx.conferences.mute(conference, user, mute)
        return _ack(action_id, "User muted" if mute else "User unmuted")

    async def mute(self, session: Session, request: Request, msg: Pairs) -> list[Pairs]:
        return await self._mute_unmute(msg, True)

    async def unmute(self, session: Session, request: Request, msg: Pairs) -> list[Pairs]:
        return await self._mute_unmute(msg, False)

    async def _lock_unlock(self, msg: Pairs, lock: bool) -> list[Pairs]:
        """``action_lock_unlock_helper``: no event, only the flag."""
        action_id = header(msg, "ActionID")
        conference, refusal = self._conference(msg, action_id)
        if conference is None:
            return refusal
        conference.locked = lock
        return _ack(action_id, "Conference locked" if lock else "Conference unlocked")

    async def lock(self, session: Session, request: Request, msg: Pairs) -> list[Pairs]:
        return await self._lock_unlock(msg, True)

    async def unlock(self, session: Session, request: Request, msg: Pairs) -> list[Pairs]:
        return await self._lock_unlock(msg, False)

    async def kick(self, session: Session, request: Request, msg: Pairs) -> list[Pairs]:
        """``action_confbridgekick``: the channel's exact name (any case), ``all`` or
        ``participants``; a user already kicked is passed over."""
        action_id = header(msg, "ActionID")
        conference, refusal = self._conference(msg, action_id)
        if conference is None:
            return refusal
        channel = header(msg, "Channel")
        candidates = [u for u in conference.users if not u.kicked]
        chosen = _chosen(candidates, channel, lambda given, chan: given.lower() == chan.lower())
        if not chosen:
            return [error(action_id, NO_SUCH_CHANNEL)]
        for user in chosen:
            self.pbx.conferences.kick(conference, user)
        # a case-sensitive strcmp here, where the match above ignores case
        return _ack(action_id, "All participants kicked" if channel == "all" else "User kicked")
