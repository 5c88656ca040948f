"""The simulator's TCP AMI replays the captures of a real Asterisk 23.4.1 on port 5038.

Each test sends a transcript's client bytes, split as the transcript shows them, and
compares what comes back with the recorded server bytes once the per-run values are masked
(:func:`tests.tcp_replay.masked`). Where the capture shows events pushed between replies,
the replies are still compared in order and the events as a set (a real Asterisk writes
them from several threads, so their order is not the protocol's); everywhere else every
byte is compared in order. The expected bytes come from the captures only.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from importlib import resources

import pytest

from amikit.sim import Simulator
from amikit.sim.config import load_config
from amikit.sim.events import EventBus
from amikit.sim.manager import Manager
from amikit.sim.tcpfront import INBOX, ActionReader, TCPFront, _Connection
from tests.conftest import CAPTURES, capture_bytes
from tests.tcp_replay import BANNER, FOLDER, Connection, Turn, is_event, masked, messages, turns, whole

SPEED = 5  # the PBX's Wait(1) takes 0.2 s; the replay's pauses shrink to match
DEADLINE = 30.0  # seconds a turn may take to bring what the capture shows, under load too
NAMES = ["01_login_ping_command_logoff", "02_wrong_password", "03_events_on_2s_during_busy_run",
         "04_events_originate_list_logoff", "05_challenge_md5_login", "06_pipelined_actions",
         "07_errors_and_lf", "08_unauthenticated_idle_authtimeout"]


@pytest.fixture(scope="module")
def sim(tmp_path_factory) -> Iterator[Simulator]:
    """The simulator on the recorded server's own dialplan (``dialplan show`` names its lines)."""
    folder = tmp_path_factory.mktemp("lab")
    shutil.copy(CAPTURES / "conf" / "extensions.conf", folder)
    with Simulator(port=0, tcp_port=0, config=folder, speed=SPEED, seed=3) as running:
        yield running


def replay(sim: Simulator, name: str, *, windows: dict[int, int] | None = None,
           enough: dict[int, Callable[[list[bytes]], bool]] | None = None,
           rewrite: Callable[[bytes, bytes], bytes] | None = None,
           during: Callable[[int], None] | None = None) -> list[tuple[Turn, list[bytes]]]:
    """Play capture ``name`` against ``sim``; return each turn with the messages received.

    Each turn is read until as many whole messages as the capture shows have come (or
    ``enough[turn](messages)`` holds), within a generous deadline, then for the recorded
    pause. ``windows`` names the turns where the capture shows pushed events: turn index →
    how many leading messages are the reply. ``rewrite(sent, received so far)`` adapts a
    write to this run (the MD5 key of a new challenge); ``during(turn)`` runs after a write.
    """
    windows, enough = windows or {}, enough or {}
    conn = Connection("127.0.0.1", sim.tcp_port)
    received: bytes = b""
    out = []
    try:
        for index, turn in enumerate(turns(name)):
            if turn.sent is not None:
                conn.send(rewrite(turn.sent, received) if rewrite else turn.sent)
            if during is not None:
                during(index)
            count = len(messages(turn.expected))
            conn.read_until(enough.get(index, lambda got, n=count: whole(got) >= n),
                            seconds=DEADLINE)
            if turn.closed:
                conn.read_until(lambda got: False)
                assert conn.eof, f"turn {index}: the capture shows the server closing"
            else:
                conn.read_for(max(turn.gap, turn.span) / SPEED)  # the recorded pause, scaled
            data = conn.take()
            received += data
            out.append((turn, messages(data)))
    finally:
        conn.close()
    return out


def assert_exact(turn: Turn, got: list[bytes], index: int) -> None:
    expected = [masked(m) for m in messages(turn.expected)]
    assert [masked(m) for m in got] == expected, f"turn {index} differs"


def assert_window(turn: Turn, got: list[bytes], head: int, index: int) -> list[bytes]:
    """The reply in order, then only events; returns the events received."""
    expected = messages(turn.expected)
    assert [masked(m) for m in got[:head]] == [masked(m) for m in expected[:head]], index
    assert all(is_event(m) for m in got[head:]), f"turn {index}: a reply among the events"
    return got[head:]


def test_each_transcript_is_its_bin_files_in_order():
    for name in NAMES:
        parts = turns(name)
        assert b"".join(t.sent or b"" for t in parts) == capture_bytes(f"{FOLDER}/{name}.c2s.bin")
        assert b"".join(t.expected for t in parts) == capture_bytes(f"{FOLDER}/{name}.s2c.bin")


