"""Hardening of the simulator (issue 12): unguessable credentials, Asterisk's permission rules,
bounded resources, and hostile bytes answered instead of crashing a connection."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import re
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from amikit import parse_rawman
from amikit.sim import Simulator
from amikit.sim.config import load_config
from amikit.sim.events import EventBus
from amikit.sim.manager import Manager, Request


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(port=0, speed=10, seed=3) as running:
        yield running


def cookie_of(response: httpx.Response) -> str:
    match = re.match(r'mansession_id="([0-9a-f]{8})"', response.headers.get("set-cookie", ""))
    assert match, response.headers
    return match[1]


def rawman(client: httpx.Client, **params: str) -> dict[str, str]:
    """One action's first reply message as a dict."""
    reply = client.get("/rawman", params=params)
    return dict(parse_rawman(reply.content)[0].headers)


@contextlib.contextmanager
def login(url: str, user: str, secret: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=10) as client:
        assert rawman(client, action="Login", username=user, secret=secret)["Response"] == "Success"
        yield client


def exchange(port: int, data: bytes, wait: float = 5.0) -> bytes:
    """Send raw bytes, read until the server closes or ``wait`` passes."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        out = b""
        try:
            sock.sendall(data)
        except ConnectionError:
            return out
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, ConnectionError):
                break
            if not chunk:
                break
            out += chunk
        return out


# -- 1. credentials from secrets ----------------------------------------------------------------
def test_same_seed_gives_different_cookies_nonces_and_challenges():
    seen = []
    for _ in range(2):
        with Simulator(port=0, seed=42) as one, httpx.Client(base_url=one.url, timeout=10) as client:
            cookies = [cookie_of(client.get("/rawman", params={"action": "Ping"})) for _ in range(3)]
            nonce = client.get("/arawman", params={"action": "Ping"}).headers["www-authenticate"]
            challenge = rawman(client, action="Challenge", AuthType="MD5")["Challenge"]
            seen.append((cookies, nonce, challenge))
    assert seen[0][0] != seen[1][0]
    assert seen[0][1] != seen[1][1]
    assert seen[0][2] != seen[1][2]


def test_cookies_are_not_predictable_from_the_seed():
    with Simulator(port=0, seed=42) as one, httpx.Client(base_url=one.url, timeout=10) as client:
        cookies = {int(cookie_of(client.get("/rawman", params={"action": "Ping"})), 16)
                   for _ in range(20)}
    rng = random.Random(42)
    predicted = {rng.getrandbits(32) for _ in range(200)}
    assert not cookies & predicted


# -- 2. permissions as strict as Asterisk's ------------------------------------------------------
@pytest.mark.parametrize(("app", "data"), [("TrySystem", "id"), ("TryExec", "x"), ("EAGI", "x"),
                                           ("system", "id"), ("NoOp", "${SHELL(id)}"),
                                           ("NoOp", "${CURL(http://x)}"), ("Set", "X=${DB(a/b)}")])
def test_originate_blacklist_matches_substrings(sim, app, data):
    with login(sim.url, "limited", "limitedpw") as client:
        reply = rawman(client, action="Originate", Channel="Local/900@sets", Application=app, Data=data,
                       Async="true", ActionID="o1")
    assert reply == {"Response": "Error", "ActionID": "o1",
                     "Message": "Originate Access Forbidden: app or data blacklisted"}


def test_originate_data_is_checked_case_sensitively_and_only_for_applications(sim):
    with login(sim.url, "limited", "limitedpw") as client:
        # appdata_match is strstr: "shell" is not "SHELL"
        lower = rawman(client, action="Originate", Channel="Local/900@sets", Application="NoOp",
                       Data="${shell(id)}", Async="true")
        # the check runs only for Application originates; Exten form ignores Data
        exten = rawman(client, action="Originate", Channel="Local/900@sets", Context="sets",
                       Exten="900", Priority="1", Data="${SHELL(id)}", Async="true")
    assert lower["Response"] == "Success"
    assert exten["Response"] == "Success"


def _digest_no_qop(user: str, secret: str, method: str, uri: str, nonce: str) -> str:
    def md5(text: str) -> str:
        return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()

    response = md5(f"{md5(f'{user}:asterisk:{secret}')}:{nonce}:{md5(f'{method}:{uri}')}")
    return (f'Digest username="{user}", realm="asterisk", nonce="{nonce}", uri="{uri}", '
            f'response="{response}"')


def test_rfc2069_digest_response_cannot_be_replayed(sim):
    uri = "/arawman?action=Ping"
    with httpx.Client(base_url=sim.url, timeout=10) as client:
        nonce = re.search(r'nonce="([0-9a-f]+)"', client.get(uri).headers["www-authenticate"])[1]
        auth = {"Authorization": _digest_no_qop("hello", "world", "GET", uri, nonce)}
        first = client.get(uri, headers=auth)
        replay = client.get(uri, headers=auth)
    assert first.status_code == 200 and b"Pong" in first.content
    assert replay.status_code == 401
    assert "stale=true" in replay.headers["www-authenticate"]


def test_getconfig_from_limited_is_permission_denied(sim):
    with login(sim.url, "limited", "limitedpw") as client:
        reply = rawman(client, action="GetConfig", ActionID="l3", Filename="extensions.conf")
    assert reply == {"Response": "Error", "ActionID": "l3", "Message": "Permission denied"}
    with login(sim.url, "hello", "world") as client:
        reply = rawman(client, action="GetConfig", ActionID="h3", Filename="extensions.conf")
    assert reply["Message"].startswith("Invalid/unknown command: GetConfig.")


# -- 3. resource limits --------------------------------------------------------------------------
def test_body_limit_is_checked_before_reading_the_chunk(sim):
    start = time.monotonic()
    reply = exchange(sim.port, b"POST /rawman HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                               b"Content-Type: application/x-www-form-urlencoded\r\n\r\n"
                               b"C800000\r\n" + b"a" * 1000, wait=5)
    assert reply.startswith(b"HTTP/1.1 413 ")
    assert time.monotonic() - start < 4


def test_idle_connection_is_closed():
    with Simulator(port=0, session_inactivity=0.5) as short:
        start = time.monotonic()
        assert exchange(short.port, b"", wait=5) == b""
        assert time.monotonic() - start < 3
        start = time.monotonic()
        assert exchange(short.port, b"GET /rawman?action=Ping HTTP/1.1\r\n", wait=5) == b""
        assert time.monotonic() - start < 3


def test_connections_over_the_limit_are_closed():
    with Simulator(port=0, session_limit=3) as small:
        held = [socket.create_connection(("127.0.0.1", small.port)) for _ in range(3)]
        try:
            time.sleep(0.2)
            assert exchange(small.port, b"GET /rawman?action=Ping HTTP/1.1\r\n\r\n", wait=3) == b""
        finally:
            for sock in held:
                sock.close()
        time.sleep(0.2)
        assert exchange(small.port, b"GET /rawman?action=Ping HTTP/1.1\r\nConnection: close\r\n\r\n",
                        wait=3).startswith(b"HTTP/1.1 200 ")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _manager() -> tuple[Manager, FakeClock]:
    clock = FakeClock()
    return Manager(load_config(None), EventBus(), random.Random(1), clock), clock


def test_expired_nonces_are_freed():
    manager, clock = _manager()

    async def challenges() -> None:
        for _ in range(100):
            await manager.handle(Request("GET", "rawman", True, [("Action", "Ping")]))

    asyncio.run(challenges())
    assert len(manager.nonces) == 100
    clock.now += 100
    manager.reap()
    assert manager.nonces == {}


def test_cookieless_sessions_are_not_subscribed_and_are_reaped():
    manager, clock = _manager()

    async def pings() -> None:
        for _ in range(2000):
            await manager.handle(Request("GET", "rawman", False, [("Action", "Ping")]))

    asyncio.run(pings())
    assert manager.bus.queues == set()
    clock.now += 6
    manager.reap()
    assert manager.sessions == {}


def test_thousands_of_cookieless_pings_do_not_slow_the_server(sim):
    with httpx.Client(base_url=sim.url, timeout=10) as client:
        def rate(n: int) -> float:
            start = time.perf_counter()
            for _ in range(n):
                client.cookies.clear()  # cookie-less: each request makes a new session
                client.get("/rawman", params={"action": "Ping"})
            return n / (time.perf_counter() - start)

        before = rate(300)
        rate(3000)
        after = rate(300)
    assert after > before / 2


@pytest.mark.parametrize("pattern", ["(a+)+$", "(a|aa)*$", "(x+x+)+y", ".*.*.*.*z", "(a)\\1"])
def test_filter_refuses_patterns_that_backtrack_without_bound(sim, pattern):
    with login(sim.url, "hello", "world") as client:
        assert rawman(client, action="Filter", Operation="Add", Filter=pattern)["Message"] == \
            "Filter Not Added"


def test_a_bounded_filter_still_filters(sim):
    with login(sim.url, "hello", "world") as client:
        assert rawman(client, action="Filter", Operation="Add",
                      Filter="UserEvent: hardening")["Response"] == "Success"
        rawman(client, action="UserEvent", UserEvent="other")
        rawman(client, action="UserEvent", UserEvent="hardening", Text="a" * 3000 + "!")
        start = time.monotonic()
        body = client.get("/rawman", params={"action": "WaitEvent", "Timeout": "2"}).content
        assert time.monotonic() - start < 3
    names = [m.get("UserEvent") for m in parse_rawman(body) if m.get("Event") == "UserEvent"]
    assert names == ["hardening"]


@pytest.mark.parametrize("request_bytes", [
    b"POST /rawman HTTP/1.1\r\nContent-Length: \xc2\xb2\r\n\r\n",
    b"POST /rawman HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
    b"POST /rawman HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"GET /rawman?action=Ping&x=" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
    b"GET /rawman?action=Ping HTTP/1.1\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n",
])
def test_malformed_requests_are_answered_400(sim, caplog, request_bytes):
    with caplog.at_level(logging.DEBUG):
        reply = exchange(sim.port, request_bytes, wait=5)
        time.sleep(0.1)
    assert reply.startswith(b"HTTP/1.1 400 ")
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


@pytest.mark.parametrize(("params", "message"), [
    ({"action": "Originate", "Channel": "Local/900@sets", "Context": "sets", "Exten": "900",
      "Priority": "\u00b2"}, "Invalid priority"),
    ({"action": "Hangup", "Channel": "Local/nope-00000000;1", "Cause": "\u00b2"}, "No such channel"),
    ({"action": "Events", "EventMask": "\u00b2"}, None),
])
def test_unicode_digits_get_ami_replies(sim, caplog, params, message):
    with login(sim.url, "hello", "world") as client, caplog.at_level(logging.DEBUG):
        reply = rawman(client, **params)
    if message is not None:
        assert reply["Message"] == message
    else:
        assert reply["Response"] == "Success"
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_stopping_logs_no_traceback_per_connection(caplog):
    with caplog.at_level(logging.DEBUG):
        one = Simulator(port=0).start()
        held = [socket.create_connection(("127.0.0.1", one.port)) for _ in range(5)]
        time.sleep(0.2)
        one.stop()
        for sock in held:
            sock.close()
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
