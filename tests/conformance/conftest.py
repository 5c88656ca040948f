"""Black-box HTTP AMI tests: against AMIKIT_TEST_URL (a real Asterisk configured like
tests/captures/conf) or, by default, a freshly started ``amikit sim``.

They assert what the captures of a real Asterisk 23.4.1 show, never what the simulator
happens to do, and tolerate other clients' events interleaving on a shared server.
"""

from __future__ import annotations

import os
import re
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from amikit import Message, parse_mxml, parse_rawman
from amikit.sim import Simulator

REAL = os.environ.get("AMIKIT_TEST_URL")


@pytest.fixture(scope="session")
def base_url() -> Iterator[str]:
    if REAL:
        yield REAL.rstrip("/")
        return
    with Simulator(port=0, speed=8, seed=7) as sim:
        yield sim.url


@dataclass
class Raw:
    """One HTTP exchange, kept byte-exact enough to compare with the captures."""

    status: int
    headers: list[tuple[str, str]]  # in order, as received
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for n, v in self.headers if n.lower() == name.lower()), None)

    @property
    def cookie(self) -> str | None:
        value = self.header("Set-Cookie")
        match = re.match(r'mansession_id="([0-9a-f]{8})"', value or "")
        return match[1] if match else None

    def messages(self) -> list[Message]:
        kind = self.header("Content-type") or ""
        return parse_mxml(self.body) if kind == "text/xml" else parse_rawman(self.body)


def raw_headers(response: httpx.Response) -> list[tuple[str, str]]:
    """Response headers with the server's own spelling, in order."""
    return [(n.decode("latin-1"), v.decode("latin-1")) for n, v in response.headers.raw]


class Wire:
    """Raw HTTP to the AMI server, cookie handled by hand like the capture client did.

    Events read by :meth:`wait_for` and :meth:`wait_for_all` pass through a backlog: one
    WaitEvent body often holds more than the event a test waits for (the second
    BridgeEnter of a bridge, the other half's Hangup), so whatever a wait reads after its
    match stays queued for the next wait, which looks there first. Every event read is
    either returned by exactly one wait or still in :attr:`pending`; nothing is dropped.
    A WaitEvent sent with :meth:`get` bypasses the backlog and returns its events to the
    caller in the reply.
    """

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = httpx.Client(timeout=30, cookies=None)
        self.cookie: str | None = None
        self._backlog: deque[Message] = deque()

    def send(self, method: str, path: str, params: dict | list | None = None, *,
             headers: dict | None = None, content: bytes | None = None,
             keep_cookie: bool = True) -> Raw:
        sent = dict(headers or {})
        if self.cookie and keep_cookie and "Cookie" not in sent:
            sent["Cookie"] = f'mansession_id="{self.cookie}"'
        response = self.http.request(method, self.base + path, params=params, headers=sent,
                                     content=content)
        self.http.cookies.clear()
        raw = Raw(response.status_code, raw_headers(response), response.content)
        if raw.cookie:
            self.cookie = raw.cookie
        return raw

    def get(self, path: str, **params: str) -> Raw:
        return self.send("GET", path, params)

    def login(self, user: str = "hello", secret: str = "world", path: str = "/rawman") -> Raw:
        raw = self.get(path, action="Login", username=user, secret=secret)
        assert raw.messages()[0]["Response"] == "Success", raw.body
        return raw

    @property
    def pending(self) -> tuple[Message, ...]:
        """Events read from the server that no wait has returned yet, in order."""
        return tuple(self._backlog)

    def wait_for(self, predicate: Callable[[Message], bool], seconds: float = 15.0,
                 path: str = "/rawman") -> list[Message]:
        """The events up to and including the first that matches, in order.

        The backlog comes first, then new WaitEvent polls; events after the match stay in
        the backlog for the next wait.
        """
        return self._consume(predicate, seconds, path)

    def wait_for_all(self, *predicates: Callable[[Message], bool], seconds: float = 15.0,
                     path: str = "/rawman") -> list[Message]:
        """The events up to the one by which every predicate has matched, in any order.

        For events whose order a real Asterisk does not fix (the two halves of a Local
        channel run on two threads): waiting for them one after the other would return
        the later-wanted one inside the first list.
        """
        remaining = list(predicates)

        def complete(msg: Message) -> bool:
            remaining[:] = [p for p in remaining if not p(msg)]
            return not remaining

        return self._consume(complete, seconds, path)

    def _consume(self, done: Callable[[Message], bool], seconds: float, path: str) -> list[Message]:
        seen: list[Message] = []
        deadline = time.monotonic() + seconds
        try:
            while True:
                while self._backlog:
                    seen.append(self._backlog.popleft())
                    if done(seen[-1]):
                        return seen
                if time.monotonic() >= deadline:
                    raise AssertionError(f"no matching event within {seconds} s; saw "
                                         f"{[m.name for m in seen][-20:]}")
                self._backlog.extend(self._poll(path))
        except BaseException:
            # A failed wait (timeout, a predicate that raised) returns nothing, so what it
            # read goes back where it was: still readable, e.g. for the failure's diagnosis.
            self._backlog.extendleft(reversed(seen))
            raise

    def _poll(self, path: str) -> list[Message]:
        """One WaitEvent: its events, between the response and WaitEventComplete."""
        raw = self.get(path, action="WaitEvent", Timeout="1")
        messages = raw.messages()
        complete = bool(messages) and messages[-1].name == "WaitEventComplete"
        if not complete or messages[0].get("Response") != "Success":
            raise AssertionError(f"WaitEvent did not complete: {raw.status} {raw.body[:300]!r}")
        return messages[1:-1]

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def wire(base_url: str) -> Iterator[Wire]:
    w = Wire(base_url)
    yield w
    w.close()


@pytest.fixture
def logged_in(wire: Wire) -> Wire:
    wire.login()
    return wire