def test_01_login_ping_command_corestatus_logoff(sim):
    for index, (turn, got) in enumerate(replay(sim, NAMES[0])):
        assert_exact(turn, got, index)
    # core show version is the one Output line masked: who built it, and when
    assert b"<build>" in masked(turns(NAMES[0])[3].expected)


def test_02_wrong_password_then_closed(sim):
    started = time.monotonic()
    played = replay(sim, NAMES[1])
    for index, (turn, got) in enumerate(played):
        assert_exact(turn, got, index)
    # action_login waits a second before it answers; process_message then returns -1 and
    # session_do ends the connection (the capture client hung up before it could see that)
    assert time.monotonic() - started >= 1.0


def test_02_wrong_password_closes_the_connection(sim):
    conn = Connection("127.0.0.1", sim.tcp_port)
    conn.send(turns(NAMES[1])[1].sent or b"")
    conn.read_until(lambda got: False, seconds=5)
    assert conn.eof and conn.take().endswith(b"Message: Authentication failed\r\n\r\n")


def _captured_shapes(name: str) -> dict[bytes, set[tuple[bytes, ...]]]:
    """Each captured event's header names, by event name (and CEL EventName)."""
    shapes: dict[bytes, set[tuple[bytes, ...]]] = {}
    for message in messages(capture_bytes(f"{FOLDER}/{name}.s2c.bin")):
        if is_event(message):
            shapes.setdefault(_kind(message), set()).add(_names(message))
    return shapes


def _kind(message: bytes) -> bytes:
    first = message.split(b"\r\n")[0]
    cel = re.search(rb"\r\nEventName: (\w+)", message)
    return first + (b"/" + cel[1] if first == b"Event: CEL" and cel else b"")


def _names(message: bytes) -> tuple[bytes, ...]:
    return tuple(line.partition(b":")[0] for line in message.split(b"\r\n") if line)


def test_03_events_pushed_after_login_without_asking(sim):
    """Login with events on: the reply, FullyBooted, its own SuccessfulAuth, then whatever
    happens on the PBX (in the capture, a busy run of other clients' calls; here a call
    another connection places), each event whole and shaped as the capture's."""
    def place_a_call(index: int) -> None:
        if index == 1:
            other = Connection("127.0.0.1", sim.tcp_port)
            other.send(b"Action: Login\r\nUsername: hello\r\nSecret: world\r\nEvents: off\r\n\r\n"
                       b"Action: Originate\r\nActionID: busy-1\r\nChannel: Local/900@sets\r\n"
                       b"Application: Wait\r\n"
                       b"Data: 1\r\nAsync: true\r\n\r\nAction: Logoff\r\n\r\n")
            other.read_until(lambda got: False)
            other.close()

    # the reply, FullyBooted and SuccessfulAuth, then the call's events: read until more
    # than 20 of those have come (they take the call's 0.2 s, or longer on a loaded machine)
    played = replay(sim, NAMES[2], windows={1: 3}, during=place_a_call,
                    enough={1: lambda got: whole(got) >= 3 + 21})
    assert_exact(*played[0], 0)
    events = assert_window(*played[1], head=3, index=1)
    assert len(events) > 20
    shapes = _captured_shapes(NAMES[2]) | _captured_shapes(NAMES[3])
    for event in events:
        assert _names(event) in shapes.get(_kind(event), set()), event
    assert all(re.match(rb"Event: \w+\r\nPrivilege: [a-z]+,all\r\nTimestamp: \d+\.\d{6}\r\n", e)
               for e in events)


def test_fully_booted_follows_the_event_mask_not_the_transport(sim):
    """action_login appends FullyBooted when send_events and the read permission both have
    system. A TCP session starts with every event on, an HTTP one with none
    (generic_http_callback: send_events = 0), so over HTTP only a Login with Events on
    gets it; the HTTP captures log in without Events or with Events: off and show none."""
    import httpx

    def login(**events: str) -> list[bytes]:
        with httpx.Client() as http:
            reply = http.get(sim.url + "/rawman", params={
                "action": "Login", "username": "hello", "secret": "world", **events})
            return messages(reply.content)

    assert login() == [b"Response: Success\r\nMessage: Authentication accepted\r\n\r\n"]
    assert len(login(Events="off")) == 1 and len(login(Events="call")) == 1
    for mask in ("on", "system"):
        got = login(Events=mask)
        assert len(got) == 2 and re.fullmatch(
            rb"Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: \d+\r\n"
            rb"LastReload: \d+\r\nStatus: Fully Booted\r\n\r\n", got[1])
    conn = Connection("127.0.0.1", sim.tcp_port)
    conn.send(b"Action: Login\r\nUsername: hello\r\nSecret: world\r\nEvents: call\r\n\r\n"
              b"Action: Ping\r\nActionID: after\r\n\r\n")
    conn.read_until(lambda got: any(b"ActionID: after" in m for m in got))
    assert not any(b"FullyBooted" in m for m in messages(conn.take()))
    conn.close()


