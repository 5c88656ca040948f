"""Conferences (apps/app_confbridge.c): the ConfBridge application and its events.

``ConfBridge(conference[,bridge_profile[,user_profile[,menu]]])`` (``confbridge_exec``) puts
the channel into the named conference, creating it on first join (``join_conference_bridge``):

- creating it sends ``BridgeCreate`` (a ``base`` bridge, technology ``softmix``, creator
  ``ConfBridge``, named after the conference), pushes the announcer channel ``CBAnn/<name>``
  into the bridge (an internal channel: no event of its own, but it counts among the bridge's
  channels and peers, and takes a number from the Local channels' sequence), then sends
  ``ConfbridgeStart``; the first user makes the device ``confbridge:<name>`` INUSE
  (``conf_handle_first_join``);
- joining (``ast_bridge_join``): CEL BRIDGE_ENTER (its Peer: the other channels), BridgeEnter,
  ``BRIDGEPEER`` on every member (the others' names, comma-separated:
  ``set_bridge_peer_vars_multiparty``), then the join hook's ``ConfbridgeJoin``;
- leaving (the channel hangs up, is kicked, times out or is redirected): its ``BRIDGEPEER``
  cleared, the leave hook's ``ConfbridgeLeave``, BridgeLeave, CEL BRIDGE_EXIT, the others'
  ``BRIDGEPEER``; then ``CONFBRIDGE_RESULT`` (``HANGUP``, or ``KICKED``/``TIMEOUT`` set
  before); the last user out ends the conference (``conf_ended``: ``ConfbridgeEnd``, device
  NOT_INUSE), the announcer hangs up and the bridge is destroyed (BridgeDestroy).

A channel that hangs up in the conference ends its dialplan; a kicked or timed-out one goes
on with the next priority. Mute, lock and kick are the actions' (:mod:`amikit.sim.confbridge_actions`).
Prompts (join and leave sounds, "only person", "locked") are not played: the lab's users are
quiet, and the announcer is internal.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from amikit.sim import perms
from amikit.sim.channel import HANGUP, SOFTHANGUP_ASYNCGOTO, UP, Bridge, Channel
from amikit.sim.confbridge_profiles import (
    DEFAULT_BRIDGE,
    DEFAULT_USER,
    BridgeProfile,
    UserProfile,
    read_profiles,
)
from amikit.sim.dialplan import split_args
from amikit.sim.replies import Pairs, yes_no
from amikit.sim.waiting import wait_at_most

if TYPE_CHECKING:
    from amikit.sim.pbx import PBX

__all__ = ["Conference", "ConferenceBridge", "Conferences", "User"]

MAX_CONF_NAME = 128  # app_confbridge.h: a longer name is refused


@dataclass(eq=False)
class ConferenceBridge(Bridge):
    """A conference's mixing bridge: a member that must leave leaves alone."""

    departing: dict[str, asyncio.Event] = field(default_factory=dict)

    def leave(self, chan: Channel) -> None:
        """``ast_bridge_remove``: only ``chan`` leaves; the others stay."""
        event = self.departing.get(chan.name)
        if event is not None:
            event.set()


@dataclass(eq=False)
class User:
    """A conference user (``struct confbridge_user``)."""

    chan: Channel
    profile: UserProfile
    muted: bool = False
    kicked: bool = False
    waiting: bool = False  # a wait_marked user while no marked user is in


@dataclass(eq=False)
class Conference:
    """A conference (``struct confbridge_conference``): its bridge, announcer and users."""

    name: str
    profile: BridgeProfile
    bridge: ConferenceBridge
    announcer: Channel
    active: list[User] = field(default_factory=list)
    waiting: list[User] = field(default_factory=list)
    locked: bool = False
    muted: bool = False

    @property
    def users(self) -> list[User]:
        """Active users, then waiting ones, as the list actions walk them."""
        return [*self.active, *self.waiting]

    @property
    def markedusers(self) -> int:
        return sum(u.profile.marked for u in self.active)

    def head(self) -> Pairs:
        """What every Confbridge* event starts with (``send_conf_stasis``)."""
        return [("Conference", self.name), *self.bridge.block()]


