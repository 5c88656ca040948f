"""Originate, Redirect, Hangup and the events of a call, as a real Asterisk 23.4.1 does them.

Every assertion names the capture that shows it: ``05_originate`` (one recording of eleven
Originates) or ``20_behaviour/<scenario>/run1-5.rawman`` (five real runs of one scenario).
Where the five runs differ (the order of events from the two halves of a Local channel,
of CEL/Cdr/DeviceStateChange, of an OriginateResponse against the bridge events), the tests
assert nothing about that order: only what all five runs share.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest

from amikit import Message
from tests.conformance.conftest import Wire

SNAPSHOT = ["Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName",
            "ConnectedLineNum", "ConnectedLineName", "Language", "AccountCode", "Context",
            "Exten", "Priority", "Uniqueid", "Linkedid"]
HEAD = ["Event", "Privilege", "Timestamp"]
BRIDGE = ["BridgeUniqueid", "BridgeType", "BridgeTechnology", "BridgeCreator", "BridgeName",
          "BridgeNumChannels", "BridgeVideoSourceMode"]
# Header names per event, as every rawman capture of a real Asterisk 23.4.1 shows them
# (05_originate, 20_behaviour, busy, 21_queue_conference_actions).
SHAPES = {
    "Newchannel": [HEAD + SNAPSHOT],
    "Newstate": [HEAD + SNAPSHOT],
    "Newexten": [HEAD + SNAPSHOT + ["Extension", "Application", "AppData"]],
    "VarSet": [HEAD + SNAPSHOT + ["Variable", "Value"],
               HEAD + ["Channel", "Uniqueid", "Variable", "Value"]],
    "NewCallerid": [HEAD + SNAPSHOT + ["CID-CallingPres"]],
    "NewConnectedLine": [HEAD + SNAPSHOT],
    "DialBegin": [HEAD + ["Dest" + n for n in SNAPSHOT] + ["DialString"],
                  HEAD + SNAPSHOT + ["Dest" + n for n in SNAPSHOT] + ["DialString"]],
    "DialState": [HEAD + ["Dest" + n for n in SNAPSHOT] + ["DialStatus"],
                  HEAD + SNAPSHOT + ["Dest" + n for n in SNAPSHOT] + ["DialStatus"]],
    "DialEnd": [HEAD + ["Dest" + n for n in SNAPSHOT] + ["DialStatus"],
                HEAD + SNAPSHOT + ["Dest" + n for n in SNAPSHOT] + ["DialStatus"]],
    "BridgeCreate": [HEAD + BRIDGE], "BridgeDestroy": [HEAD + BRIDGE],
    "BridgeEnter": [HEAD + BRIDGE + SNAPSHOT], "BridgeLeave": [HEAD + BRIDGE + SNAPSHOT],
    "HangupRequest": [HEAD + SNAPSHOT + ["Cause"]],
    "SoftHangupRequest": [HEAD + SNAPSHOT + ["Cause"]],
    "Hangup": [HEAD + SNAPSHOT + ["Cause", "Cause-txt"]],
    # With the Originate's ActionID, and (another client's Originate without one, which a
    # shared server shows everyone) without: 21_queue_conference_actions/006_events_caller_waiting
    "OriginateResponse": [
        HEAD + action_id + ["Response", "Channel", *target, "Reason", "Uniqueid", "CallerIDNum",
                            "CallerIDName"]
        for action_id in (["ActionID"], []) for target in (["Context", "Exten"], ["Application", "Data"])],
    "Cdr": [HEAD + ["AccountCode", "Source", "Destination", "DestinationContext", "CallerID",
                    "Channel", "DestinationChannel", "LastApplication", "LastData", "StartTime",
                    "AnswerTime", "EndTime", "Duration", "BillableSeconds", "Disposition",
                    "AMAFlags", "UniqueID", "UserField"]],
    "CEL": [HEAD + ["EventName", "AccountCode", "CallerIDnum", "CallerIDname", "CallerIDani",
                    "CallerIDrdnis", "CallerIDdnid", "Exten", "Context", "Channel", "Application",
                    "AppData", "EventTime", "AMAFlags", "UniqueID", "LinkedID", "Userfield",
                    "Peer", "PeerAccount", "Extra"]],
    "DeviceStateChange": [HEAD + ["Device", "State"]],
    "LocalBridge": [HEAD + ["LocalOne" + n for n in SNAPSHOT] + ["LocalTwo" + n for n in SNAPSHOT]
                    + ["Context", "Exten", "LocalOptimization"]],
}


def _originate(wire: Wire, channel: str, **headers: str) -> str:
    action_id = f"conf-{uuid.uuid4().hex[:8]}"
    reply = wire.get("/rawman", action="Originate", Channel=channel, ActionID=action_id,
                     Async="true", **headers).messages()[0]
    # 05_originate/rawman/003_orig_exten.body.bin
    assert reply.headers == [("Response", "Success"), ("ActionID", action_id),
                             ("Message", "Originate successfully queued")]
    return action_id


def _response_to(action_id: str) -> Callable[[Message], bool]:
    return lambda m: m.name == "OriginateResponse" and m.get("ActionID") == action_id


def _is(event: str, channel: str) -> Callable[[Message], bool]:
    return lambda m: m.name == event and m.get("Channel") == channel


def _hangup_story(events: list[Message], channel: str) -> list[tuple[str, ...]]:
    """The channel's HangupRequest/SoftHangupRequest/Hangup events, in order, with their causes.

    One channel's events come in order; the two halves of a Local channel interleave
    differently from run to run (20_behaviour/README.md), so each half is read on its own.
    """
    return [(m.name, m["Cause"], *([m["Cause-txt"]] if m.name == "Hangup" else []))
            for m in events
            if m.name in ("HangupRequest", "SoftHangupRequest", "Hangup") and m.get("Channel") == channel]


# A SoftHangupRequest carries the soft-hangup flag Asterisk set, not a Q.850 cause: 16 in
# every one of the 180 SoftHangupRequests of 20_behaviour, whatever the Hangup's cause.
SOFT = ("SoftHangupRequest", "16")


def test_originate_exten_flow_and_event_shapes(logged_in: Wire):
    logged_in.get("/rawman", action="WaitEvent", Timeout="0")
    action_id = _originate(logged_in, "Local/101@sets", Context="sets", Exten="103", Priority="1",
                           CallerID='"Orig Test" <1001>')
    seen = logged_in.wait_for(_response_to(action_id))
    response = seen[-1]
    # 05_originate/rawman/014_calls_waitevent_001.body.bin (orig_exten-rawman)
    assert response["Response"] == "Success" and response["Reason"] == "4"
    assert re.fullmatch(r"Local/101@sets-[0-9a-f]{8};1", response["Channel"])
    assert (response["CallerIDNum"], response["CallerIDName"]) == ("1001", "Orig Test")
    mine = response["Channel"].rsplit(";", 1)[0]
    seen += logged_in.wait_for(_is("Hangup", mine + ";1"), seconds=20)
    ours = [m for m in seen if mine in (m.get("Channel") or m.get("DestChannel")
                                        or m.get("LocalOneChannel") or "")]
    names = [m.name for m in ours]
    # 05_originate/rawman (Local/101@sets-00000010) and 20_behaviour/orig_exten/run1-5.rawman
    assert names.index("Newchannel") < names.index("Newstate") < names.index("Hangup")
    first_two = [m for m in ours if m.name == "Newchannel"]
    assert [(m["Channel"][-2:], m["ChannelStateDesc"]) for m in first_two] == [
        (";1", "Down"), (";2", "Ring")]
    assert first_two[1]["Linkedid"] == first_two[0]["Uniqueid"]
    # 05_originate/rawman: both halves of Local/101@sets-00000010 end with Cause 16
    hangups = [m for m in ours if m.name == "Hangup"]
    assert {(m["Cause"], m["Cause-txt"]) for m in hangups} == {("16", "Normal Clearing")}
    for event in seen:
        if event.name in SHAPES:
            assert [n for n, _ in event.headers] in SHAPES[event.name], event.name


# 05_originate/rawman/014_calls_waitevent_001 and 033_calls_waitevent_020 (Uniqueid
# <unknown> when no ChannelId was given); 20_behaviour/{busy,congestion,badctx_async,
# noanswer}/run1-5.rawman (the exten form: Context and Exten as requested)
@pytest.mark.parametrize(("channel", "headers", "reason"), [
    ("Local/486@sets", {"Context": "sets", "Exten": "103", "Priority": "1"}, "5"),
    ("Local/503@sets", {"Context": "sets", "Exten": "103", "Priority": "1"}, "8"),
    ("Local/101@nosuchcontext", {"Context": "sets", "Exten": "103", "Priority": "1"}, "0"),
    ("Local/333@sets", {"Context": "sets", "Exten": "103", "Priority": "1", "Timeout": "3000"}, "3"),
])
def test_failed_originates(logged_in: Wire, channel, headers, reason):
    action_id = _originate(logged_in, channel, **headers)
    response = logged_in.wait_for(_response_to(action_id), seconds=20)[-1]
    assert response["Response"] == "Failure" and response["Reason"] == reason
    assert response["Channel"] == channel and response["Uniqueid"] == "<unknown>"
    assert (response["Context"], response["Exten"]) == ("sets", "103")


def test_originate_application_form(logged_in: Wire):
    # 20_behaviour/userevent/run1-5.rawman: Local/900@sets, Application=Wait, Data=1
    action_id = _originate(logged_in, "Local/900@sets", Application="Wait", Data="1")
    response = logged_in.wait_for(_response_to(action_id))[-1]
    assert response["Response"] == "Success" and response["Reason"] == "4"
    assert (response["Application"], response["Data"]) == ("Wait", "1")
    assert response["CallerIDNum"] == "<unknown>"


def test_synchronous_originate_answers_after_the_call_is_up(logged_in: Wire):
    # 05_originate/rawman/013_orig_sync_success.body.bin
    reply = logged_in.get("/rawman", action="Originate", Channel="Local/900@sets",
                          Application="Wait", Data="1", ActionID="sync-1").messages()[0]
    assert reply.headers == [("Response", "Success"), ("ActionID", "sync-1"),
                             ("Message", "Originate successfully queued")]


def _up_pair(wire: Wire, exten: str) -> tuple[str, str]:
    action_id = _originate(wire, f"Local/{exten}@sets", Context="sets", Exten="600", Priority="1")
    response = wire.wait_for(_response_to(action_id))[-1]
    one = response["Channel"]
    return one, one[:-1] + "2"


def test_redirect_one_channel(logged_in: Wire):
    # 20_behaviour/redirect/run1-5.rawman
    one, _two = _up_pair(logged_in, "600")
    reply = logged_in.get("/rawman", action="Redirect", ActionID="redir-1", Channel=one,
                          Context="sets", Exten="700", Priority="1")
    assert reply.body == b"Response: Success\r\nActionID: redir-1\r\nMessage: Redirect successful\r\n\r\n"
    event = logged_in.wait_for(lambda m: m.name == "Newexten" and m.get("Channel") == one
                               and m.get("Exten") == "700")[-1]
    assert (event["Application"], event["AppData"]) == ("NoOp", "redirected here")
    logged_in.get("/rawman", action="Hangup", Channel=one)


def _bridged_pair(wire: Wire) -> tuple[str, str, list[Message]]:
    """Originate Local/202@sets (``Dial(Local/600@sets/n)``) to sets,600 and wait until the
    two dialled channels share a bridge: (the 202 pair's name, the 600 pair's name, events).

    20_behaviour/{dual_redirect,dial_cause21}/run1-5.rawman: the two BridgeEnter events
    (BridgeNumChannels 1, then 2) come before, around or after the OriginateResponse,
    depending on the run, so the bridge is looked for in everything read so far. Every
    channel of the call has the Linkedid of the originated ;1, the OriginateResponse's
    Uniqueid.
    """
    action_id = _originate(wire, "Local/202@sets", Context="sets", Exten="600", Priority="1")
    seen = wire.wait_for(_response_to(action_id))
    dialer = seen[-1]["Channel"].rsplit(";", 1)[0]
    linkedid = seen[-1]["Uniqueid"]

    def full(m: Message) -> bool:
        return (m.name == "BridgeEnter" and m.get("Linkedid") == linkedid
                and m.get("BridgeNumChannels") == "2")

    if not any(full(m) for m in seen):
        seen += wire.wait_for(full)
    bridge = next(m for m in seen if full(m))["BridgeUniqueid"]
    bridged = {m["Channel"] for m in seen
               if m.name == "BridgeEnter" and m.get("BridgeUniqueid") == bridge}
    others = bridged - {dialer + ";2"}
    assert len(others) == 1 and dialer + ";2" in bridged, bridged
    callee = others.pop()
    assert re.fullmatch(r"Local/600@sets-[0-9a-f]{8};1", callee)
    return dialer, callee.rsplit(";", 1)[0], seen


def test_dual_redirect_of_a_bridged_pair(logged_in: Wire):
    # 20_behaviour/dual_redirect/run1-5.rawman; the two Newexten 210 come in either order
    dialer, callee, _ = _bridged_pair(logged_in)
    channel, extra = callee + ";1", dialer + ";2"
    reply = logged_in.get("/rawman", action="Redirect", ActionID="dr", Channel=channel,
                          Context="sets", Exten="210", Priority="1", ExtraChannel=extra,
                          ExtraContext="sets", ExtraExten="210", ExtraPriority="1").messages()[0]
    assert reply.headers == [("Response", "Success"), ("ActionID", "dr"),
                             ("Message", "Dual Redirect successful")]
    moved = logged_in.wait_for_all(*[
        lambda m, c=c: m.name == "Newexten" and m.get("Channel") == c and m.get("Exten") == "210"
        for c in (channel, extra)])
    assert {(m["Channel"], m["Priority"]) for m in moved
            if m.name == "Newexten" and m.get("Exten") == "210"} >= {(channel, "1"), (extra, "1")}


@pytest.mark.parametrize(("hung", "cause", "ended"), [
    # 20_behaviour/hangup_cause_pair/run1-5.rawman: Hangup of ;2 with Cause 21
    (2, "21", ("Hangup", "21", "Call Rejected")),
    # 20_behaviour/setvar_getvar and status_vars/run1-5.rawman: Hangup of ;1 without Cause:
    # cause 0 (Unknown) on both halves, not 16
    (1, None, ("Hangup", "0", "Unknown")),
])
def test_hangup_of_one_half(logged_in: Wire, hung: int, cause: str | None, ended: tuple):
    halves = _up_pair(logged_in, "600")
    target, other = halves[hung - 1], halves[2 - hung]
    params = {"action": "Hangup", "ActionID": "h1", "Channel": target} | ({"Cause": cause} if cause else {})
    reply = logged_in.get("/rawman", **params)
    assert reply.body == b"Response: Success\r\nActionID: h1\r\nMessage: Channel Hungup\r\n\r\n"
    seen = logged_in.wait_for_all(_is("Hangup", target), _is("Hangup", other))
    # No HangupRequest for the channel the action hangs up: only the other half gets one,
    # with the cause; the Hangup events of both halves carry it.
    assert _hangup_story(seen, target) == [SOFT, ended]
    assert _hangup_story(seen, other) == [("HangupRequest", ended[1]), SOFT, ended]


def test_hangup_of_a_bridged_callee_with_a_cause(logged_in: Wire):
    # 20_behaviour/dial_cause21/run1-5.rawman: once bridged, Hangup the dialled ;1 with
    # Cause 21. In a bridge it gets neither HangupRequest nor SoftHangupRequest; its other
    # half is hung up with 21; the dialling side ends normally (16).
    dialer, callee, _ = _bridged_pair(logged_in)
    reply = logged_in.get("/rawman", action="Hangup", ActionID="hb", Channel=callee + ";1",
                          Cause="21")
    assert reply.body == b"Response: Success\r\nActionID: hb\r\nMessage: Channel Hungup\r\n\r\n"
    channels = [dialer + ";1", dialer + ";2", callee + ";1", callee + ";2"]
    seen = logged_in.wait_for_all(*[_is("Hangup", c) for c in channels], seconds=20)
    rejected, normal = ("Hangup", "21", "Call Rejected"), ("Hangup", "16", "Normal Clearing")
    assert _hangup_story(seen, callee + ";1") == [rejected]
    assert _hangup_story(seen, callee + ";2") == [("HangupRequest", "21"), SOFT, rejected]
    assert _hangup_story(seen, dialer + ";2") == [SOFT, normal]
    assert _hangup_story(seen, dialer + ";1") == [("HangupRequest", "16"), SOFT, normal]


def test_hangup_by_regex_is_a_list(logged_in: Wire):
    # 20_behaviour/hangup_regex/run1-5.rawman: both halves, in either order
    one, two = _up_pair(logged_in, "600")
    prefix = re.escape(one.rsplit(";", 1)[0])
    messages = logged_in.get("/rawman", action="Hangup", ActionID="hr", Channel=f"/^{prefix}/").messages()
    assert messages[0].headers == [("Response", "Success"), ("ActionID", "hr"), ("EventList", "start"),
                                   ("Message", "Channels hung up will follow")]
    items, complete = messages[1:-1], messages[-1]
    assert [n for n, _ in complete.headers] == ["Event", "ActionID", "EventList", "ListItems"]
    assert complete["Event"] == "ChannelsHungupListComplete" and complete["ListItems"] == "2"
    assert sorted(m["Channel"] for m in items) == [one, two]
    assert all(m.headers == [("Event", "ChannelHungup"), ("Channel", m["Channel"]), ("ActionID", "hr")]
               for m in items)


def test_status_lists_channel_variables(logged_in: Wire):
    # 20_behaviour/status_vars/run1-5.rawman
    action_id = _originate(logged_in, "Local/600@sets", Context="sets", Exten="600", Priority="1",
                           Variable="ORIGVAR1=one")
    one = logged_in.wait_for(_response_to(action_id))[-1]["Channel"]
    messages = logged_in.get("/rawman", action="Status", Channel=one, Variables="ORIGVAR1,NOPE",
                             ActionID="st").messages()
    status = messages[1]
    assert status.headers[:2] == [("Event", "Status"), ("Privilege", "Call")]
    assert status.getall("Variable") == ["ORIGVAR1=one", "NOPE=(null)"]
    assert status.headers[-1] == ("ActionID", "st")
    assert [n for n, _ in messages[-1].headers] == ["Event", "ActionID", "EventList", "ListItems",
                                                    "Items"]
    logged_in.get("/rawman", action="Hangup", Channel=one)
