"""ConfBridge's bridge and user profiles from ``confbridge.conf`` (apps/confbridge/conf_config_parser.c).

A ``[name]`` section with ``type = bridge`` is a bridge profile, ``type = user`` a user profile.
``default_bridge`` and ``default_user`` always exist, with Asterisk's defaults, even when the
file leaves them out (``verify_default_profiles``); a section of that name replaces them.
Only the options that change what AMI shows are read; the others are accepted and ignored.

    >>> from amikit.sim.config import read_conf
    >>> users, bridges = read_profiles(read_conf("[quiet]\\ntype = user\\nquiet = yes\\nadmin = 1"))
    >>> users["quiet"].quiet, users["quiet"].admin, users["default_user"].quiet
    (True, True, False)
    >>> bridges["default_bridge"].max_members
    0
"""

from __future__ import annotations

from dataclasses import dataclass

from amikit.protocol import is_true
from amikit.sim.config import Section
from amikit.sim.replies import is_number

__all__ = ["DEFAULT_BRIDGE", "DEFAULT_USER", "BridgeProfile", "UserProfile", "read_profiles"]

DEFAULT_BRIDGE, DEFAULT_USER = "default_bridge", "default_user"


@dataclass(frozen=True)
class UserProfile:
    """A user profile: the ``USER_OPT_*`` flags AMI reports, and the user's timeout."""

    name: str
    admin: bool = False
    marked: bool = False
    startmuted: bool = False
    quiet: bool = False
    wait_marked: bool = False
    end_marked: bool = False
    end_marked_any: bool = False
    music_on_hold_when_empty: bool = False
    music_on_hold_class: str = "default"
    timeout: int = 0  # seconds in the conference before the user is sent on (0: none)


@dataclass(frozen=True)
class BridgeProfile:
    """A bridge profile: how many may join, and the announcer's language."""

    name: str
    max_members: int = 0  # 0: no limit
    language: str = "en"


def _flag(section: Section, key: str) -> bool:
    return is_true(section.get(key))


def _count(section: Section, key: str) -> int:
    text = (section.get(key) or "").strip()
    return int(text) if is_number(text) else 0


def _user(section: Section) -> UserProfile:
    return UserProfile(
        section.name, admin=_flag(section, "admin"), marked=_flag(section, "marked"),
        startmuted=_flag(section, "startmuted"), quiet=_flag(section, "quiet"),
        wait_marked=_flag(section, "wait_marked"), end_marked=_flag(section, "end_marked"),
        end_marked_any=_flag(section, "end_marked_any"),
        music_on_hold_when_empty=_flag(section, "music_on_hold_when_empty"),
        music_on_hold_class=section.get("music_on_hold_class") or "default",
        timeout=_count(section, "timeout"))


def _bridge(section: Section) -> BridgeProfile:
    return BridgeProfile(section.name, max_members=_count(section, "max_members"),
                         language=section.get("language") or "en")


def read_profiles(sections: list[Section]) -> tuple[dict[str, UserProfile], dict[str, BridgeProfile]]:
    """The user and bridge profiles of ``confbridge.conf``'s sections, by name."""
    users = {DEFAULT_USER: UserProfile(DEFAULT_USER)}
    bridges = {DEFAULT_BRIDGE: BridgeProfile(DEFAULT_BRIDGE)}
    for section in sections:
        kind = (section.get("type") or "").strip().lower()
        if section.template:
            continue
        if kind == "user":
            users[section.name] = _user(section)
        elif kind == "bridge":
            bridges[section.name] = _bridge(section)
    return users, bridges
