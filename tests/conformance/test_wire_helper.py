"""The suite's own helper: Wire's waits never drop an event they read (no server needed)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from amikit import Message
from tests.conformance.conftest import Wire


def _event(name: str, **headers: str) -> bytes:
    lines = [f"Event: {name}", "Privilege: call,all", "Timestamp: 1795998138.575131"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _body(*events: bytes) -> bytes:
    return (b"Response: Success\r\nMessage: Waiting for Event completed.\r\n\r\n" + b"".join(events)
            + b"Event: WaitEventComplete\r\n\r\n")


@pytest.fixture
def bodies() -> list[bytes]:
    return []


@pytest.fixture
def fake(bodies: list[bytes]) -> Iterator[Wire]:
    """A Wire whose WaitEvents answer the queued bodies in turn, then bodies with no event."""

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.params["action"] == "WaitEvent"
        return httpx.Response(200, content=bodies.pop(0) if bodies else _body(),
                              headers={"Content-type": "text/plain"})

    wire = Wire("http://sim")
    wire.http.close()
    wire.http = httpx.Client(transport=httpx.MockTransport(answer))
    yield wire
    wire.close()


def _named(name: str, channel: str | None = None) -> Callable[[Message], bool]:
    return lambda m: m.name == name and (channel is None or m.get("Channel") == channel)


def test_events_after_a_match_wait_for_the_next_wait(fake: Wire, bodies: list[bytes]):
    bodies.append(_body(_event("OriginateResponse"), _event("BridgeEnter", Channel="a"),
                        _event("BridgeEnter", Channel="b")))
    assert [m.name for m in fake.wait_for(_named("OriginateResponse"))] == ["OriginateResponse"]
    assert [m["Channel"] for m in fake.pending] == ["a", "b"]
    # The second BridgeEnter of the same body is found without another WaitEvent.
    later = fake.wait_for(_named("BridgeEnter", "b"), seconds=0)
    assert [m["Channel"] for m in later] == ["a", "b"]
    assert fake.pending == ()


def test_wait_for_all_takes_the_events_in_any_order(fake: Wire, bodies: list[bytes]):
    bodies += [_body(_event("Hangup", Channel="x;2")),
               _body(_event("Newexten"), _event("Hangup", Channel="x;1"), _event("Cdr"))]
    seen = fake.wait_for_all(_named("Hangup", "x;1"), _named("Hangup", "x;2"))
    assert [m.name for m in seen] == ["Hangup", "Newexten", "Hangup"]
    assert [m.name for m in fake.pending] == ["Cdr"]


def test_a_failed_wait_keeps_what_it_read(fake: Wire, bodies: list[bytes]):
    bodies.append(_body(_event("Newchannel"), _event("Newstate")))
    with pytest.raises(AssertionError, match="no matching event"):
        fake.wait_for(_named("Hangup"), seconds=0.2)
    assert [m.name for m in fake.pending] == ["Newchannel", "Newstate"]

    def broken(m: Message) -> bool:
        raise KeyError("a predicate that fails")

    with pytest.raises(KeyError):
        fake.wait_for(broken, seconds=0)
    assert [m.name for m in fake.pending] == ["Newchannel", "Newstate"]
    assert [m.name for m in fake.wait_for(_named("Newstate"), seconds=0)] == ["Newchannel", "Newstate"]


def test_a_wait_event_that_fails_is_an_error_not_silence(fake: Wire, bodies: list[bytes]):
    bodies.append(b"Response: Error\r\nMessage: Permission denied\r\n\r\n")
    with pytest.raises(AssertionError, match="WaitEvent did not complete"):
        fake.wait_for(_named("Hangup"))
