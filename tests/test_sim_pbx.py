"""The PBX model: phones, dialplan applications, variables (through the client)."""

from __future__ import annotations

import pytest

from amikit import AMIClient, Simulator
from tests.conftest import events_until


def response(action_id: str):
    return lambda seen: any(e.name == "OriginateResponse" and e.action_id == action_id
                            for e in seen)


@pytest.fixture(scope="module")
def phones(tmp_path_factory):
    conf = tmp_path_factory.mktemp("conf")
    (conf / "pjsip.conf").write_text("".join(
        f"[{name}]\ntype=endpoint\ncontext=sets\n" for name in
        ("RINGS", "BUSY", "DEAF", "REJECTS", "CONGESTED")))
    (conf / "sim.conf").write_text(
        "[RINGS]\nbehaviour=answer\nanswer_after=2\n[BUSY]\nbehaviour=busy\n[DEAF]\n"
        "behaviour=noanswer\n[REJECTS]\nbehaviour=reject\n[CONGESTED]\nbehaviour=congestion\n")
    with Simulator(port=0, config=conf, speed=20, seed=3) as sim:
        yield sim


@pytest.mark.parametrize(("endpoint", "reason", "status"), [
    ("RINGS", "4", "ANSWER"), ("BUSY", "5", "BUSY"), ("DEAF", "3", "NOANSWER"),
    ("CONGESTED", "8", "CONGESTION"), ("REJECTS", "1", "NOANSWER"),
])
def test_phone_behaviours(phones, endpoint, reason, status):
    with AMIClient(phones.url, "hello", "world") as ami:
        ami.wait_event(0)
        ami.originate(Channel=f"PJSIP/{endpoint}", Context="sets", Exten="900", Priority=1,
                      Timeout=20000, Async=True, ActionID=endpoint)
        seen = events_until(ami, response(endpoint))
        result = next(e for e in seen if e.name == "OriginateResponse")
        assert result["Reason"] == reason
        dial_ends = [e["DialStatus"] for e in seen if e.name == "DialEnd"]
        if endpoint == "DEAF":
            # the dial API gives up at the Originate's Timeout without a DialEnd, the channel's
            # cause 19 (20_behaviour/noanswer: five runs, no DialEnd, Hangup Cause 19)
            assert dial_ends == []
            def hung_up(events: list) -> bool:
                return any(e.name == "Hangup" for e in events)

            after = seen if hung_up(seen) else seen + events_until(ami, hung_up)
            assert next(e for e in after if e.name == "Hangup")["Cause"] == "19"
        else:
            assert dial_ends == [status]
        if status == "ANSWER":
            ringing = [e for e in seen if e.name == "Newstate" and e["ChannelStateDesc"] == "Ringing"]
            assert ringing, "the phone rang before it answered"
            state = next(e for e in seen if e.name == "DialState")
            assert state["DialStatus"] == "RINGING"


def test_sync_originate_to_a_busy_phone_fails(phones):
    with AMIClient(phones.url, "hello", "world") as ami:
        reply = ami.action("Originate", check=False, Channel="PJSIP/BUSY", Application="Wait",
                           Data="1")
        assert reply["Message"] == "Originate failed"


def test_variables_functions_user_event_and_h_extension():
    with Simulator(port=0, speed=20) as sim, AMIClient(sim.url, "hello", "world") as ami:
        before = int(ami.getvar("CALLCOUNT"))
        ami.wait_event(0)
        ami.originate(Channel="Local/300@sets", Application="Wait", Data="5", Async=True,
                      ActionID="v")
        seen = events_until(ami, lambda s: any(e.name == "Hangup" and e["Channel"].endswith(";2")
                                               for e in s))
        user = next(e for e in seen if e.name == "UserEvent")
        assert (user["UserEvent"], user["Key1"]) == ("TestEvent", "Value1")
        assert user["Key2"] == 'with spaces & <xml> "chars"'
        assert int(ami.getvar("CALLCOUNT")) == before + 1
        names = [e for e in seen if e.name == "NewCallerid"]
        assert names[-1]["CallerIDName"] == 'Var \\"Setter\\" & <co>'
        varsets = {(e["Variable"], e["Value"]) for e in seen if e.name == "VarSet"}
        assert ("FOO", "bar") in varsets and ("__INHERITED", "abc def") in varsets
        global_set = next(e for e in seen if e.name == "VarSet" and e["Variable"] == "CALLCOUNT")
        assert (global_set["Channel"], global_set["Uniqueid"]) == ("none", "none")
        h = [e for e in seen if e.name == "Newexten" and e["Exten"] == "h"]
        assert h and h[0]["AppData"].endswith("cause 16")
        cdr = next(e for e in seen if e.name == "Cdr" and e["Channel"].endswith(";2"))
        assert cdr["UserField"] == "set-by-300" and cdr["Disposition"] == "ANSWERED"


