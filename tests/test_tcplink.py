"""amikit.tcplink: the TCP captures' server bytes fed in odd chunk sizes, no socket.

Every expectation is read from the capture itself: the client's writes give the actions
(with their ActionIDs), and :func:`amikit.protocol.parse_recording` of the server's bytes,
read independently, gives the replies and events the link must hand out.
"""

from __future__ import annotations

import pytest

from amikit.errors import ConnectionLost, ProtocolError
from amikit.message import Message
from amikit.protocol import parse_rawman, parse_recording
from amikit.session import (
    CONNECTION_HEADER,
    DROPPED_HEADER,
    HTTPRequest,
    ReplyTimeout,
    ReplyTooLarge,
)
from amikit.tcplink import MAX_ABANDONED, PROBE_ID, Exchange, TCPLink
from tests.conftest import capture_bytes
from tests.tcp_replay import FOLDER, turns

CAPTURES = ["01_login_ping_command_logoff", "02_wrong_password",
            "03_events_on_2s_during_busy_run", "04_events_originate_list_logoff",
            "05_challenge_md5_login", "06_pipelined_actions", "07_errors_and_lf",
            "08_unauthenticated_idle_authtimeout"]
CHUNKS = [1, 2, 3, 7, 13, 64, 1000, 1 << 30]
URL = "tcp://127.0.0.1:5038"


def request(pairs, timeout: float = 10.0) -> HTTPRequest:
    return HTTPRequest("AMI", URL, {}, None, timeout, pairs=tuple(pairs))


def actions(name: str) -> list[Message]:
    """What the client wrote, one message per action (a write may hold several)."""
    return [m for turn in turns(name) if turn.sent for m in parse_rawman(turn.sent)]


def server_bytes(name: str) -> bytes:
    return capture_bytes(f"{FOLDER}/{name}.s2c.bin")


def feed(link: TCPLink, data: bytes, size: int) -> None:
    for at in range(0, len(data), size):
        link.receive(data[at:at + size], now=1.0)


def replayed(name: str, size: int) -> tuple[TCPLink, list[tuple[Message, Exchange]]]:
    """A link that sent every action of ``name`` and was fed all the server's bytes."""
    link = TCPLink()
    sent = [(action, Exchange(link, request(action.headers))) for action in actions(name)]
    feed(link, server_bytes(name), size)
    return link, sent


def recorded_lists(name: str) -> dict[str, list[Message]]:
    """The list items per ActionID, read from the server's bytes by the EventList rule."""
    lists: dict[str, list[Message]] = {}
    for message in parse_recording(server_bytes(name)):
        action_id = message.action_id
        if not message.is_event and (message.get("EventList") or "").lower() == "start":
            lists[action_id or ""] = []
        elif message.is_event and action_id in lists and (
                not lists[action_id] or (lists[action_id][-1].get("EventList") or "").lower()
                != "complete"):
            lists[action_id].append(message)
    return lists


@pytest.mark.parametrize("size", CHUNKS)
@pytest.mark.parametrize("name", CAPTURES)
def test_replies_and_events_come_out_whatever_the_chunks(name, size):
    link, sent = replayed(name, size)
    data = server_bytes(name)
    assert link.banner == data.split(b"\r\n", 1)[0].decode()
    recorded = parse_recording(data)
    replies = [m for m in recorded if m.is_response and not m.is_event]
    lists = recorded_lists(name)
    # every reply reached the action it answers, in the order they were written
    answered = [ex for _, ex in sent if ex.ready()]
    assert len(answered) == len(replies)
    for (action, exchange), reply in zip(sent, replies, strict=False):
        messages = exchange.response().messages
        assert messages is not None
        assert messages[0] == reply
        assert messages[0].get("ActionID") == action.get("ActionID")
        assert list(messages[1:]) == lists.get(reply.get("ActionID") or "", [])
    # every other event is buffered, in order, stamped as it arrived
    items = [item for ms in lists.values() for item in ms]
    events = [m for m in recorded if m.is_event and not any(m == item for item in items)]
    buffered = link.take_events()
    assert buffered == events
    assert all(e.received_at == 1.0 for e in buffered)