def test_04_events_originate_list_events_off_and_on_logoff(sim):
    """The call's events as the capture shows them (as a set), none while events are off
    (the second Originate), the list action and the Command reply whole, then Goodbye."""
    played = replay(sim, NAMES[3], windows={2: 1})
    for index, (turn, got) in enumerate(played):
        if index == 2:
            events = assert_window(turn, got, 1, index)
            expected = [masked(m) for m in messages(turn.expected)[1:]]
            assert sorted(masked(m) for m in events) == sorted(expected)
            # the ids the Originate chose are not per-run: ChannelId and its ;2 twin
            chosen = re.compile(rb"Uniqueid: (tcp-orig-1(?:;2)?)\r\n")
            assert (sorted(chosen.findall(b"".join(events)))
                    == sorted(chosen.findall(turn.expected)))
        else:
            assert_exact(turn, got, index)


def _md5_key(sent: bytes, received: bytes) -> bytes:
    """The client's Key for this run's Challenge (the recorded one answered another)."""
    challenge = re.search(rb"Challenge: (\d+)\r\n", received)
    if not challenge or b"Key: " not in sent:
        return sent
    key = hashlib.md5(challenge[1] + b"world").hexdigest().encode()
    return re.sub(rb"Key: [0-9a-f]{32}", b"Key: " + key, sent)


def test_05_challenge_and_md5_login(sim):
    recorded = turns(NAMES[4])[2].sent or b""
    # the recorded key is the one for the recorded challenge: the rewrite is the whole trick
    assert hashlib.md5(b"391936861world").hexdigest().encode() in recorded
    for index, (turn, got) in enumerate(replay(sim, NAMES[4], rewrite=_md5_key)):
        assert_exact(turn, got, index)


def test_06_action_before_login_denied_then_pipelined_actions_in_order(sim):
    for index, (turn, got) in enumerate(replay(sim, NAMES[5])):
        assert_exact(turn, got, index)


def test_07_no_actionid_unknown_action_missing_channel_and_bare_lf(sim):
    for index, (turn, got) in enumerate(replay(sim, NAMES[6])):
        assert_exact(turn, got, index)


@pytest.fixture(scope="module")
def quick_auth(tmp_path_factory) -> Iterator[Simulator]:
    """A simulator whose manager.conf says authtimeout = 1 and authlimit = 2."""
    folder = tmp_path_factory.mktemp("conf")
    default = resources.files("amikit.sim").joinpath("defaults/manager.conf").read_text()
    (folder / "manager.conf").write_text(default.replace(
        "[general]\n", "[general]\nauthtimeout = 1\nauthlimit = 2\n", 1))
    with Simulator(port=0, tcp_port=0, config=folder) as running:
        yield running


def test_08_unauthenticated_idle_connection_closed_after_authtimeout(quick_auth):
    played = turns(NAMES[7])
    assert len(played) == 1 and played[0].closed and played[0].expected == BANNER
    conn = Connection("127.0.0.1", quick_auth.tcp_port)
    started = time.monotonic()
    conn.read_until(lambda got: False, seconds=5)
    assert conn.eof and conn.take() == BANNER  # closed with no message, as recorded
    assert 0.9 <= time.monotonic() - started < 2.5


def test_authtimeout_counts_from_the_connection_not_from_the_last_line(quick_auth):
    conn = Connection("127.0.0.1", quick_auth.tcp_port)
    started = time.monotonic()
    while not conn.eof and time.monotonic() - started < 4:
        conn.send(b"Action: Ping\r\n\r\n")  # denied, and does not keep the connection open
        conn.read_for(0.2)
    assert conn.eof and 0.9 <= time.monotonic() - started < 2.5


