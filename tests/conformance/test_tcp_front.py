"""The TCP front (port 5038): what the captures of a real Asterisk 23.4.1 show (10_tcp_5038).

Against ``AMIKIT_TEST_TCP`` (``tcp://host:port`` of a real Asterisk configured like
tests/captures/conf) or, by default, a simulator started with ``tcp_port=0``. Replies are
compared byte for byte where the captures fix them; sessions that need exact replies log
in with ``Events: off``, and those that read events look only for their own, so other
clients of a shared server do not matter. What takes a real Asterisk half a minute
(``authtimeout``) is left to tests/test_sim_tcp.py.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from amikit.sim import Simulator
from tests.tcp_replay import BANNER, Connection, is_event, messages, whole

REAL_TCP = os.environ.get("AMIKIT_TEST_TCP")
LOGIN = b"Action: Login\r\nUsername: hello\r\nSecret: world\r\n"
QUIET = LOGIN + b"Events: off\r\n"


@pytest.fixture(scope="module")
def address() -> Iterator[tuple[str, int]]:
    if REAL_TCP:
        parts = urlsplit(REAL_TCP)
        assert parts.scheme == "tcp" and parts.hostname and parts.port, REAL_TCP
        yield parts.hostname, parts.port
        return
    with Simulator(port=0, tcp_port=0, speed=8, seed=7) as sim:
        yield "127.0.0.1", sim.tcp_port


@pytest.fixture
def conn(address: tuple[str, int]) -> Iterator[Connection]:
    """A connection whose banner has been read."""
    connection = Connection(*address)
    connection.read_until(lambda got: whole(got) >= 1)
    assert connection.take() == BANNER
    yield connection
    connection.close()


def ask(conn: Connection, data: bytes, replies: int = 1) -> list[bytes]:
    """Send ``data``; the next ``replies`` messages that are not events (and the events among)."""
    conn.send(data)
    conn.read_until(lambda got: sum(1 for m in got if not is_event(m) and m.endswith(b"\r\n\r\n"))
                    >= replies)
    return messages(conn.take())


def replies_only(received: list[bytes]) -> list[bytes]:
    return [m for m in received if not is_event(m)]


def test_banner_then_login_reply_byte_for_byte(conn: Connection):
    got = ask(conn, QUIET + b"ActionID: t1\r\n\r\n")
    assert got == [b"Response: Success\r\nActionID: t1\r\nMessage: Authentication accepted\r\n\r\n"]


def test_ping_and_logoff_closes(conn: Connection):
    ask(conn, QUIET + b"\r\n")
    ping = ask(conn, b"Action: Ping\r\nActionID: t2\r\n\r\n")
    assert re.fullmatch(rb"Response: Success\r\nActionID: t2\r\nPing: Pong\r\n"
                        rb"Timestamp: \d+\.\d{6}\r\n\r\n", ping[0])
    bye = ask(conn, b"Action: Logoff\r\nActionID: t5\r\n\r\n")
    assert bye == [b"Response: Goodbye\r\nActionID: t5\r\nMessage: Thanks for all the fish.\r\n\r\n"]
    conn.read_until(lambda got: False, seconds=5)
    assert conn.eof


def test_wrong_password_answers_after_a_second_then_closes(conn: Connection):
    started = time.monotonic()
    got = ask(conn, b"Action: Login\r\nUsername: hello\r\nSecret: WRONG\r\nActionID: w1\r\n\r\n")
    assert got == [b"Response: Error\r\nActionID: w1\r\nMessage: Authentication failed\r\n\r\n"]
    assert time.monotonic() - started >= 0.9
    conn.read_until(lambda got: False, seconds=5)
    assert conn.eof


def test_action_before_login_is_denied_and_the_connection_stays(conn: Connection):
    denied = ask(conn, b"Action: Ping\r\nActionID: before-login\r\n\r\n")
    assert denied == [b"Response: Error\r\nActionID: before-login\r\nMessage: Permission denied\r\n\r\n"]
    assert replies_only(ask(conn, QUIET + b"ActionID: l3\r\n\r\n"))[0].startswith(
        b"Response: Success\r\nActionID: l3\r\nMessage: Authentication accepted\r\n")


def test_pipelined_actions_are_answered_in_order(conn: Connection):
    got = replies_only(ask(conn, QUIET + b"ActionID: l3\r\n\r\n"
                                 b"Action: Ping\r\nActionID: p2\r\n\r\n"
                                 b"Action: CoreStatus\r\nActionID: cs1\r\n\r\n"
                                 b"Action: Getvar\r\nActionID: g1\r\nVariable: GLOBAL(CALLCOUNT)\r\n\r\n",
                           replies=4))
    assert [re.search(rb"ActionID: (\S+)\r\n", m)[1] for m in got] == [b"l3", b"p2", b"cs1", b"g1"]
    assert re.fullmatch(rb"Response: Success\r\nActionID: cs1\r\nCoreStartupDate: [\d-]{10}\r\n"
                        rb"CoreStartupTime: [\d:]{8}\r\nCoreReloadDate: [\d-]{10}\r\n"
                        rb"CoreReloadTime: [\d:]{8}\r\nCoreCurrentCalls: \d+\r\n"
                        rb"CoreProcessedCalls: \d+\r\n\r\n", got[2])
    assert re.fullmatch(rb"Response: Success\r\nActionID: g1\r\nVariable: GLOBAL\(CALLCOUNT\)\r\n"
                        rb"Value: \d+\r\n\r\n", got[3])


def test_no_actionid_unknown_action_missing_channel_and_bare_lf(conn: Connection):
    assert ask(conn, QUIET + b"\r\n") == [b"Response: Success\r\nMessage: Authentication accepted\r\n\r\n"]
    assert ask(conn, b"Action: NoSuchThing\r\nActionID: u1\r\n\r\n") == [
        b"Response: Error\r\nActionID: u1\r\nMessage: Invalid/unknown command: NoSuchThing. "
        b"Use Action: ListCommands to show available commands.\r\n\r\n"]
    assert ask(conn, b"Action: Originate\r\nActionID: u2\r\n\r\n") == [
        b"Response: Error\r\nActionID: u2\r\nMessage: Channel not specified\r\n\r\n"]
    lf = ask(conn, b"Action: Ping\nActionID: lf1\n\n")  # replies keep CRLF
    assert re.fullmatch(rb"Response: Success\r\nActionID: lf1\r\nPing: Pong\r\n"
                        rb"Timestamp: \d+\.\d{6}\r\n\r\n", lf[0])


def test_challenge_and_md5_login(conn: Connection):
    challenge = ask(conn, b"Action: Challenge\r\nActionID: ch1\r\nAuthType: MD5\r\n\r\n")
    match = re.fullmatch(rb"Response: Success\r\nActionID: ch1\r\nChallenge: (\d{1,9})\r\n\r\n",
                         challenge[0])
    assert match, challenge
    key = hashlib.md5(match[1] + b"world").hexdigest().encode()
    got = ask(conn, b"Action: Login\r\nActionID: l2\r\nAuthType: MD5\r\nUsername: hello\r\nKey: "
              + key + b"\r\nEvents: off\r\n\r\n")
    assert got == [b"Response: Success\r\nActionID: l2\r\nMessage: Authentication accepted\r\n\r\n"]


def test_login_with_events_on_fully_booted_first_then_events_pushed(conn: Connection):
    got = ask(conn, LOGIN + b"ActionID: e1\r\n\r\n")
    assert got[0] == b"Response: Success\r\nActionID: e1\r\nMessage: Authentication accepted\r\n\r\n"
    if len(got) < 2:  # FullyBooted is part of the reply, but may come in a later segment
        conn.read_until(lambda more: whole(more) >= 1)
        got += messages(conn.take())
    assert re.fullmatch(rb"Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: \d+\r\n"
                        rb"LastReload: \d+\r\nStatus: Fully Booted\r\n\r\n", got[1])
    # a user event raised on this very connection arrives unasked, whole, in its own shape
    name = f"conformance-{uuid.uuid4().hex[:8]}".encode()
    conn.send(b"Action: UserEvent\r\nActionID: ue1\r\nUserEvent: " + name + b"\r\n\r\n")
    conn.read_until(lambda more: any(name in m and is_event(m) for m in more), seconds=10)
    mine = [m for m in messages(conn.take()) if is_event(m) and name in m]
    assert len(mine) == 1 and re.fullmatch(
        rb"Event: UserEvent\r\nPrivilege: user,all\r\nTimestamp: \d+\.\d{6}\r\nUserEvent: "
        + re.escape(name) + rb"\r\n\r\n", mine[0])


def test_events_action_off_stops_the_push_and_on_resumes_it(conn: Connection):
    ask(conn, LOGIN + b"\r\n")
    off = ask(conn, b"Action: Events\r\nActionID: e1\r\nEventMask: off\r\n\r\n")
    assert off[-1] == b"Response: Success\r\nActionID: e1\r\nEvents: Off\r\n\r\n"
    hidden = f"hidden-{uuid.uuid4().hex[:8]}".encode()
    shown = f"shown-{uuid.uuid4().hex[:8]}".encode()
    ask(conn, b"Action: UserEvent\r\nUserEvent: " + hidden + b"\r\n\r\n")
    on = ask(conn, b"Action: Events\r\nActionID: e2\r\nEventMask: on\r\n\r\n")
    assert on[-1] == b"Response: Success\r\nActionID: e2\r\nEvents: On\r\n\r\n"
    conn.send(b"Action: UserEvent\r\nUserEvent: " + shown + b"\r\n\r\n")
    conn.read_until(lambda more: any(shown in m and is_event(m) for m in more), seconds=10)
    received = b"".join(m for m in messages(conn.take()) if is_event(m))
    assert shown in received and hidden not in received