def test_absolute_timeout_hangs_up():
    with Simulator(port=0, speed=20) as sim, AMIClient(sim.url, "hello", "world") as ami:
        ami.wait_event(0)
        ami.originate(Channel="Local/103@sets", Application="Wait", Data="60", Async=True)
        seen = events_until(ami, lambda s: sum(e.name == "Hangup" for e in s) == 2)
        assert any(e.name == "Newexten" and e["Application"] == "Echo" for e in seen)


def test_channel_variables_and_status(phones):
    with AMIClient(phones.url, "hello", "world") as ami:
        ami.wait_event(0)
        ami.originate(Channel="Local/600@sets", Context="sets", Exten="600", Priority=1,
                      Async=True, ActionID="cv", ChannelId="chan-a", OtherChannelId="chan-b",
                      Variable=["ORIGVAR1=one", "ORIGVAR2=two words"])
        seen = events_until(ami, response("cv"))
        one = next(e for e in seen if e.name == "OriginateResponse")
        assert one["Uniqueid"] == "chan-a"
        channel = one["Channel"]
        assert ami.getvar("ORIGVAR2", channel=channel) == "two words"
        ami.setvar("MYVAR", "x", channel=channel)
        assert ami.getvar("MYVAR", channel=channel) == "x"
        assert ami.getvar("CHANNEL(name)", channel="chan-a") == channel
        status = ami.action("Status", Channel="chan-a", Variables="MYVAR")
        assert status.events[0].getall("Variable") == ["MYVAR=x"]
        ami.hangup(channel)


def test_a_local_channel_given_only_a_channelid_names_its_other_half_after_it(phones):
    # 10_tcp_5038/04: ChannelId tcp-orig-1 alone → Uniqueid tcp-orig-1;2 on the ;2 half
    # (ast_unreal_new_channels); an OtherChannelId without a ChannelId is not used
    with AMIClient(phones.url, "hello", "world") as ami:
        ami.wait_event(0)
        ami.originate(Channel="Local/900@sets", Application="Wait", Data="1", Async=True,
                      ActionID="only-one", ChannelId="half-one")
        ami.originate(Channel="Local/900@sets", Application="Wait", Data="1", Async=True,
                      ActionID="only-other", OtherChannelId="half-other")
        seen = events_until(ami, lambda s: response("only-one")(s) and response("only-other")(s))
        made = [e["Uniqueid"] for e in seen if e.name == "Newchannel"]
        assert "half-one" in made and "half-one;2" in made and "half-other" not in made


def test_unsupported_applications_are_named(tmp_path):
    # the lab's own dialplan runs whole (Queue and ConfBridge are simulated); MeetMe is not
    (tmp_path / "extensions.conf").write_text(
        "[sets]\nexten => 1,1,MeetMe(5)\nexten => 2,1,Queue(support)\nexten => 3,1,ConfBridge(1)\n")
    sim = Simulator(port=0, config=tmp_path)
    sim.start()
    try:
        assert sim.pbx is not None
        assert sim.pbx.unsupported() == ["sets,1,1: MeetMe"]
    finally:
        sim.stop()


def test_core_show_channels_counts_channels_and_dialplan_runs_apart():
    """04_lists 009 (a real 23.4.1): "16 active channels" but "8 of 500 max active calls",
    and CoreStatus (021, the same second) says CoreCurrentCalls 16: calls there are the
    channels running the dialplan (``ast_active_calls``), while an Originate's ``;1`` half
    running an application (``Local/800@sets-00000009;1 … Wait(20)``) is a channel only."""
    with Simulator(port=0, speed=1) as sim, AMIClient(sim.url, "hello", "world") as ami:
        ami.originate(Channel="Local/600@sets", Application="Wait", Data="5", Async=True)
        events_until(ami, lambda seen: any(e.name == "Newexten" and e["Exten"] == "600"
                                           for e in seen))
        lines = ami.command("core show channels")
        status = ami.action("CoreStatus")
    assert "2 active channels" in lines and "1 active calls" in lines
    assert status["CoreCurrentCalls"] == "2"
