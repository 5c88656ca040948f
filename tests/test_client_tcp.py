"""The clients over ``tcp://``: against a fake server that answers with the captures' bytes,
then the book's flow against the simulator's TCP front.

The fake server (:class:`RecordedAMI`) answers each action with what Asterisk 23.4.1 wrote
for it in ``tests/captures/10_tcp_5038`` (the recorded ActionID swapped for the client's),
in small segments as Asterisk does; it can drop its connections or stop listening for a
while, which is how reconnection is tested.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import socket
import threading
import time

import pytest

from amikit import AMIClient, AsyncAMIClient, Simulator
from amikit.errors import ActionFailed, AuthenticationError, ConnectionLost, NoBanner
from amikit.message import Message
from amikit.protocol import StreamReader, parse_rawman, parse_recording
from amikit.session import (
    CONNECTION_HEADER,
    DROPPED_HEADER,
    HTTPRequest,
    HTTPResponse,
    ReplyTimeout,
    SessionCore,
)
from amikit.tcpconn import AsyncTCPConnection, TCPConnection
from amikit.tcplink import PROBE_ID
from tests.tcp_replay import BANNER, turns
from tests.test_sim_client import call_and_redirect_both, collect, hang_up_the_rest

SECRET = "world"


def answer_of(capture: str, action_id: str) -> bytes:
    """What the server wrote after the client's write holding ``action_id``, as recorded."""
    for turn in turns(capture):
        if turn.sent and f"ActionID: {action_id}\r\n".encode() in turn.sent:
            return turn.expected
    raise LookupError(f"{capture} has no action {action_id}")


#: action (lower case) → (capture, recorded ActionID) of the answer to send
ANSWERS = {
    "login": ("04_events_originate_list_logoff", "l1"),  # FullyBooted and SuccessfulAuth follow
    "ping": ("01_login_ping_command_logoff", "t2"),
    "command": ("01_login_ping_command_logoff", "t3"),
    "originate": ("04_events_originate_list_logoff", "o1"),  # the call's events follow
    "coreshowchannels": ("04_events_originate_list_logoff", "c1"),
    "challenge": ("05_challenge_md5_login", "ch1"),
    "logoff": ("01_login_ping_command_logoff", "t5"),
}
WRONG = ("02_wrong_password", "w1")
DENIED = ("06_pipelined_actions", "before-login")
CHALLENGE = "391936861"  # what 05_challenge_md5_login's server sent


def recorded_key() -> str:
    """The Key the recorded client sent in 05_challenge_md5_login."""
    (login,) = [m for t in turns("05_challenge_md5_login") if t.sent
                for m in parse_rawman(t.sent) if m.name == "Login"]
    return login["Key"]


class RecordedAMI:
    """A TCP AMI server on 127.0.0.1 that answers from the captures."""

    def __init__(self, *, segment: int = 7) -> None:
        self.segment = segment
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"tcp://127.0.0.1:{self.port}"
        self.actions: list[list[Message]] = []  # per connection, what the client sent
        self.wire = bytearray()  # every byte the client wrote
        self._open: list[socket.socket] = []
        self.hung_up = 0  # connections the client closed
        self._lock = threading.Lock()
        self._serving = True
        #: read the actions but answer none (a server that hangs, or a vanished peer)
        self.mute = False
        self._start(self._listener)

    def _start(self, listener: socket.socket) -> None:
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with self._lock:
                self._open.append(conn)
                self.actions.append([])
                mine = self.actions[-1]
            threading.Thread(target=self._serve, args=(conn, mine), daemon=True).start()

    def _serve(self, conn: socket.socket, mine: list[Message]) -> None:
        with contextlib.suppress(OSError):
            conn.sendall(BANNER)
            reader = StreamReader()
            authenticated = False
            while data := conn.recv(65536):
                self.wire += data
                for action in reader.feed(data):
                    mine.append(action)
                    if self.mute:
                        continue
                    reply, authenticated, close = self._answer(action, authenticated)
                    for at in range(0, len(reply), self.segment):  # as Asterisk: in pieces
                        conn.sendall(reply[at:at + self.segment])
                    if close:
                        conn.close()
                        return
            self.hung_up += 1

    def _answer(self, action: Message, authenticated: bool) -> tuple[bytes, bool, bool]:
        name = (action.name or "").lower()
        if name == "login":
            key = hashlib.md5((CHALLENGE + SECRET).encode()).hexdigest()
            ok = action.get("Secret") == SECRET or action.get("Key") == key
            source = ANSWERS["login"] if ok else WRONG
            return self._recorded(source, action), ok, not ok
        if not authenticated and name not in ("challenge", "logoff"):
            return self._recorded(DENIED, action), False, False
        return self._recorded(ANSWERS[name], action), authenticated, name == "logoff"

    def _recorded(self, source: tuple[str, str], action: Message) -> bytes:
        capture, recorded_id = source
        data = answer_of(capture, recorded_id)
        return re.sub(rb"ActionID: " + re.escape(recorded_id.encode()) + rb"\r\n",
                      f"ActionID: {action['ActionID']}\r\n".encode(), data)

    def drop(self) -> None:
        """End every open connection, as a server restart does."""
        with self._lock:
            for conn in self._open:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self._open.clear()

    def down_for(self, seconds: float) -> None:
        """Drop the connections and refuse new ones for ``seconds``, then listen again."""
        self._stop_listening()
        self.drop()

        def back() -> None:
            time.sleep(seconds)
            if self._serving:
                self._listener = socket.create_server(("127.0.0.1", self.port))
                self._start(self._listener)

        threading.Thread(target=back, daemon=True).start()

    def _stop_listening(self) -> None:
        # shutdown first: a bare close() leaves the accept() blocked in its thread, and
        # the kernel goes on accepting
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()

    def close(self) -> None:
        self._serving = False
        self._stop_listening()
        self.drop()