def test_authlimit_closes_new_connections_unanswered(quick_auth):
    first, second = (Connection("127.0.0.1", quick_auth.tcp_port) for _ in range(2))
    for conn in (first, second):
        conn.read_until(lambda got: whole(got) >= 1)
        assert conn.take() == BANNER
    third = Connection("127.0.0.1", quick_auth.tcp_port)
    third.read_until(lambda got: False, seconds=2)
    assert third.eof and third.take() == b""  # session_do: over authlimit, no banner
    first.send(b"Action: Login\r\nUsername: hello\r\nSecret: world\r\nEvents: off\r\n\r\n")
    first.read_until(lambda got: whole(got) >= 1)
    assert first.take() == b"Response: Success\r\nMessage: Authentication accepted\r\n\r\n"
    fourth = Connection("127.0.0.1", quick_auth.tcp_port)  # a logged-in one no longer counts
    fourth.read_until(lambda got: whole(got) >= 1)
    assert fourth.take() == BANNER
    for conn in (first, second, third, fourth):
        conn.close()


def test_events_action_and_waitevent_over_tcp(sim):
    """WaitEvent works over TCP as in Asterisk: the events come inside its reply."""
    conn = Connection("127.0.0.1", sim.tcp_port)
    conn.read_until(lambda got: bool(got))
    conn.take()
    conn.send(b"Action: Login\r\nUsername: hello\r\nSecret: world\r\nEvents: off\r\n\r\n"
              b"Action: Events\r\nEventMask: user\r\n\r\n"
              b"Action: WaitEvent\r\nActionID: w1\r\nTimeout: 5\r\n\r\n")
    conn.read_until(lambda got: len(got) >= 2)
    assert [m.split(b"\r\n")[0] for m in messages(conn.take())] == [
        b"Response: Success", b"Response: Success"]
    other = Connection("127.0.0.1", sim.tcp_port)
    other.send(b"Action: Login\r\nUsername: hello\r\nSecret: world\r\nEvents: off\r\n\r\n"
               b"Action: UserEvent\r\nUserEvent: Hi\r\n\r\nAction: Logoff\r\n\r\n")
    other.read_until(lambda got: False)
    conn.read_until(lambda got: any(m.startswith(b"Event: WaitEventComplete") for m in got))
    got = messages(conn.take())
    assert got[0] == b"Response: Success\r\nActionID: w1\r\nMessage: Waiting for Event completed.\r\n\r\n"
    assert got[1].startswith(b"Event: UserEvent\r\nPrivilege: user,all\r\n")
    assert got[-1] == b"Event: WaitEventComplete\r\nActionID: w1\r\n\r\n"
    conn.close()


def test_a_waitevent_returns_when_the_next_action_arrives(sim):
    conn = Connection("127.0.0.1", sim.tcp_port)
    conn.send(b"Action: Login\r\nUsername: hello\r\nSecret: world\r\nEvents: off\r\n\r\n"
              b"Action: WaitEvent\r\nTimeout: 30\r\n\r\nAction: Ping\r\nActionID: after\r\n\r\n")
    started = time.monotonic()
    conn.read_until(lambda got: any(b"ActionID: after" in m for m in got), seconds=10)
    assert time.monotonic() - started < 5
    conn.close()


def test_an_empty_action_and_overlong_lines_are_answered_not_dropped():
    reader = ActionReader()
    assert [a.problem() for a in reader.feed(b"\r\n")] == [None]
    long = reader.feed(b"Action: Ping\r\nX: " + b"y" * 2000 + b"\r\nActionID: 7\r\n\r\n")
    assert [a.problem() for a in long] == ["Failed to parse message: line too long"]
    many = reader.feed(b"".join(b"H%d: v\r\n" % i for i in range(130)) + b"\r\n")
    assert many[0].problem() == "Too many lines in message or allocation failure"


def _actions(*chunks: bytes) -> list[tuple[list[tuple[str, str]], str | None]]:
    reader = ActionReader()
    return [(a.params, a.problem()) for chunk in chunks for a in reader.feed(chunk)]


TOO_LONG = "Failed to parse message: line too long"


@pytest.mark.parametrize("end, size, fits", [
    (b"\r\n", 1022, True), (b"\r\n", 1023, False), (b"\n", 1023, True), (b"\n", 1024, False)])
