"""The list items that describe a channel or a bridge, shared by the live PBX and replay.

``Status`` (``action_status``), ``CoreShowChannels`` (``action_coreshowchannels``) and
``BridgeList`` (``manager_bridges_list`` in main/manager_bridges.c) items, in Asterisk's
header order, built from a channel's snapshot headers and the few facts beside them.

    >>> state = [("Channel", "PJSIP/A-1"), ("Uniqueid", "1.1")]
    >>> core_show_channel_item(state, application="Wait", data="5", seconds=3725,
    ...                        bridge_id="", action_id="c1")[-2:]
    [('Duration', '01:02:05'), ('BridgeId', '')]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from amikit.protocol import is_true
from amikit.sim.replies import Pairs, header, with_action_id

__all__ = ["bridge_list_item", "core_show_channel_item", "find_channel", "status_item",
           "status_variables"]

T = TypeVar("T")


def status_item(state: Pairs, *, connected: tuple[str, str], bridge_id: str, application: str,
                data: str, seconds: int, variables: list[tuple[str, str | None]],
                action_id: str) -> Pairs:
    """A ``Status`` event for one channel: its snapshot, then ``action_status``'s lines;
    ``variables`` as ``(name, value)``, a value of None written ``(null)``."""
    tech = next((v for n, v in state if n == "Channel"), "").partition("/")[0]
    item = [("Event", "Status"), ("Privilege", "Call"), *state,
            ("Type", tech), ("DNID", ""),
            ("EffectiveConnectedLineNum", connected[0] or "<unknown>"),
            ("EffectiveConnectedLineName", connected[1] or "<unknown>"),
            ("TimeToHangup", "0"), ("BridgeID", bridge_id),
            ("Application", application), ("Data", data), ("Nativeformats", "(slin)"),
            ("Readformat", "slin"), ("Readtrans", ""), ("Writeformat", "slin"),
            ("Writetrans", ""), ("Callgroup", "0"), ("Pickupgroup", "0"),
            ("Seconds", str(seconds))]
    item += [("Variable", f"{name}={'(null)' if value is None else value}") for name, value in variables]
    return item + with_action_id(action_id)


def core_show_channel_item(state: Pairs, *, application: str, data: str, seconds: int,
                           bridge_id: str, action_id: str) -> Pairs:
    """A ``CoreShowChannel`` event: the snapshot, the application, ``HH:MM:SS`` up, the bridge."""
    duration = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return [("Event", "CoreShowChannel"), *with_action_id(action_id), *state,
            ("Application", application), ("ApplicationData", data),
            ("Duration", duration), ("BridgeId", bridge_id)]


def bridge_list_item(bridge: Pairs, action_id: str) -> Pairs:
    """A ``BridgeListItem`` event: the bridge's snapshot headers."""
    return [("Event", "BridgeListItem"), *with_action_id(action_id), *bridge]


def find_channel(channels: Iterable[T], name: str, name_of: Callable[[T], str],
                 uniqueid_of: Callable[[T], str]) -> T | None:
    """``ast_channel_get_by_name``: the channel of that name (compared without case, as
    ``ast_channel_by_name_cb`` does), else the one with that Uniqueid
    (``ast_channel_by_uniqueid_cb``, also without case).

        >>> chans = [("PJSIP/A-1", "1.1"), ("PJSIP/B-2", "1.2")]
        >>> find_channel(chans, "pjsip/b-2", lambda c: c[0], lambda c: c[1])
        ('PJSIP/B-2', '1.2')
        >>> find_channel(chans, "1.1", lambda c: c[0], lambda c: c[1])
        ('PJSIP/A-1', '1.1')
    """
    wanted = name.lower()
    every = list(channels)
    return (next((c for c in every if name_of(c).lower() == wanted), None)
            or next((c for c in every if uniqueid_of(c).lower() == wanted), None))


def status_variables(msg: Pairs, own: Iterable[str]) -> list[str]:
    """The variables a ``Status`` action asks of a channel: ``Variables: A,B``, or all of
    the channel's ``own`` with ``AllVariables: true``."""
    if is_true(header(msg, "AllVariables")):
        return list(own)
    return [n.strip() for n in header(msg, "Variables").split(",") if n.strip()]
