"""A conference (extension 800: ``ConfBridge(1)`` under ``TIMEOUT(absolute)=8``) and the
ConfBridge actions, as a real Asterisk 23.4.1 does them.

Every assertion names its capture: ``21_queue_conference_actions`` (a two-party conference:
list, mute, unmute, lock, kick, an unknown conference), ``04_lists`` (ConfbridgeList with an
ActionID) and ``20_behaviour/conference`` (five runs of two members leaving at their timeout).
Other clients may use conference 1 on a shared server: only our own channels are checked.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from amikit import Message, parse_rawman
from tests.conformance.conftest import Wire
from tests.conformance.test_calls_conf import BRIDGE, HEAD, SNAPSHOT

# 21_queue_conference_actions/035_events_conference_joined, 049_events_conference_end
JOIN = HEAD + ["Conference"] + BRIDGE + SNAPSHOT + ["Admin", "Muted"]
MUTE = HEAD + ["Conference"] + BRIDGE + SNAPSHOT + ["Admin"]
# 04_lists/rawman/026_confbridgelist.body.bin
LIST_ITEM = ["Event", "ActionID", "Conference", "Admin", "MarkedUser", "WaitMarked", "EndMarked",
             "EndMarkedAny", "Waiting", "Muted", "Talking", "AnsweredTime"] + SNAPSHOT


def _uniqueid(event: str, uniqueid: str, **values: str) -> Callable[[Message], bool]:
    return lambda m: (m.name == event and m.get("Uniqueid") == uniqueid
                      and all(m.get(k) == v for k, v in values.items()))


def _names(msg: Message) -> list[str]:
    return [name for name, _ in msg.headers]


def _reply(wire: Wire, **params: str) -> list[Message]:
    return parse_rawman(wire.get("/rawman", **params).body)


def test_two_members_listed_muted_and_one_kicked(logged_in: Wire):
    tag = uuid.uuid4().hex[:8]
    members = [f"cb{tag}-{n}b" for n in (1, 2)]
    for n in (1, 2):
        logged_in.get("/rawman", action="Originate", Channel="Local/800@sets", Context="sets",
                      Exten="600", Priority="1", Async="true", ChannelId=f"cb{tag}-{n}a",
                      OtherChannelId=f"cb{tag}-{n}b")
    joined = logged_in.wait_for_all(*(_uniqueid("ConfbridgeJoin", u) for u in members))
    joins = {m["Uniqueid"]: m for m in joined if m.name == "ConfbridgeJoin"}
    for join in joins.values():
        assert _names(join) == JOIN
        # the lab's default_user is neither admin nor muted; the bridge is ConfBridge's softmix
        assert (join["Conference"], join["Admin"], join["Muted"]) == ("1", "No", "No")
        assert (join["BridgeType"], join["BridgeTechnology"], join["BridgeCreator"],
                join["BridgeName"]) == ("base", "softmix", "ConfBridge", "1")
    first, second = (joins[u]["Channel"] for u in members)

    listed = _reply(logged_in, action="ConfbridgeList", ActionID=f"l{tag}", Conference="1")
    assert listed[0].headers == [("Response", "Success"), ("ActionID", f"l{tag}"),
                                 ("EventList", "start"),
                                 ("Message", "Confbridge user list will follow")]
    ours = [m for m in listed if m.name == "ConfbridgeList" and m["Channel"] in (first, second)]
    assert [_names(m) for m in ours] == [LIST_ITEM, LIST_ITEM]

    # 21_queue_conference_actions/042 and 049: the reply, then the event on the channel
    mute = _reply(logged_in, action="ConfbridgeMute", Conference="1", Channel=first)
    assert mute[0].headers == [("Response", "Success"), ("Message", "User muted")]
    muted = logged_in.wait_for(lambda m: m.name == "ConfbridgeMute" and m["Channel"] == first)
    assert _names(muted[-1]) == MUTE
    unmute = _reply(logged_in, action="ConfbridgeUnmute", Conference="1", Channel=first)
    assert unmute[0].headers == [("Response", "Success"), ("Message", "User unmuted")]

    # 047 and 049: KICKED set on the kicked channel, which leaves the bridge and goes on to
    # its next priority (Hangup)
    kick = _reply(logged_in, action="ConfbridgeKick", Conference="1", Channel=second)
    assert kick[0].headers == [("Response", "Success"), ("Message", "User kicked")]
    kicked = logged_in.wait_for(lambda m: m.name == "Newexten" and m.get("Channel") == second
                                and m.get("Application") == "Hangup")
    story = [(m.name, m.get("Variable", m.get("Application", "")), m.get("Value", ""))
             for m in kicked if m.get("Channel") == second
             and m.name in ("VarSet", "ConfbridgeLeave", "BridgeLeave", "Newexten")]
    assert story == [("VarSet", "CONFBRIDGE_RESULT", "KICKED"), ("VarSet", "BRIDGEPEER", ""),
                     ("ConfbridgeLeave", "", ""), ("BridgeLeave", "", ""),
                     ("Newexten", "Hangup", "")]

    # 048
    nosuch = _reply(logged_in, action="ConfbridgeList", Conference=f"nosuch{tag}")
    assert nosuch[0].headers == [("Response", "Error"),
                                 ("Message", "No Conference by that name found.")]

    # 20_behaviour/conference: the member left at its timeout ends its dialplan
    left = logged_in.wait_for(lambda m: m.name == "Hangup" and m["Channel"] == first,
                              seconds=30)
    result = [m["Value"] for m in left if m.name == "VarSet" and m.get("Channel") == first
              and m["Variable"] == "CONFBRIDGE_RESULT"]
    assert result == ["HANGUP"]
    assert left[-1]["Cause"] == "16"