def test_a_line_fits_the_1024_byte_buffer_with_its_line_end(end, size, fits):
    """get_input reads into inbuf[1025] (1024 bytes and a NUL): a line and its CRLF fill at
    most 1024 bytes. One byte more and the full buffer has no line end: it is dropped but
    for its last byte, and the action is answered with an error."""
    line = b"X: " + b"y" * (size - 3)
    got = _actions(b"Action: Ping" + end + line + end + b"ActionID: 7" + end + end)
    if fits:
        assert got == [([("Action", "Ping"), ("X", "y" * (size - 3)), ("ActionID", "7")], None)]
    elif end == b"\r\n":
        # the kept CR and the LF that follows make a blank line: that ends the action there,
        # and the next line starts another (as Asterisk answers it)
        assert got == [([("Action", "Ping")], TOO_LONG), ([("ActionID", "7")], None)]
    else:
        assert got == [([("Action", "Ping"), ("ActionID", "7")], TOO_LONG)]


def test_an_overlong_line_keeps_its_last_byte_and_reads_alike_however_it_is_cut():
    """get_input keeps the full buffer's last byte "in case we are in the middle of a
    CRLF": here it is the A of the ActionID the error reply then carries. The actions do
    not depend on how the bytes were cut into segments."""
    data = (b"Action: Ping\r\n" + b"y" * 1023 + b"ActionID: 7\r\n\r\n"
            + b"Action: Ping\r\nX: " + b"y" * 3000 + b"\r\nActionID: 8\r\n\r\n"
            + b"Action: Logoff\r\n\r\n")
    whole_write = _actions(data)
    assert whole_write == [([("Action", "Ping"), ("ActionID", "7")], TOO_LONG),
                           ([("Action", "Ping"), ("ActionID", "8")], TOO_LONG),
                           ([("Action", "Logoff")], None)]
    assert _actions(*(data[i:i + 1] for i in range(len(data)))) == whole_write
    assert _actions(*(data[i:i + 1000] for i in range(0, len(data), 1000))) == whole_write
    # a full buffer ending in CR, its LF in the next segment: a blank line, then Logoff
    first = b"Action: Ping\r\nX: " + b"y" * 1020 + b"\r"
    assert _actions(first, b"\nActionID: 7\r\nAction: Logoff\r\n\r\n") == [
        ([("Action", "Ping")], TOO_LONG), ([("ActionID", "7"), ("Action", "Logoff")], None)]


class _UnreadSocket:
    """A StreamWriter whose client never reads: the socket takes nothing more."""

    class _Transport:
        def get_write_buffer_size(self) -> int:
            return 1 << 20

    def __init__(self) -> None:
        self.transport = self._Transport()
        self.closed = False

    def write(self, data: bytes) -> None:
        pass

    async def drain(self) -> None:
        await asyncio.Event().wait()

    def get_extra_info(self, name: str) -> object:
        return None

    def close(self) -> None:
        self.closed = True


def _front() -> TCPFront:
    config = load_config()
    return TCPFront(Manager(config, EventBus(), random.Random(1)))


def test_actions_pipelined_by_a_client_that_reads_nothing_wait_in_the_socket():
    """do_message reads the next action only once the last is answered: a client that
    writes actions and reads no reply fills a few waiting actions, then its own socket,
    never the simulator's memory."""
    async def scenario() -> int:
        front = _front()
        reader = asyncio.StreamReader()
        reader.feed_data(b"Action: Ping\r\n\r\n" * 20000)
        conn = _Connection(front, front.manager.open_stream(), reader, _UnreadSocket())
        task = asyncio.ensure_future(conn.run())
        for _ in range(50):
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return conn.inbox.qsize()

    assert asyncio.run(scenario()) <= INBOX


def test_a_write_the_client_does_not_read_ends_after_writetimeout():
    """send_string: a write gets the session's writetimeout (100 ms before Login, then
    the user's); past it write_error is set and session_do ends the connection."""
    async def scenario() -> tuple[float, bool]:
        front = _front()
        writer = _UnreadSocket()
        reader = asyncio.StreamReader()
        reader.feed_data(b"Action: Ping\r\n\r\n")
        started = time.monotonic()
        await asyncio.wait_for(front.serve(reader, writer), 10)
        return time.monotonic() - started, writer.closed

    took, closed = asyncio.run(scenario())
    assert closed and 0.09 <= took < 5


