"""Shared test helpers: the real-Asterisk captures, and replaying them through httpx."""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import pytest

CAPTURES = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "captures"


def captures_dir() -> pathlib.Path:
    if not CAPTURES.is_dir():
        pytest.skip(f"the captures of a real Asterisk are not at {CAPTURES}")
    return CAPTURES


@pytest.fixture
def captures() -> pathlib.Path:
    return captures_dir()


def recorded(name: str) -> httpx.Response:
    """The recorded HTTP response ``name`` (a capture path without ``.body.bin``)."""
    base = captures_dir() / name
    head = (base.parent / (base.name + ".response_head.txt")).read_bytes().decode()
    status_line, *lines = [line for line in head.split("\r\n") if line]
    headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines]
    body = (base.parent / (base.name + ".body.bin")).read_bytes()
    return httpx.Response(int(status_line.split()[1]), headers=headers, content=body)


def cookie_of(response: httpx.Response) -> str | None:
    value = response.headers.get("set-cookie")
    return value.split(";")[0].split("=", 1)[1].strip('"') if value else None


@dataclass
class Script:
    """A fake server: answers requests in order from a list of responses (or functions)."""

    replies: list[httpx.Response | Callable[[httpx.Request], httpx.Response]]
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.replies:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        reply = self.replies.pop(0)
        return reply(request) if callable(reply) else reply

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def params(self, i: int) -> dict[str, str]:
        """The AMI parameters of request ``i`` (query string or POST form)."""
        request = self.requests[i]
        if request.method == "POST":
            return dict(httpx.QueryParams(request.content.decode()))
        return dict(request.url.params)

    def actions(self) -> list[str]:
        return [self.params(i).get("Action", "") for i in range(len(self.requests))]