def test_a_list_action_is_collected_to_its_complete_event():
    link, sent = replayed("04_events_originate_list_logoff", 5)
    by_id = {a["ActionID"]: ex for a, ex in sent}
    listing = by_id["c1"].response().messages
    assert [m.get("EventList") for m in listing] == ["start", "Complete"]
    assert listing[-1].name == "CoreShowChannelsComplete"
    # OriginateResponse carries the Originate's ActionID and a Response header, yet it is
    # an event: it stays in the buffer
    events = link.take_events()
    assert "OriginateResponse" in [e.name for e in events]
    assert events[0].name == "FullyBooted"  # first, as Asterisk sends it after Login


def test_replies_without_an_actionid_are_matched_in_order():
    _, sent = replayed("07_errors_and_lf", 1)
    by_name = [(a.name, a.get("ActionID"), ex.response().messages[0]) for a, ex in sent]
    login, ping = by_name[0][2], by_name[1][2]
    assert by_name[0][1] is None and login["Message"] == "Authentication accepted"
    assert by_name[1][1] is None and ping["Ping"] == "Pong"
    assert by_name[-1][2]["Response"] == "Goodbye"


def test_login_makes_the_link_authenticated_and_logoff_undoes_it():
    link = TCPLink()
    data = server_bytes("05_challenge_md5_login")
    steps = actions("05_challenge_md5_login")
    for action in steps:
        Exchange(link, request(action.headers))
    feed(link, data[:data.index(b"ActionID: l2")], 3)
    assert not link.authenticated
    feed(link, data[data.index(b"ActionID: l2"):data.index(b"ActionID: x2")], 3)
    assert link.authenticated
    feed(link, data[data.index(b"ActionID: x2"):], 3)
    assert not link.authenticated


def test_a_wrong_password_leaves_the_link_unauthenticated():
    link, sent = replayed("02_wrong_password", 4)
    assert sent[0][1].response().messages[0]["Message"] == "Authentication failed"
    assert not link.authenticated


def test_waitevent_is_answered_from_the_buffer_once_logged_in():
    link, _ = replayed("04_events_originate_list_logoff", 64)
    link.authenticated = True  # the capture ends with a Logoff; as if before it
    wait = Exchange(link, request([("Action", "WaitEvent"), ("ActionID", "w1"),
                                   ("Timeout", "5")], timeout=15))
    assert wait.data == b"" and wait.patience == 5 and wait.ready()
    messages = wait.response().messages
    assert messages[0]["Response"] == "Success" and messages[0]["ActionID"] == "w1"
    assert messages[-1].name == "WaitEventComplete"
    assert messages[1].name == "FullyBooted" and len(messages) > 10
    # nothing more buffered: not ready, and when its Timeout is up it answers no events
    again = Exchange(link, request([("Action", "WaitEvent"), ("Timeout", "1")]))
    assert not again.ready()
    assert [m.name for m in again.response().messages[1:]] == ["WaitEventComplete"]


def test_waitevent_before_login_goes_to_the_server():
    link = TCPLink()
    wait = Exchange(link, request([("Action", "WaitEvent"), ("ActionID", "w"), ("Timeout", "1")]))
    assert wait.data.startswith(b"Action: WaitEvent\r\n")
    link.receive(b"Asterisk Call Manager/12.0.0\r\n"
                 b"Response: Error\r\nActionID: w\r\nMessage: Permission denied\r\n\r\n")
    assert wait.response().messages[0]["Message"] == "Permission denied"