def test_the_simulator_serves_tcp_only_when_asked():
    with Simulator(port=0) as plain:
        assert plain.tcp_url is None
    with Simulator(port=0, tcp_port=0) as both:
        assert both.tcp_url == f"tcp://127.0.0.1:{both.tcp_port}"
        with socket.create_connection(("127.0.0.1", both.tcp_port), timeout=5) as sock:
            assert sock.recv(100) == BANNER


def test_a_taken_tcp_port_fails_or_falls_back_to_http_only(sim, caplog):
    from amikit.errors import AMIError

    with pytest.raises(AMIError, match="TCP AMI"):
        Simulator(port=0, tcp_port=sim.tcp_port).start()
    with Simulator(port=0, tcp_port=sim.tcp_port, tcp_optional=True) as fallback:
        assert fallback.tcp_url is None and fallback.running
    assert "TCP AMI is off" in caplog.text


def test_manager_conf_enabled_no_turns_tcp_off_and_says_so(tmp_path, caplog):
    shutil.copy(resources.files("amikit.sim").joinpath("defaults/manager.conf"), tmp_path)
    path = tmp_path / "manager.conf"
    path.write_text(path.read_text().replace("enabled = yes\n", "enabled = no\n", 1))
    with Simulator(port=0, tcp_port=0, config=tmp_path) as off:
        assert off.tcp_url is None
    assert "TCP AMI is off: manager.conf says enabled = no" in caplog.text


def test_amikit_sim_tcp_flags():
    from amikit.cli import _parser, _tcp_options

    def options(*argv: str) -> dict[str, object]:
        return _tcp_options(_parser().parse_args(["sim", *argv]))

    assert options() == {"tcp_port": "manager.conf", "tcp_optional": True}
    assert options("--tcp-port", "0") == {"tcp_port": 0}
    assert options("--no-tcp") == {"tcp_port": None}
    with pytest.raises(SystemExit):
        options("--tcp-port", "5038", "--no-tcp")


def _first_lines(proc, count: int, seconds: float) -> list[str]:
    """``proc``'s first ``count`` lines of output, or a failure after ``seconds`` (a simulator
    that fails to start must not hang the run)."""
    import queue
    import threading

    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for _ in range(count):  # no further: communicate() reads the rest
            lines.put(proc.stdout.readline())

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + seconds
    got = []
    while len(got) < count:
        try:
            got.append(lines.get(timeout=max(0.0, deadline - time.monotonic())))
        except queue.Empty:
            pytest.fail(f"amikit sim printed {got!r} in {seconds} s, then nothing")
    return got


def test_amikit_sim_prints_the_tcp_address_and_serves_it():
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "amikit.cli", "sim", "--port", "0",
                             "--tcp-port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        lines = "".join(_first_lines(proc, 5, seconds=30))
        port = int(re.search(r"tcp://127\.0\.0\.1:(\d+): nc 127\.0\.0\.1 \1", lines)[1])
        assert f"export AMIKIT_TCP_URL=tcp://127.0.0.1:{port}" in lines
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            assert sock.recv(100) == BANNER
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


def test_closed_or_reset_connections_leave_no_session_behind(sim):
    import struct

    for reset in (False, True):
        with socket.create_connection(("127.0.0.1", sim.tcp_port), timeout=5) as sock:
            sock.sendall(b"Action: Login\r\nUsername: hello\r\nSecret: world\r\n\r\n")
            sock.recv(100)
            if reset:  # SO_LINGER 0: the close sends a RST
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    deadline = time.monotonic() + 5
    while (sim.manager.streams or sim.tcp_front.unauthenticated) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not sim.manager.streams and sim.tcp_front.unauthenticated == 0


def test_tcp_binds_loopback_unless_allowed_as_http_does():
    from amikit.errors import AMIError

    with pytest.raises(AMIError, match=r"refusing to bind 0\.0\.0\.0"):
        Simulator(port=0, tcp_port=0, tcp_host="0.0.0.0")
    with pytest.raises(AMIError, match="default password"):
        Simulator(port=0, tcp_port=0, tcp_host="0.0.0.0", allow_remote=True)


def test_tcp_port_from_manager_conf(tmp_path):
    default = resources.files("amikit.sim").joinpath("defaults/manager.conf").read_text()
    (tmp_path / "manager.conf").write_text(default.replace("port = 5038", "port = 0"))
    with Simulator(port=0, tcp_port="manager.conf", config=tmp_path) as sim:
        assert sim.tcp_port and sim.tcp_url == f"tcp://127.0.0.1:{sim.tcp_port}"