@pytest.fixture
def fake():
    server = RecordedAMI()
    yield server
    server.close()


def until(condition, seconds: float = 5.0) -> None:
    """Wait for ``condition()`` to hold, polling, for at most ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the awaited condition did not come about in time"
        time.sleep(0.01)


async def until_async(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the awaited condition did not come about in time"
        await asyncio.sleep(0.01)


def without_ids(messages) -> list:
    return [[(n, v) for n, v in m.headers if n != "ActionID"] for m in messages]


def gather(client: AMIClient, count: int, seconds: float = 5.0) -> list[Message]:
    """The first ``count`` events the client hands out (fewer if ``seconds`` pass)."""
    events: list[Message] = []
    deadline = time.monotonic() + seconds
    while len(events) < count and time.monotonic() < deadline:
        events += client.wait_event(1)
    return events


# -- against the recorded bytes ------------------------------------------------------------
def test_login_ping_command_list_originate_and_logoff(fake):
    with AMIClient(fake.url, "hello", SECRET) as ami:
        assert ami.banner == BANNER.decode().strip()
        pong = ami.ping()
        assert without_ids([pong]) == without_ids(parse_recording(
            answer_of("01_login_ping_command_logoff", "t2")))
        assert ami.command("core show version")[0].startswith("Asterisk 23.4.1")
        assert ami.core_show_channels() == []
        ami.originate(Channel="Local/900@sets", Application="Wait", Data="1", Async=True,
                      ChannelId="tcp-orig-1")
        recorded = [m for m in parse_recording(answer_of("04_events_originate_list_logoff", "l1"))
                    + parse_recording(answer_of("04_events_originate_list_logoff", "o1"))
                    if m.is_event]
        events = gather(ami, len(recorded))
        assert [e.name for e in events] == [e.name for e in recorded]
        assert events[0].name == "FullyBooted"
        assert all(e.received_at is not None for e in events)
        originate_response = next(e for e in events if e.name == "OriginateResponse")
        assert originate_response["ActionID"] == fake.actions[0][-1]["ActionID"]
    sent = fake.actions[0]
    assert [a.name for a in sent] == ["Login", "Ping", "Command", "CoreShowChannels",
                                      "Originate", "Logoff"]
    assert len({a["ActionID"] for a in sent}) == len(sent)  # its own ActionIDs
    assert sent[0]["Username"] == "hello" and "Events" not in sent[0]  # events on


def test_close_logs_off_and_events_mask_is_sent(fake):
    ami = AMIClient(fake.url, "hello", SECRET, events="call,system")
    ami.ping()
    ami.close()
    sent = fake.actions[0]
    assert sent[0]["Events"] == "call,system"
    assert sent[-1].name == "Logoff" and not ami.logged_in
    off = AMIClient(fake.url, "hello", SECRET, events=False)
    off.login()
    off.close()
    assert fake.actions[1][0]["Events"] == "off"


def test_md5_login_sends_the_recorded_key_and_never_the_secret(fake):
    with AMIClient(fake.url, "hello", SECRET, auth="md5") as ami:
        assert ami.ping()["Ping"] == "Pong"
    challenge, login = fake.actions[0][:2]
    assert challenge.name == "Challenge" and challenge["AuthType"] == "MD5"
    assert login["AuthType"] == "MD5" and login["Key"] == recorded_key()
    assert "Secret" not in login
    assert SECRET.encode() not in bytes(fake.wire)


def test_a_client_dropped_without_close_hangs_up(fake):
    import gc

    ami = AMIClient(fake.url, "hello", SECRET)
    ami.ping()
    del ami
    gc.collect()
    until(lambda: fake.hung_up == 1)


def test_a_wrong_password_is_an_authentication_error(fake):
    with pytest.raises(AuthenticationError, match="Authentication failed") as caught:
        AMIClient(fake.url, "hello", "WRONG").login()
    assert "WRONG" not in str(caught.value)


def test_pipelined_actions_from_threads_each_get_their_own_reply(fake):
    with AMIClient(fake.url, "hello", SECRET) as ami:
        results: list[str] = []

        def ping() -> None:
            results.append(ami.ping()["ActionID"])

        threads = [threading.Thread(target=ping) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        sent = {a["ActionID"] for a in fake.actions[0] if a.name == "Ping"}
        assert sorted(results) == sorted(sent) and len(sent) == 8


def test_a_lost_connection_is_opened_again_with_a_gap(fake):
    with AMIClient(fake.url, "hello", SECRET) as ami:
        ami.ping()
        fake.drop()
        until(lambda: not ami.logged_in)  # the session ended with its connection
        assert ami.ping()["Ping"] == "Pong"
        assert ami.logged_in and len(ami.gaps) == 1 and "connection lost" in ami.gaps[0].reason
        # on the new connection: the Ping refused (not logged in there), Login, the Ping again
        assert [a.name for a in fake.actions[1][:3]] == ["Ping", "Login", "Ping"]


def test_events_ride_out_a_restart_then_give_up(fake):
    with AMIClient(fake.url, "hello", SECRET) as ami:
        assert [e.name for e in gather(ami, 2)] == ["FullyBooted", "SuccessfulAuth"]
        fake.down_for(1.5)
        started = time.monotonic()
        first = next(ami.events(timeout=1, give_up_after=10))
        assert time.monotonic() - started >= 1.0
        assert first.name == "FullyBooted"  # from the Login on the new connection
        reasons = " | ".join(g.reason for g in ami.gaps)
        assert "unreachable" in reasons and "connection lost" in reasons
        fake.close()
        with pytest.raises(ConnectionLost, match="gave up"):
            for _ in ami.events(timeout=1, give_up_after=1.5):
                pass


def test_events_received_before_the_end_are_not_lost(fake):
    with AMIClient(fake.url, "hello", SECRET) as ami:
        ami.originate(Channel="Local/900@sets", Application="Wait", Data="1", Async=True)
        until(lambda: any(e.name == "OriginateResponse" for e in ami._tcp._link.events))
        fake.drop()
        until(lambda: not ami._tcp.connected)
        names = [e.name for e in ami.wait_event(1)]
        assert names[0] == "FullyBooted" and "OriginateResponse" in names


def test_a_full_buffer_drops_the_oldest_and_says_so(fake):
    with AMIClient(fake.url, "hello", SECRET, max_events=3) as ami:
        ami.originate(Channel="Local/900@sets", Application="Wait", Data="1", Async=True)
        until(lambda: ami.dropped_events > 0)
        events = ami.wait_event(1)
        assert len(events) == 3 and ami.dropped_events > 0
        assert any("dropped" in g.reason for g in ami.gaps)


def test_a_port_that_is_not_ami():
    with socket.create_server(("127.0.0.1", 0)) as quiet:
        url = f"tcp://127.0.0.1:{quiet.getsockname()[1]}"
        with pytest.raises(NoBanner, match=r"no AMI banner .* within 1 s"):
            AMIClient(url, "hello", SECRET, timeout=1).ping()
    with Talker(b"HTTP/1.1 400 Bad Request\r\n\r\n") as http, \
            pytest.raises(NoBanner, match="not an AMI banner") as caught:
        AMIClient(http.url, "hello", SECRET, timeout=2).ping()
    assert caught.value.first_line == "HTTP/1.1 400 Bad Request"
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    with pytest.raises(ConnectionLost, match="cannot reach") as caught:
        AMIClient(f"tcp://127.0.0.1:{port}", "hello", SECRET).ping()
    assert not isinstance(caught.value, NoBanner)
    assert isinstance(caught.value.__cause__, OSError)  # the socket's own error is kept


class Talker:
    """A server that says ``greeting`` to each connection, then reads nothing."""

    def __init__(self, greeting: bytes) -> None:
        self.greeting = greeting
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"tcp://127.0.0.1:{self._listener.getsockname()[1]}"
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self._listener.accept()
                self.conns.append(conn)
                conn.sendall(self.greeting)

    def __enter__(self) -> Talker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for conn in self.conns:
            conn.close()


def test_a_new_connection_reports_the_drops_the_old_one_had_not():
    conn = TCPConnection("127.0.0.1", 5038, shown="tcp://127.0.0.1:5038", max_events=1)
    old = conn._new_link()
    old.receive(BANNER + b"".join(b"Event: E%d\r\n\r\n" % i for i in range(3)))
    old.close("the server closed the connection")
    new = conn._new_link()
    assert new.take_dropped() == 2 and conn.dropped_events == 2


def test_a_reply_that_does_not_come_closes_the_connection_and_the_next_opens_one(fake):
    with AMIClient(fake.url, "hello", SECRET, timeout=1) as ami:
        ami.ping()
        sock = ami._tcp._sock
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
        fake.mute = True
        with pytest.raises(ReplyTimeout, match="no complete reply to Ping"):
            ami.ping()
        assert not ami._tcp.connected and sock.fileno() == -1
        fake.mute = False
        assert ami.ping()["Ping"] == "Pong"
        assert len(fake.actions) == 2


def test_events_notice_a_server_that_went_silent(fake):
    with AMIClient(fake.url, "hello", SECRET, timeout=1) as ami:
        ami._tcp.probe_after = 0  # check at every empty WaitEvent
        assert [e.name for e in gather(ami, 2)] == ["FullyBooted", "SuccessfulAuth"]
        assert ami.wait_event(0) == []  # the server answers the check: a quiet, live link
        probes = [a for a in fake.actions[0] if a["ActionID"].startswith(PROBE_ID)]
        assert [a.name for a in probes] == ["Ping"] and ami.gaps == []
        fake.mute = True  # as a peer that vanished without a FIN
        started = time.monotonic()
        with pytest.raises(ConnectionLost, match="gave up"):
            for _ in ami.events(timeout=1, give_up_after=2):
                pass
        assert time.monotonic() - started < 15


@pytest.mark.parametrize("asynchronous", [False, True])
def test_a_write_the_server_does_not_read_has_a_deadline(asynchronous):
    huge = HTTPRequest("AMI", "tcp://x", {}, None, 1.0,
                       pairs=(("Action", "UserEvent"), ("ActionID", "u"),
                              ("UserEvent", "big"), ("Data", "x" * (48 << 20))))
    with Talker(BANNER) as mute:
        port = int(mute.url.rsplit(":", 1)[1])
        started = time.monotonic()
        if asynchronous:
            conn = AsyncTCPConnection("127.0.0.1", port, shown=mute.url)

            async def main() -> None:
                with pytest.raises(ReplyTimeout, match="could not write UserEvent"):
                    await conn.exchange(huge)
                await conn.close()

            asyncio.run(main())
        else:
            sync = TCPConnection("127.0.0.1", port, shown=mute.url)
            with pytest.raises(ReplyTimeout, match="could not write UserEvent"):
                sync.exchange(huge)
            conn = sync
        assert time.monotonic() - started < 5 and not conn.connected


def test_a_reader_that_fails_unexpectedly_closes_the_link(fake, caplog):
    ami = AMIClient(fake.url, "hello", SECRET, timeout=2)
    ami.login()
    link = ami._tcp._link

    def broken(data, now=None):
        raise RuntimeError("a bug")

    link.receive = broken
    with pytest.raises(ConnectionLost, match="RuntimeError: a bug"):
        ami.ping()
    assert not ami._tcp.connected and "reading from" in caplog.text
    ami.close()


def test_secrets_stay_out_of_reprs_logs_and_errors(fake, caplog):
    caplog.set_level(logging.DEBUG)
    key = recorded_key()
    ami = AMIClient(fake.url, "hello", SECRET, auth="md5")
    core = SessionCore(fake.url, "hello", SECRET, auth="md5")
    flow = core.login_flow()
    challenge_request = next(flow)
    # the Login that follows the recorded Challenge reply carries the Key, and a plain
    # Login the Secret: neither may show in a repr
    challenge_reply = parse_recording(answer_of(*ANSWERS["challenge"]))
    md5_login = flow.send(HTTPResponse(200, {CONNECTION_HEADER: "1", DROPPED_HEADER: "0"}, b"",
                                       messages=tuple(challenge_reply)))
    assert ("Key", key) in md5_login.pairs
    plain_login = next(SessionCore(fake.url, "hello", SECRET).login_flow())
    assert ("Secret", SECRET) in plain_login.pairs
    errors = []
    try:
        ami.login()
        ami.ping()
        fake.drop()
        until(lambda: not ami._tcp.connected)
        ami.ping()
        with contextlib.suppress(AuthenticationError):
            AMIClient(fake.url, "hello", "WRONG").login()
        try:
            AMIClient(fake.url, "hello", "WRONG", auth="md5").login()
        except AuthenticationError as exc:
            errors.append(str(exc))
    finally:
        ami.close()
    shown = " ".join([caplog.text, repr(ami), repr(core), repr(challenge_request),
                      repr(md5_login), repr(plain_login), *errors, repr(ami.gaps)])
    for secret in (SECRET, key, "WRONG"):
        assert secret not in shown


def test_the_async_client(fake):
    async def main() -> tuple[list[str], str | None, list[str]]:
        async with AsyncAMIClient(fake.url, "hello", SECRET, auth="md5") as ami:
            pings = await asyncio.gather(*(ami.ping() for _ in range(4)))
            await ami.originate(Channel="Local/900@sets", Application="Wait", Data="1",
                                Async=True)
            events = await ami.wait_event(1)
            return [p["Ping"] for p in pings], ami.banner, [e.name for e in events]

    pings, banner, names = asyncio.run(main())
    assert pings == ["Pong"] * 4 and banner == BANNER.decode().strip()
    assert names[0] == "FullyBooted" and "Newchannel" in names
    assert fake.actions[0][-1].name == "Logoff"


def test_the_async_client_logs_in_again_after_a_lost_connection(fake):
    async def main() -> AsyncAMIClient:
        ami = AsyncAMIClient(fake.url, "hello", SECRET)
        await ami.ping()
        fake.drop()
        await until_async(lambda: not ami._tcp.connected)
        await ami.ping()
        await ami.close()
        return ami

    ami = asyncio.run(main())
    assert len(ami.gaps) == 1 and "connection lost" in ami.gaps[0].reason


def test_a_dropped_async_client_hangs_up(fake):
    import gc

    async def main() -> None:
        ami = AsyncAMIClient(fake.url, "hello", SECRET)
        await ami.ping()
        reader = ami._tcp._reader
        del ami
        gc.collect()
        await until_async(lambda: fake.hung_up == 1)
        assert reader.done()

    asyncio.run(main())


def test_async_close_waits_for_a_connection_being_opened(fake, monkeypatch):
    opened = asyncio.open_connection

    async def slow_open(*args, **kwargs):
        await asyncio.sleep(0.2)
        return await opened(*args, **kwargs)

    monkeypatch.setattr(asyncio, "open_connection", slow_open)

    async def main() -> AsyncAMIClient:
        ami = AsyncAMIClient(fake.url, "hello", SECRET)
        login = asyncio.create_task(ami.login())
        await until_async(lambda: ami._tcp._open_lock is not None
                          and ami._tcp._open_lock.locked())
        await ami._tcp.close()  # while the connection is being opened
        with contextlib.suppress(ConnectionLost):
            await login
        return ami

    ami = asyncio.run(main())
    assert not ami._tcp.connected


def test_tcp_urls_and_options_are_checked():
    for url in ("tcp://127.0.0.1", "tcp://127.0.0.1:5038/rawman"):
        with pytest.raises(ValueError, match="tcp://"):
            AMIClient(url, "hello", SECRET)
    with pytest.raises(ValueError, match="'plain' or 'md5'"):
        AMIClient("tcp://127.0.0.1:5038", "hello", SECRET, auth="digest")
    with pytest.raises(ValueError, match="rawman"):
        AMIClient("tcp://127.0.0.1:5038", "hello", SECRET, encoding="mxml")
    ami = AMIClient("tcp://127.0.0.1:5038", "hello", SECRET)
    assert (ami.auth, ami.transport_kind, ami.banner, ami.endpoint) == (
        "plain", "tcp", None, "tcp://127.0.0.1:5038")
    assert ami.clone(asynchronous=True, auth="md5").auth == "md5"


# -- against the simulator's TCP front --------------------------------------------------------
@pytest.fixture(scope="module")
def sim():
    with Simulator(port=0, tcp_port=0, speed=10, seed=3) as running:
        yield running


@pytest.mark.parametrize("auth", ["plain", "md5"])
def test_the_books_flow_over_tcp(sim, auth):
    """Login, Ping, Originate, watch Newchannel, Redirect, Hangup, Logoff: over tcp://."""
    with AMIClient(sim.tcp_url, "hello", SECRET, auth=auth) as ami, \
            AMIClient(sim.tcp_url, "hello", SECRET, auth=auth) as watch:
        assert ami.banner == "Asterisk Call Manager/12.0.0"
        assert ami.ping()["Ping"] == "Pong"
        names = call_and_redirect_both(ami, watch)
        collect(watch, lambda e, s: any(x.name == "BridgeDestroy" for x in s))
        hang_up_the_rest(ami, watch, names)
        assert ami.gaps == [] and watch.gaps == []
    assert not ami.logged_in