def test_a_full_buffer_drops_the_oldest_and_counts_them():
    link = TCPLink(max_events=3)
    link.receive(b"Asterisk Call Manager/12.0.0\r\n"
                 + b"".join(b"Event: E%d\r\n\r\n" % i for i in range(5)))
    assert [e.name for e in link.events] == ["E2", "E3", "E4"]
    assert link.dropped == 2
    link.authenticated = True
    response = Exchange(link, request([("Action", "WaitEvent"), ("Timeout", "1")])).response()
    assert response.headers[DROPPED_HEADER] == "2" and response.headers[CONNECTION_HEADER] == "1"
    link.receive(b"Event: E5\r\n\r\n")
    later = Exchange(link, request([("Action", "WaitEvent"), ("Timeout", "1")])).response()
    assert later.headers[DROPPED_HEADER] == "0"


def test_a_closed_connection_fails_what_waits_but_hands_out_what_came():
    link = TCPLink()
    link.receive(b"Asterisk Call Manager/12.0.0\r\nEvent: Early\r\n\r\n")
    link.authenticated = True
    ping = Exchange(link, request([("Action", "Ping"), ("ActionID", "p")]))
    waits = [Exchange(link, request([("Action", "WaitEvent"), ("Timeout", "1")]))
             for _ in range(2)]
    link.close("the server closed the connection")
    assert ping.ready() and not link.authenticated
    with pytest.raises(ConnectionLost, match="closed the connection before the reply to Ping"):
        ping.response()
    # the event that came before the end is handed out; then the end is reported
    assert [m.name for m in waits[0].response().messages[1:]] == ["Early", "WaitEventComplete"]
    with pytest.raises(ConnectionLost, match="the server closed the connection"):
        waits[1].response()


BANNER = b"Asterisk Call Manager/12.0.0\r\n"


def greeted(**kwargs) -> TCPLink:
    link = TCPLink(**kwargs)
    link.receive(BANNER, now=1.0)
    return link


def ping(action_id: str, timeout: float = 10.0) -> HTTPRequest:
    return request([("Action", "Ping"), ("ActionID", action_id)], timeout=timeout)


def a_list(action_id: str, items: int) -> bytes:
    return (b"Response: Success\r\nActionID: %s\r\nEventList: start\r\n\r\n" % action_id.encode()
            + b"".join(b"Event: CoreShowChannel\r\nActionID: %s\r\nChannel: PJSIP/%d\r\n\r\n"
                       % (action_id.encode(), i) for i in range(items))
            + b"Event: CoreShowChannelsComplete\r\nActionID: %s\r\nEventList: Complete\r\n"
              b"ListItems: %d\r\n\r\n" % (action_id.encode(), items))


def test_a_reply_that_does_not_come_in_time_closes_the_link():
    link = greeted()
    slow = Exchange(link, ping("a", timeout=1))
    with pytest.raises(ReplyTimeout, match="no complete reply to Ping"):
        slow.response()
    # the replies no longer line up with the requests: the next request needs a new link
    assert link.closed is not None and "no complete reply to Ping" in link.closed
    assert link.waiting == 0


def test_a_given_up_request_drops_its_late_reply_not_the_next_ones():
    link = greeted()
    slow = Exchange(link, ping("a"))
    slow.abandon()  # e.g. its task was cancelled
    fast = Exchange(link, ping("b"))
    link.receive(b"Response: Success\r\nActionID: a\r\nPing: Pong\r\n\r\n")
    assert not fast.ready() and link.waiting == 1  # the given-up one is gone
    link.receive(b"Response: Success\r\nActionID: b\r\nPing: Pong\r\n\r\n")
    assert fast.response().messages[0]["ActionID"] == "b" and link.waiting == 0


def test_a_given_up_list_keeps_its_items_out_of_the_events():
    link = greeted()
    listing = Exchange(link, request([("Action", "CoreShowChannels"), ("ActionID", "c")]))
    listing.abandon()
    link.receive(a_list("c", 3) + b"Event: Newchannel\r\n\r\n")
    assert [e.name for e in link.take_events()] == ["Newchannel"]
    assert link.waiting == 0


def test_given_up_requests_are_remembered_up_to_a_bound():
    link = greeted()
    for i in range(MAX_ABANDONED + 10):
        Exchange(link, ping(f"x{i}")).abandon()
    assert link.waiting == MAX_ABANDONED


