"""Black-box HTTP AMI tests: against AMIKIT_TEST_URL (a real Asterisk configured like
../shared/captures/conf) or, by default, a freshly started ``amikit sim``.

They assert what the captures of a real Asterisk 23.4.1 show, never what the simulator
happens to do, and tolerate other clients' events interleaving on a shared server.
"""

from __future__ import annotations

import os
import re
import time
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
    """Raw HTTP to the AMI server, cookie handled by hand like the capture client did."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = httpx.Client(timeout=30, cookies=None)
        self.cookie: str | None = None

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

    def wait_for(self, predicate: Callable[[Message], bool], seconds: float = 15.0,
                 path: str = "/rawman") -> list[Message]:
        """Poll WaitEvent until an event matches; every event seen, in order."""
        seen: list[Message] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for msg in self.get(path, action="WaitEvent", Timeout="1").messages()[1:-1]:
                seen.append(msg)
                if predicate(msg):
                    return seen
        raise AssertionError(f"no matching event within {seconds} s; saw "
                             f"{[m.name for m in seen][-20:]}")

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
