"""WaitEvent and the event stream, as a real Asterisk 23.4.1 serves them.

Each test names the capture that shows what it asserts (08_waitevent_semantics, busy,
20_behaviour/userevent).
"""

from __future__ import annotations

import re
import threading
import time
import uuid

from tests.conformance.conftest import Wire


def _user_event(wire: Wire, **headers: str) -> str:
    tag = uuid.uuid4().hex[:12]
    reply = wire.get("/rawman", action="UserEvent", UserEvent="AmikitConf", Tag=tag, **headers)
    assert reply.messages()[0]["Response"] == "Success"
    return tag


def _has_tag(tag: str):
    return lambda m: m.name == "UserEvent" and m.get("Tag") == tag


def test_wait_event_shape(logged_in: Wire):
    # 08_waitevent_semantics/a_no_events_rawman (to0); Privilege and Timestamp as in every
    # queued event of 05_originate/rawman, busy/ and 20_behaviour/
    logged_in.get("/rawman", action="WaitEvent", Timeout="0")  # drain
    tag = _user_event(logged_in)  # queued before the WaitEvent: it comes at once, even with Timeout 0
    raw = logged_in.get("/rawman", action="WaitEvent", Timeout="0", ActionID="to0")
    messages = raw.messages()
    assert messages[0].headers == [("Response", "Success"), ("ActionID", "to0"),
                                   ("Message", "Waiting for Event completed.")]
    assert messages[-1].headers == [("Event", "WaitEventComplete"), ("ActionID", "to0")]
    assert any(_has_tag(tag)(event) for event in messages[1:-1]), "the queued event is in the reply"
    for event in messages[1:-1]:  # other clients' events may be there on a shared server
        assert [n for n, _ in event.headers[:3]] == ["Event", "Privilege", "Timestamp"]
        assert re.fullmatch(r"[a-z]+(,[a-z]+)*,all", event["Privilege"])
        assert re.fullmatch(r"\d+\.\d{6}", event["Timestamp"])


def test_queued_events_come_at_once_and_every_session_gets_a_copy(base_url: str):
    # 08_waitevent_semantics/b_two_sessions/comparison.txt; the UserEvent action's event:
    # 20_behaviour/userevent/run1-5.rawman (Privilege user,all, its own headers kept)
    a, b = Wire(base_url), Wire(base_url)
    try:
        a.login()
        b.login()
        tag = _user_event(a, Key1="Value1")
        for wire in (a, b):
            event = wire.wait_for(_has_tag(tag), seconds=5)[-1]
            assert event["Privilege"] == "user,all" and event["Key1"] == "Value1"
    finally:
        a.close()
        b.close()


def _two_waiters(first: Wire, second: Wire) -> tuple:
    first.get("/rawman", action="WaitEvent", Timeout="0")  # drain
    result = {}

    def first_waiter() -> None:
        result["first"] = first.get("/rawman", action="WaitEvent", Timeout="5")

    thread = threading.Thread(target=first_waiter)
    thread.start()
    time.sleep(0.3)
    newer = second.send("GET", "/rawman", {"action": "WaitEvent", "Timeout": "1"})
    thread.join(10)
    return result["first"], newer


def test_a_newer_wait_event_kicks_out_the_older(logged_in: Wire, base_url: str):
    # 08_waitevent_semantics/c2_same_session_two_waiters_retry (003_*_first_waitevent:
    # Content-Length: 0, the session's Set-Cookie; notes.txt: 6/6 tries)
    second = Wire(base_url)
    second.cookie = logged_in.cookie
    try:
        # Other events can wake the first waiter before the second arrives (a busy or shared
        # server), so try a few times, as the captures did (c2_same_session_two_waiters_retry).
        for _ in range(8):
            older, newer = _two_waiters(logged_in, second)
            if len(older.messages()) <= 2:
                break
        assert older.status == 200 and older.body == b""
        assert older.header("Content-Length") == "0"
        assert older.cookie == logged_in.cookie
        assert newer.messages()[0]["Message"] == "Waiting for Event completed."
    finally:
        second.close()


def test_events_mask_off_still_delivers_to_wait_event(logged_in: Wire):
    # 08_waitevent_semantics/d_events_action_rawman/005_events_off, 007_waitevent_after_events_off
    off = logged_in.get("/rawman", action="Events", ActionID="ev-off", EventMask="off")
    assert off.body == b"Response: Success\r\nActionID: ev-off\r\nEvents: Off\r\n\r\n"
    tag = _user_event(logged_in)
    logged_in.wait_for(_has_tag(tag), seconds=5)


def test_events_mask_call_drops_other_classes(logged_in: Wire):
    # 08_waitevent_semantics/d_events_action_rawman/008_events_call_only (Events: On),
    # 010_waitevent_after_events_call (only call,all events, no UserEvent)
    on = logged_in.get("/rawman", action="Events", EventMask="call").messages()[0]
    assert on["Events"] == "On"
    tag = _user_event(logged_in)
    # Then a call (busy at once), whose OriginateResponse is of class call: the events read
    # up to it include every event queued after the UserEvent, so an empty stream fails.
    action_id = f"mask-{tag}"
    queued = logged_in.get("/rawman", action="Originate", Channel="Local/486@sets",
                           Application="Wait", Data="1", Async="true", ActionID=action_id)
    assert queued.messages()[0]["Response"] == "Success"
    events = logged_in.wait_for(lambda m: m.name == "OriginateResponse" and m.action_id == action_id,
                                seconds=10)
    assert any(e.name == "Newchannel" for e in events)
    assert all("call" in e["Privilege"].split(",") for e in events)
    assert not any(e.name == "UserEvent" for e in events)


def test_filter_keeps_only_matching_events(logged_in: Wire):
    # 08_waitevent_semantics/e_login_events_off_and_filter/005_filter_add_newchannel_only,
    # 007_waitevent_after_filter (only the filtered event)
    reply = logged_in.get("/rawman", action="Filter", Operation="Add", Filter="Event: UserEvent",
                          ActionID="f1")
    assert reply.body == b"Response: Success\r\nActionID: f1\r\nMessage: Success\r\n\r\n"
    tag = _user_event(logged_in)
    seen = logged_in.wait_for(_has_tag(tag), seconds=5)
    assert all(e.name == "UserEvent" for e in seen)


def test_security_events_for_logins(base_url: str):
    # SuccessfulAuth in 08_waitevent_semantics/d_events_action_rawman/003_drain (security,all,
    # Service AMI, AccountID)
    watcher = Wire(base_url)
    other = Wire(base_url)
    try:
        watcher.login()
        other.get("/rawman", action="Login", username="hello", secret="world")
        event = watcher.wait_for(lambda m: m.name == "SuccessfulAuth", seconds=5)[-1]
        assert event["Privilege"] == "security,all" and event["Service"] == "AMI"
        assert event["AccountID"] == "hello"
    finally:
        watcher.close()
        other.close()
