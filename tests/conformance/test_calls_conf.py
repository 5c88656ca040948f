"""Originate, Redirect, Hangup and the events of a call (captures 05_originate, 03_errors)."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.conformance.conftest import Wire

SNAPSHOT = ["Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName",
            "ConnectedLineNum", "ConnectedLineName", "Language", "AccountCode", "Context",
            "Exten", "Priority", "Uniqueid", "Linkedid"]
HEAD = ["Event", "Privilege", "Timestamp"]
BRIDGE = ["BridgeUniqueid", "BridgeType", "BridgeTechnology", "BridgeCreator", "BridgeName",
          "BridgeNumChannels", "BridgeVideoSourceMode"]
# header names per event, as the captures of a real Asterisk 23.4.1 show them
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
    "OriginateResponse": [
        HEAD + ["ActionID", "Response", "Channel", "Context", "Exten", "Reason", "Uniqueid",
                "CallerIDNum", "CallerIDName"],
        HEAD + ["ActionID", "Response", "Channel", "Application", "Data", "Reason", "Uniqueid",
                "CallerIDNum", "CallerIDName"]],
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
    assert reply.headers == [("Response", "Success"), ("ActionID", action_id),
                             ("Message", "Originate successfully queued")]
    return action_id


def _response_to(action_id: str):
    return lambda m: m.name == "OriginateResponse" and m.get("ActionID") == action_id


def test_originate_exten_flow_and_event_shapes(logged_in: Wire):
    logged_in.get("/rawman", action="WaitEvent", Timeout="0")
    action_id = _originate(logged_in, "Local/101@sets", Context="sets", Exten="103", Priority="1",
                           CallerID='"Orig Test" <1001>')
    seen = logged_in.wait_for(_response_to(action_id))
    response = seen[-1]
    assert response["Response"] == "Success" and response["Reason"] == "4"
    assert re.fullmatch(r"Local/101@sets-[0-9a-f]{8};1", response["Channel"])
    assert (response["CallerIDNum"], response["CallerIDName"]) == ("1001", "Orig Test")
    mine = response["Channel"].rsplit(";", 1)[0]
    seen += logged_in.wait_for(lambda m: m.name == "Hangup" and m["Channel"] == mine + ";1",
                               seconds=20)
    ours = [m for m in seen if mine in (m.get("Channel") or m.get("DestChannel")
                                        or m.get("LocalOneChannel") or "")]
    names = [m.name for m in ours]
    assert names.index("Newchannel") < names.index("Newstate") < names.index("Hangup")
    first_two = [m for m in ours if m.name == "Newchannel"]
    assert [(m["Channel"][-2:], m["ChannelStateDesc"]) for m in first_two] == [
        (";1", "Down"), (";2", "Ring")]
    assert first_two[1]["Linkedid"] == first_two[0]["Uniqueid"]
    hangups = [m for m in ours if m.name == "Hangup"]
    assert {(m["Cause"], m["Cause-txt"]) for m in hangups} == {("16", "Normal Clearing")}
    for event in seen:
        if event.name in SHAPES:
            assert [n for n, _ in event.headers] in SHAPES[event.name], event.name


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
    action_id = _originate(logged_in, "Local/900@sets", Application="Wait", Data="1")
    response = logged_in.wait_for(_response_to(action_id))[-1]
    assert response["Response"] == "Success" and response["Reason"] == "4"
    assert (response["Application"], response["Data"]) == ("Wait", "1")
    assert response["CallerIDNum"] == "<unknown>"


def test_synchronous_originate_answers_after_the_call_is_up(logged_in: Wire):
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
    one, _two = _up_pair(logged_in, "600")
    reply = logged_in.get("/rawman", action="Redirect", ActionID="redir-1", Channel=one,
                          Context="sets", Exten="700", Priority="1")
    assert reply.body == b"Response: Success\r\nActionID: redir-1\r\nMessage: Redirect successful\r\n\r\n"
    event = logged_in.wait_for(lambda m: m.name == "Newexten" and m["Channel"] == one
                               and m["Exten"] == "700")[-1]
    assert (event["Application"], event["AppData"]) == ("NoOp", "redirected here")
    logged_in.get("/rawman", action="Hangup", Channel=one)


def test_dual_redirect_of_a_bridged_pair(logged_in: Wire):
    action_id = _originate(logged_in, "Local/202@sets", Context="sets", Exten="600", Priority="1")
    seen = logged_in.wait_for(_response_to(action_id))
    one = seen[-1]["Channel"].rsplit(";", 1)[0]

    def ours_full(events):
        bridges = {m["BridgeUniqueid"] for m in events
                   if m.name == "BridgeEnter" and one in m["Channel"]}
        return [m for m in events if m.name == "BridgeEnter" and m["BridgeNumChannels"] == "2"
                and m["BridgeUniqueid"] in bridges]

    while not ours_full(seen):  # the bridge may come before or after the OriginateResponse
        seen += logged_in.wait_for(lambda m: m.name == "BridgeEnter")
    enter = ours_full(seen)[0]
    bridged = [m["Channel"] for m in seen if m.name == "BridgeEnter"
               and m["BridgeUniqueid"] == enter["BridgeUniqueid"]]
    assert len(bridged) == 2
    reply = logged_in.get("/rawman", action="Redirect", Channel=bridged[0], Context="sets",
                          Exten="210", Priority="1", ExtraChannel=bridged[1],
                          ExtraContext="sets", ExtraExten="210", ExtraPriority="1").messages()[0]
    assert reply["Message"] == "Dual Redirect successful"
    moved = set()
    logged_in.wait_for(lambda m: m.name == "Newexten" and m["Exten"] == "210"
                       and moved.add(m["Channel"]) is None and moved >= set(bridged))


def test_hangup_with_a_cause(logged_in: Wire):
    one, two = _up_pair(logged_in, "600")
    reply = logged_in.get("/rawman", action="Hangup", ActionID="h1", Channel=two, Cause="21")
    assert reply.body == b"Response: Success\r\nActionID: h1\r\nMessage: Channel Hungup\r\n\r\n"
    seen = logged_in.wait_for(lambda m: m.name == "Hangup" and m["Channel"] == one)
    request = next(m for m in seen if m.name == "HangupRequest" and m["Channel"] == two)
    assert request["Cause"] == "21"
    hangups = [m for m in seen if m.name == "Hangup" and m["Channel"] in (one, two)]
    assert {(m["Cause"], m["Cause-txt"]) for m in hangups} == {("21", "Call Rejected")}


def test_hangup_by_regex_is_a_list(logged_in: Wire):
    one, _ = _up_pair(logged_in, "600")
    prefix = re.escape(one.rsplit(";", 1)[0])
    messages = logged_in.get("/rawman", action="Hangup", ActionID="hr", Channel=f"/^{prefix}/").messages()
    assert messages[0]["Message"] == "Channels hung up will follow"
    assert messages[-1]["Event"] == "ChannelsHungupListComplete"
    assert {m["Channel"] for m in messages[1:-1]} <= {one, one[:-1] + "2"}


def test_status_lists_channel_variables(logged_in: Wire):
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
