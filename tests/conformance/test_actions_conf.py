"""Replies to actions: errors, permissions, lists (captures 03_errors, 04_lists)."""

from __future__ import annotations

import re

import pytest

from tests.conformance.conftest import Wire

ERRORS = [
    ({"action": "FooBarBaz", "ActionID": "e1"},
     "Invalid/unknown command: FooBarBaz. Use Action: ListCommands to show available commands."),
    ({"action": "Originate", "Context": "sets", "Exten": "103", "Priority": "1"},
     "Channel not specified"),
    ({"action": "Originate", "Channel": "Local/101@sets"},
     "Originate with 'Exten' requires 'Context' and 'Priority'"),
    ({"action": "Originate", "Channel": "Bogus/123", "Application": "Wait", "Data": "1"},
     "Originate failed"),
    ({"action": "Getvar"}, "No variable specified"),
    ({"action": "Setvar", "Value": "x"}, "No variable specified"),
    ({"action": "Hangup"}, "No channel specified"),
    ({"action": "Hangup", "Channel": "Local/nope-00000000;1"}, "No such channel"),
    ({"action": "Redirect", "Context": "sets", "Exten": "700", "Priority": "1"},
     "Channel not specified"),
    ({"action": "Redirect", "Channel": "Local/nope-00000000;1", "Context": "sets", "Exten": "700",
      "Priority": "1"}, "Channel does not exist: Local/nope-00000000;1"),
    ({"action": "Status", "Channel": "Local/nope-00000000;1"}, "No such channel"),
    ({"action": "Command"}, "No command provided"),
    ({"action": "Events"}, "Invalid event mask"),
]


@pytest.mark.parametrize(("params", "message"), ERRORS, ids=[p["action"] + str(i)
                                                            for i, (p, _) in enumerate(ERRORS)])
def test_error_replies(logged_in: Wire, params, message):
    reply = logged_in.send("GET", "/rawman", params).messages()
    assert reply[0]["Response"] == "Error"
    assert reply[0]["Message"] == message
    assert len(reply) == 1


def test_error_reply_bytes_with_action_id(logged_in: Wire):
    raw = logged_in.get("/rawman", action="FooBarBaz", ActionID="e1")
    assert raw.body == (b"Response: Error\r\nActionID: e1\r\nMessage: Invalid/unknown command: "
                        b"FooBarBaz. Use Action: ListCommands to show available commands.\r\n\r\n")


def test_unknown_cli_command(logged_in: Wire):
    reply = logged_in.get("/rawman", action="Command", Command="frobnicate now").messages()[0]
    assert reply["Response"] == "Error" and reply["Message"] == "Command output follows"
    assert reply.getall("Output") == ["No such command 'frobnicate now' (type 'core show help "
                                      "frobnicate now' for other possible commands)"]


def test_command_output_lines(logged_in: Wire):
    reply = logged_in.get("/rawman", action="Command", Command="core show version").messages()[0]
    assert reply["Message"] == "Command output follows"
    assert reply.getall("Output")[0].startswith("Asterisk 23")


def test_limited_user(wire: Wire):
    wire.login("limited", "limitedpw")
    cookie = wire.cookie
    denied = wire.get("/rawman", action="Command", ActionID="l1", Command="core show version")
    assert denied.body == b"Response: Error\r\nActionID: l1\r\nMessage: Permission denied\r\n\r\n"
    assert denied.cookie == cookie, "a real permission error keeps the session"
    for action in ("CoreShowChannels", "Setvar"):
        assert wire.get("/rawman", action=action, Variable="X", Value="1").messages()[0][
            "Message"] == "Permission denied"
    forbidden = wire.get("/rawman", action="Originate", Channel="Local/900@sets",
                         Application="System", Data="true", Async="true").messages()[0]
    assert forbidden["Message"] == "Originate Access Forbidden: app or data blacklisted"
    assert wire.get("/rawman", action="Ping").messages()[0]["Ping"] == "Pong"


def test_reporter_may_not_originate(wire: Wire):
    wire.login("reporter", "reportpw")
    reply = wire.get("/rawman", action="Originate", Channel="Local/900@sets", Context="sets",
                     Exten="900", Priority="1").messages()[0]
    assert reply["Message"] == "Permission denied"


def test_list_commands_format(logged_in: Wire):
    reply = logged_in.get("/rawman", action="ListCommands", ActionID="lc1").messages()
    assert len(reply) == 1 and reply[0]["ActionID"] == "lc1"
    lines = reply[0].headers[2:]
    # 04_lists/rawman/006_listcommands: every synopsis, ShowDialPlan's too, then two blanks
    assert all(re.fullmatch(r".+  \(Priv: .+\)", v) for n, v in lines)
    commands = dict(lines)
    assert commands["Ping"] == "Keepalive command.  (Priv: <none>)"
    assert commands["Originate"] == "Originate a call.  (Priv: originate,all)"
    assert commands["Hangup"] == "Hangup channel.  (Priv: system,call,all)"


def test_core_show_channels_is_a_list(logged_in: Wire):
    messages = logged_in.get("/rawman", action="CoreShowChannels", ActionID="csc1").messages()
    assert messages[0].headers == [("Response", "Success"), ("ActionID", "csc1"),
                                   ("EventList", "start"), ("Message", "Channels will follow")]
    last = messages[-1]
    assert [n for n, _ in last.headers] == ["Event", "ActionID", "EventList", "ListItems"]
    assert last["Event"] == "CoreShowChannelsComplete" and last["EventList"] == "Complete"
    assert int(last["ListItems"]) == len(messages) - 2


def test_getvar_setvar_globals(logged_in: Wire):
    missing = logged_in.get("/rawman", action="Getvar", ActionID="g1",
                            Variable="NO_SUCH_VAR_AMIKIT").body
    assert missing == b"Response: Success\r\nActionID: g1\r\nVariable: NO_SUCH_VAR_AMIKIT\r\nValue: \r\n\r\n"
    value = "value with spaces & <xml> 'q' \"dq\""
    ok = logged_in.get("/rawman", action="Setvar", Variable="AMIKIT_CONF", Value=value).messages()
    assert ok[0]["Message"] == "Variable Set"
    got = logged_in.get("/rawman", action="Getvar", Variable="AMIKIT_CONF").messages()[0]
    assert got["Value"] == value
    assert logged_in.get("/rawman", action="Getvar", Variable="SITE").messages()[0]["Value"] == "lab"


def test_core_settings_and_status(logged_in: Wire):
    settings = logged_in.get("/rawman", action="CoreSettings").messages()[0]
    assert settings["AMIversion"] == "12.0.0" and settings["AsteriskVersion"].startswith("23")
    status = logged_in.get("/rawman", action="CoreStatus").messages()[0]
    assert [n for n, _ in status.headers][1:] == [
        "CoreStartupDate", "CoreStartupTime", "CoreReloadDate", "CoreReloadTime",
        "CoreCurrentCalls", "CoreProcessedCalls"]