def test_lists_commands_and_errors_match_http(sim):
    """A consistency property of the simulator, not a fidelity claim: its TCP front and its
    HTTP front answer alike (both stand on the same manager). Whether they answer as
    Asterisk does is for the captures (above) and tests/conformance/."""
    with AMIClient(sim.tcp_url, "hello", SECRET) as tcp, AMIClient(sim.url, "hello", SECRET) as http:
        assert tcp.list_commands().keys() == http.list_commands().keys()
        assert tcp.command("core show version") == http.command("core show version")
        assert tcp.getvar("SITE") == http.getvar("SITE") == "lab"
        with pytest.raises(ActionFailed, match="No such channel"):
            tcp.hangup("PJSIP/nope-00000000")


def test_events_iterator_and_async_client_over_tcp(sim):
    async def main() -> list[str]:
        async with AsyncAMIClient(sim.tcp_url, "hello", SECRET) as ami:
            await ami.wait_event(0)
            reply = await ami.originate(Channel="Local/900@sets", Application="Wait", Data="1",
                                        Async=True)

            async def first_response() -> list[str]:
                seen = []
                async for event in ami.events(timeout=1):
                    seen.append(event.name)
                    if event.name == "OriginateResponse":
                        assert event["ActionID"] == reply["ActionID"]
                        return seen
                return seen

            return await asyncio.wait_for(first_response(), 10)

    assert "Newchannel" in asyncio.run(main())


def test_wrong_password_over_tcp(sim):
    with pytest.raises(AuthenticationError):
        AMIClient(sim.tcp_url, "hello", "nope").login()
    with pytest.raises(AuthenticationError):
        AMIClient(sim.tcp_url, "hello", "nope", auth="md5").login()


@pytest.mark.parametrize("url", ["127.0.0.1:5038", "tcp://127.0.0.1", "tcp://127.0.0.1:5038/rawman",
                                 "ftp://127.0.0.1:5038"])
def test_a_url_amikit_cannot_use_is_an_amikit_error(url):
    from amikit.errors import InvalidSetting

    with pytest.raises(InvalidSetting, match=r"URL|url"):
        AMIClient(url, "hello", "world")


def test_an_http_url_to_amis_tcp_port_says_to_use_tcp():
    from amikit import Simulator
    from amikit.errors import ProtocolError

    with Simulator(port=0, tcp_port=0) as sim, \
            pytest.raises(ProtocolError, match=r"AMI.s TCP port.*tcp://"):
        AMIClient(sim.tcp_url.replace("tcp://", "http://"), "hello", "world").ping()