def test_a_list_is_bounded_as_a_whole_by_max_reply_bytes():
    link = greeted(max_reply_bytes=400)
    listing = Exchange(link, request([("Action", "CoreShowChannels"), ("ActionID", "c")]))
    data = a_list("c", 8)  # no single message is large: the list is
    link.receive(data[:300])
    assert not listing.ready()
    link.receive(data[300:] + b"Event: Newchannel\r\n\r\n")
    assert listing.ready()
    with pytest.raises(ReplyTooLarge, match="reply to CoreShowChannels grew past 400 bytes"):
        listing.response()
    # the rest of the list was dropped, not buffered as events; the link goes on
    assert [e.name for e in link.take_events()] == ["Newchannel"] and link.waiting == 0
    assert link.closed is None


def test_a_failed_response_leaves_the_dropped_count_for_the_next():
    link = greeted(max_events=1)
    link.receive(b"".join(b"Event: E%d\r\n\r\n" % i for i in range(3)))
    assert link.dropped == 2
    with pytest.raises(ReplyTimeout):
        Exchange(link, ping("p", timeout=1)).response()
    assert link.take_dropped() == 2  # still to be reported
    link = greeted(max_events=1)
    link.receive(b"".join(b"Event: E%d\r\n\r\n" % i for i in range(3)))
    link.authenticated = True
    wait = Exchange(link, request([("Action", "WaitEvent"), ("Timeout", "1")]))
    link.take_events()
    link.close("the server closed the connection")
    with pytest.raises(ConnectionLost):
        wait.response()
    assert link.take_dropped() == 2


def test_a_quiet_link_is_checked_with_a_ping():
    link = greeted()
    link.authenticated = True
    wait = Exchange(link, request([("Action", "WaitEvent"), ("Timeout", "1")], timeout=11))
    assert not wait.needs_probe(now=5.0, probe_after=20)  # heard 4 s ago
    assert wait.needs_probe(now=30.0, probe_after=20)
    data = wait.probe()
    assert data.startswith(b"Action: Ping\r\nActionID: " + PROBE_ID.encode())
    assert not wait.ready()
    action_id = data.split(b"ActionID: ")[1].split(b"\r\n")[0]
    link.receive(b"Response: Success\r\nActionID: %s\r\nPing: Pong\r\n\r\n" % action_id,
                 now=31.0)
    assert wait.ready()
    messages = wait.response().messages
    assert [m.name for m in messages[1:]] == ["WaitEventComplete"]  # the Pong is not an event
    # an event while the Pong is awaited shows the link lives: it is handed out at once
    busy = Exchange(link, request([("Action", "WaitEvent"), ("Timeout", "1")], timeout=11))
    busy.probe()
    link.receive(b"Event: Newchannel\r\n\r\n", now=32.0)
    assert busy.ready()
    assert [m.name for m in busy.response().messages[1:]] == ["Newchannel", "WaitEventComplete"]
    # no Pong in time: the link is taken for dead
    silent = Exchange(link, request([("Action", "WaitEvent"), ("Timeout", "1")], timeout=11))
    silent.probe()
    with pytest.raises(ReplyTimeout, match="keep-alive Ping"):
        silent.response()
    assert link.closed is not None


def test_a_server_that_is_not_ami_is_told_apart():
    link = TCPLink()
    with pytest.raises(ProtocolError, match="not an AMI banner"):
        link.receive(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    assert link.first_line == "HTTP/1.1 400 Bad Request"


def test_the_bytes_written_are_the_action_as_given():
    link = TCPLink()
    pairs = [("Action", "Originate"), ("ActionID", "o"), ("Variable", "A=1"), ("Variable", "B=2")]
    assert Exchange(link, request(pairs)).data == (
        b"Action: Originate\r\nActionID: o\r\nVariable: A=1\r\nVariable: B=2\r\n\r\n")