class Conferences:
    """The PBX's conferences (``sim.pbx.conferences``), with the profiles of
    ``confbridge.conf``; the ``ConfBridge`` application joins a channel to one by name.

        >>> from amikit import AMIClient, Simulator
        >>> with Simulator(port=0, speed=20) as sim, AMIClient(sim.url, "hello", "world") as ami:
        ...     _ = ami.originate(Channel="Local/800@sets", Application="Wait", Data="5",
        ...                       Async=True)   # 800 runs ConfBridge(1)
        ...     joined = next(ami.events(names=["ConfbridgeJoin"]))
        ...     room = sim.pbx.conferences.find("1")
        ...     joined["Conference"], [user.chan.name == joined["Channel"] for user in room.users]
        ('1', [True])
    """

    def __init__(self, pbx: PBX) -> None:
        self.pbx = pbx
        self.user_profiles, self.bridge_profiles = read_profiles(pbx.config.confbridge)
        self.conferences: dict[str, Conference] = {}
        pbx.apps["confbridge"] = self.confbridge_exec

    def find(self, name: str) -> Conference | None:
        """``conf_find_bridge``."""
        return self.conferences.get(name)

    # -- the application -----------------------------------------------------------------
    async def confbridge_exec(self, chan: Channel, data: str) -> int | None:
        """``confbridge_exec``: join, stay until hung up, kicked, timed out or redirected."""
        pbx = self.pbx
        if chan.state != UP:
            pbx.answer(chan)
        args = [a.strip() for a in split_args(data)] + ["", "", ""]
        name = args[0]
        bridge_profile = self.bridge_profiles.get(args[1] or DEFAULT_BRIDGE)
        user_profile = self.user_profiles.get(args[2] or DEFAULT_USER)
        if not name or len(name) >= MAX_CONF_NAME or bridge_profile is None \
                or user_profile is None:
            pbx.varset(chan, "CONFBRIDGE_RESULT", "FAILED")
            return HANGUP
        user = User(chan, user_profile)
        conference = self.join_conference_bridge(name, user, bridge_profile)
        if conference is None:
            pbx.varset(chan, "CONFBRIDGE_RESULT", "FAILED")
            return HANGUP
        try:
            await self._bridge_join(conference, user)
        except asyncio.CancelledError:  # hung up (or the simulator stops)
            if not pbx.closing:
                self._after_bridge(conference, user)
            raise
        self._after_bridge(conference, user)
        if chan.softhangup & ~SOFTHANGUP_ASYNCGOTO:
            return HANGUP
        # The bridged call's CDR ends with the bridge; the dialplan that goes on starts another.
        chan.cdr_segments.append((chan.cdr_peer, chan.cdr_app))
        chan.cdr_peer = ""
        return None

    def _after_bridge(self, conference: Conference, user: User) -> None:
        """What ``confbridge_exec`` does once ``ast_bridge_join`` returns."""
        chan = user.chan
        if not user.kicked and chan.softhangup & ~SOFTHANGUP_ASYNCGOTO:
            self.pbx.varset(chan, "CONFBRIDGE_RESULT", "HANGUP")
        self.leave_conference(conference, user)

    # -- joining and leaving the conference ----------------------------------------------
    def join_conference_bridge(self, name: str, user: User,
                               profile: BridgeProfile) -> Conference | None:
        """``join_conference_bridge``: find or create the conference and add the user
        (None: locked, or full, for a user who is not an admin)."""
        conference = self.conferences.get(name)
        if conference is not None and not user.profile.admin and (
                conference.locked or 0 < conference.profile.max_members <= len(conference.active)):
            return None
        if conference is None:
            conference = self._create(name, profile)
        user.muted = user.profile.startmuted or (not user.profile.admin and conference.muted)
        if not conference.users:
            self._device(f"confbridge:{name}", "INUSE")  # conf_handle_first_join
        if user.profile.wait_marked and not user.profile.marked and not conference.markedusers:
            user.waiting = True
            conference.waiting.append(user)
            return conference
        conference.active.append(user)
        if user.profile.marked:  # the waiting users may come in now
            for waiter in conference.waiting:
                waiter.waiting = False
            conference.active += conference.waiting
            conference.waiting.clear()
        if len(conference.active) == 2:  # conf_handle_second_active
            self.pbx.moh.stop(conference.active[0].chan)
        return conference

    def _create(self, name: str, profile: BridgeProfile) -> Conference:
        """A new conference: its bridge (BridgeCreate), its announcer pushed into it, then
        ConfbridgeStart."""
        pbx = self.pbx
        bridge = ConferenceBridge(pbx.bridge_id(), type="base", technology="softmix",
                                  creator="ConfBridge", name=name)
        pbx.emit("BridgeCreate", perms.CALL, bridge.block())
        # alloc_playback_chan: ast_request("CBAnn"); an internal channel, so no event
        base = f"CBAnn/{name}-{pbx.unreal_seq():08x}"
        announcer = Channel(base + ";2", "", "", "CBAnn", f"CBAnn/{name}", "", "", state=UP,
                            language=profile.language)
        bridge.members.append(announcer)  # push_announcer
        conference = Conference(name, profile, bridge, announcer)
        self.conferences[name] = conference
        pbx.emit("ConfbridgeStart", perms.CALL, conference.head())
        return conference

    def leave_conference(self, conference: Conference, user: User) -> None:
        """``leave_conference`` through the conference's state: the last user out ends it;
        the last marked user out sends the end_marked users on; one left alone hears music
        if its profile says so."""
        was_marked = user.profile.marked
        for group in (conference.active, conference.waiting):
            if user in group:
                group.remove(user)
        if not conference.users:
            self._end(conference)
            return
        if was_marked and not conference.markedusers:
            for other in list(conference.active):
                if other.profile.end_marked or other.profile.end_marked_any:
                    self.kick(conference, other, "ENDMARKED")
        if len(conference.active) == 1 and not conference.waiting:
            self._moh_when_alone(conference.active[0])

    def _end(self, conference: Conference) -> None:
        """``conf_ended`` and the conference's destruction: ConfbridgeEnd, the device, the
        announcer's hangup and the bridge's BridgeDestroy."""
        pbx = self.pbx
        self.conferences.pop(conference.name, None)
        pbx.emit("ConfbridgeEnd", perms.CALL, conference.head())
        self._device(f"confbridge:{conference.name}", "NOT_INUSE")
        announcer = conference.announcer
        conference.bridge.members.remove(announcer)
        # the announcer's own device, as its hangup reports it (21_queue_conference_actions/055)
        self._device(announcer.device, "INUSE")
        self._device(announcer.device, "UNKNOWN")
        pbx.emit("BridgeDestroy", perms.CALL, conference.bridge.block())

    def _device(self, device: str, state: str) -> None:
        self.pbx.emit("DeviceStateChange", perms.CALL, [("Device", device), ("State", state)])

    def _moh_when_alone(self, user: User) -> None:
        if user.profile.music_on_hold_when_empty:
            self.pbx.moh.start(user.chan, user.profile.music_on_hold_class)

    # -- in the bridge ---------------------------------------------------------------------
    async def _bridge_join(self, conference: Conference, user: User) -> None:
        """``ast_bridge_join`` with the user's hooks: in until told to leave, or until the
        user profile's timeout (``user_timeout``)."""
        chan, bridge = user.chan, conference.bridge
        departing = bridge.departing[chan.name] = asyncio.Event()
        if len(conference.active) == 1 and not user.waiting:
            self._moh_when_alone(user)
        self._enter(conference, user)
        timeout = user.profile.timeout
        try:
            if timeout:
                if not await wait_at_most(departing, timeout / self.pbx.speed):
                    self.pbx.varset(chan, "CONFBRIDGE_RESULT", "TIMEOUT")
            else:
                await departing.wait()
        finally:
            bridge.departing.pop(chan.name, None)
            if not self.pbx.closing:
                self._depart(conference, user)

    def _enter(self, conference: Conference, user: User) -> None:
        """The channel enters the bridge: CEL, BridgeEnter, BRIDGEPEER, ConfbridgeJoin."""
        pbx, chan, bridge = self.pbx, user.chan, conference.bridge
        pbx.cel(chan, "BRIDGE_ENTER", bridge.cel_extra(), _peers(bridge, chan))
        bridge.members.append(chan)
        chan.bridge = bridge
        pbx.emit("BridgeEnter", perms.CALL, [*bridge.block(), *chan.state_headers()])
        self._set_peers(bridge)
        # the eldest member without a party B takes this one as its CDR's (main/cdr.c)
        eldest = next((m for m in bridge.members if m.tech != "CBAnn" and m is not chan
                       and not m.cdr_peer), None)
        if eldest is not None:
            eldest.cdr_peer = chan.name
        pbx.emit("ConfbridgeJoin", perms.CALL, [
            *conference.head(), *chan.state_headers(),
            ("Admin", yes_no(user.profile.admin)), ("Muted", yes_no(user.muted))])

    def _depart(self, conference: Conference, user: User) -> None:
        """The channel leaves the bridge (``bridge_channel_internal_join`` after its loop):
        its BRIDGEPEER, the leave hook's ConfbridgeLeave, BridgeLeave, CEL BRIDGE_EXIT, the
        others' BRIDGEPEER. One that hung up without a cause gets a normal clearing."""
        pbx, chan, bridge = self.pbx, user.chan, conference.bridge
        pbx.moh.stop(chan)
        if chan.softhangup & ~SOFTHANGUP_ASYNCGOTO and not chan.hangupcause:
            chan.hangupcause = 16
        if not chan.dead:
            pbx.varset(chan, "BRIDGEPEER", "")
        pbx.emit("ConfbridgeLeave", perms.CALL, [
            *conference.head(), *chan.state_headers(), ("Admin", yes_no(user.profile.admin))])
        bridge.members.remove(chan)
        chan.bridge = None
        pbx.emit("BridgeLeave", perms.CALL, [*bridge.block(), *chan.state_headers()])
        pbx.cel(chan, "BRIDGE_EXIT", bridge.cel_extra(), _peers(bridge, chan))
        self._set_peers(bridge)

    def _set_peers(self, bridge: ConferenceBridge) -> None:
        """``set_bridge_peer_vars_multiparty``: each member's BRIDGEPEER names the others."""
        for member in bridge.members:
            if member.tech != "CBAnn" and not member.dead:  # the announcer's are not published
                self.pbx.varset(member, "BRIDGEPEER", _peers(bridge, member))

    # -- what the actions do ---------------------------------------------------------------
    def kick(self, conference: Conference, user: User, result: str = "KICKED") -> None:
        """``kick_conference_participant`` for one user: CONFBRIDGE_RESULT, then
        ``ast_bridge_remove``."""
        user.kicked = True
        self.pbx.varset(user.chan, "CONFBRIDGE_RESULT", result)
        conference.bridge.leave(user.chan)

    def mute(self, conference: Conference, user: User, mute: bool) -> None:
        """``generic_mute_unmute_user``: ConfbridgeMute or ConfbridgeUnmute."""
        user.muted = mute
        self.pbx.emit("ConfbridgeMute" if mute else "ConfbridgeUnmute", perms.CALL, [
            *conference.head(), *user.chan.state_headers(),
            ("Admin", yes_no(user.profile.admin))])

    def up_time(self, user: User) -> int:
        """``ast_channel_get_up_time``: whole seconds since the channel answered."""
        answered = user.chan.answered
        return int(time.time() - answered) if answered else 0


def _peers(bridge: Bridge, chan: Channel) -> str:
    return ",".join(m.name for m in bridge.members if m is not chan)
