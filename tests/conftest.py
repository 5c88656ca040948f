"""Shared test helpers: the real-Asterisk captures, and replaying them through httpx."""

from __future__ import annotations

import functools
import gzip
import os
import pathlib
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import pytest
from hypothesis import HealthCheck, settings

from amikit import AMIClient, Message

#: Byte-for-byte copies of a real Asterisk 23.4.1's captures (see tests/captures/README.md).
CAPTURES = pathlib.Path(__file__).resolve().parent / "captures"


def capture_path(relative: str | pathlib.Path) -> pathlib.Path:
    """The stored file of the capture ``relative``: ``X`` itself, or ``X.gz`` when compressed.

    ``relative`` is a path inside :data:`CAPTURES` (or an absolute path under it). A capture
    that is missing raises ``FileNotFoundError``: the repository carries its test data, so
    its absence is a failure, never a reason to skip.
    """
    path = CAPTURES / relative
    if path.is_file():
        return path
    packed = path.with_name(path.name + ".gz")
    if packed.is_file():
        return packed
    raise FileNotFoundError(f"the capture {relative} is missing from {CAPTURES} (neither it nor its .gz)")


def capture_bytes(relative: str | pathlib.Path) -> bytes:
    """The original bytes of the capture ``relative``, read from ``X`` or decompressed from ``X.gz``."""
    path = capture_path(relative)
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def capture_manifest() -> dict[str, str]:
    """Every capture the repository carries: its path (as first recorded) → SHA-256 of its bytes.

    ``tests/captures/SHA256SUMS`` was written from the original captures, so it also says
    what must be there: a listed file that is missing fails the tests that read it.
    """
    lines = (CAPTURES / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    return {name: digest for digest, name in (line.split("  ", 1) for line in lines if line)}


@pytest.fixture
def captures() -> pathlib.Path:
    """The folder of the captures; read compressed ones with :func:`capture_bytes`."""
    return CAPTURES


def recorded(name: str) -> httpx.Response:
    """The recorded HTTP response ``name`` (a capture path without ``.body.bin``)."""
    head = capture_bytes(name + ".response_head.txt").decode()
    status_line, *lines = [line for line in head.split("\r\n") if line]
    headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines]
    body = capture_bytes(name + ".body.bin")
    return httpx.Response(int(status_line.split()[1]), headers=headers, content=body)


@functools.cache
def package_index_problem() -> str | None:
    """Why pip cannot reach its package index now, or None when it can.

    Asks pip itself, with its own configuration (``PIP_INDEX_URL``, ``pip.conf``), for one
    package the installing tests need, so the answer is about the index they would use.
    """
    try:
        run = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "setuptools",
                              "--retries", "0", "--timeout", "10"],
                             capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return "pip did not answer within 60 s"
    if run.returncode == 0:
        return None
    lines = [line for line in (run.stderr + run.stdout).splitlines() if line.strip()]
    return lines[-1] if lines else f"pip exited {run.returncode}"


@pytest.fixture(autouse=True)
def _needs_index(request: pytest.FixtureRequest) -> None:
    """Skip a ``needs_index`` test when the package index is out of reach (fail under CI)."""
    if request.node.get_closest_marker("needs_index") is None:
        return
    problem = package_index_problem()
    if problem is None:
        return
    index = os.environ.get("PIP_INDEX_URL") or "pip's configured package index (by default PyPI)"
    message = f"the package index {index} cannot be reached: {problem}"
    if os.environ.get("CI"):  # CI must run these tests: there an unreachable index is a failure
        pytest.fail(message)
    pytest.skip(message)


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


#: Hypothesis profiles: ``ci`` (the default for this suite: bounded) and ``long`` for a fuzz
#: run on demand (``pytest tests/test_fuzz.py --hypothesis-profile=long``). Registered here,
#: before any test module loads, so the command-line option can name them.
FUZZ_PROFILES = {
    "ci": {"max_examples": 200, "deadline": None,
           "suppress_health_check": [HealthCheck.too_slow]},
    "long": {"max_examples": 20_000, "deadline": None,
             "suppress_health_check": [HealthCheck.too_slow]},
}
for _name, _values in FUZZ_PROFILES.items():
    settings.register_profile(_name, **_values)


def events_until(ami: AMIClient, done: Callable[[list[Message]], bool], seconds: float = 20.0,
                 seen: list[Message] | None = None) -> list[Message]:
    """Every event read, ``seen`` (earlier ones) first, until ``done`` holds for them all."""
    seen = [] if seen is None else seen
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen += ami.wait_event(1)
        if done(seen):
            return seen
    raise AssertionError(f"not done after {seconds} s: {[e.name for e in seen][-15:]}")


def wait_until(condition: Callable[[], bool], seconds: float = 30.0) -> bool:
    """Whether ``condition()`` came true within ``seconds`` (looked at every 20 ms): for what
    another thread does, without a fixed sleep."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
