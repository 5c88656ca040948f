"""The amikit client against the simulator: both encodings, cookie and digest, the book's flows."""

from __future__ import annotations

import asyncio
import time

import pytest

from amikit import AMIClient, AsyncAMIClient, Simulator
from amikit.errors import ActionFailed, AMIError, AuthenticationError, PermissionDenied


@pytest.fixture(scope="module")
def sim():
    with Simulator(port=0, speed=10, seed=1) as running:
        yield running


MODES = [("rawman", "cookie"), ("mxml", "cookie"), ("rawman", "digest"), ("mxml", "digest")]


def collect(client: AMIClient, until, seconds: float = 10.0) -> list:
    """The events read until ``until(event, seen)`` holds; the test fails after ``seconds``.

    One short WaitEvent per turn, the deadline checked on every turn: a quiet server ends
    the loop as surely as a busy one (an event iterator would wait for ever for the next).
    """
    seen: list = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for event in client.wait_event(timeout=1):
            seen.append(event)
            if until(event, seen):
                return seen
    pytest.fail(f"the awaited event did not come within {seconds} s; seen: {[e.name for e in seen]}")


def call_and_redirect_both(ami: AMIClient, watch: AMIClient) -> list[str]:
    """The book's call: Originate from SOFTPHONE_A, its two channels' names read off
    Newchannel once they are bridged, then both redirected at once (a dual Redirect)."""
    watch.wait_event(0)
    ami.originate(Channel="PJSIP/SOFTPHONE_A", Context="sets", Exten="102", Priority=1,
                  CallerID='"Book" <100>', Async=True)
    seen = collect(watch, lambda e, s: e.name == "BridgeEnter" and e["BridgeNumChannels"] == "2")
    names = [e["Channel"] for e in seen if e.name == "Newchannel"]
    assert names[0].startswith("PJSIP/SOFTPHONE_A-") and names[1].startswith("PJSIP/SOFTPHONE_B-")
    assert ami.redirect(Channel=names[0], Context="sets", Exten="209", Priority=1,
                        ExtraChannel=names[1], ExtraContext="sets", ExtraExten="210",
                        ExtraPriority=1)["Message"] == "Dual Redirect successful"
    return names


def hang_up_the_rest(ami: AMIClient, watch: AMIClient, names: list[str]) -> None:
    """Hang up, with cause 21, those of ``names`` still up; every one of them then ends
    (``watch`` sees its Hangup), the ones hung up here with that cause."""
    still_up = {c["Channel"] for c in ami.core_show_channels()} & set(names)
    for name in still_up:
        ami.hangup(name, cause=21)
    ended = collect(watch, lambda e, s: {x["Channel"] for x in s if x.name == "Hangup"}
                    >= set(names))
    causes = {e["Channel"]: e["Cause"] for e in ended if e.name == "Hangup"}
    assert all(causes[name] == "21" for name in still_up), causes


def test_collect_fails_when_the_event_never_comes(sim):
    with AMIClient(sim.url, "hello", "world") as quiet:
        quiet.wait_event(0)
        started = time.monotonic()
        with pytest.raises(pytest.fail.Exception, match="did not come within 2 s"):
            collect(quiet, lambda e, s: False, seconds=2)
        assert time.monotonic() - started < 5


@pytest.mark.parametrize(("encoding", "auth"), MODES)
def test_ping_and_lists_in_every_mode(sim, encoding, auth):
    with AMIClient(sim.url, "hello", "world", encoding=encoding, auth=auth) as ami:
        assert ami.ping()["Ping"] == "Pong"
        commands = ami.list_commands()
        assert commands["Originate"].privilege == ("originate", "all")
        assert ami.command("core show version")[0].startswith("Asterisk 23")
        assert ami.getvar("SITE") == "lab"
        with pytest.raises(ActionFailed, match="No such channel"):
            ami.hangup("PJSIP/nope-00000000")


@pytest.mark.parametrize(("encoding", "auth"), MODES)
def test_the_books_flow(sim, encoding, auth):
    """Originate from SOFTPHONE_A, read the channel names off Newchannel, Redirect, Hangup."""
    with AMIClient(sim.url, "hello", "world", encoding=encoding, auth=auth) as ami, \
            AMIClient(sim.url, "hello", "world", encoding=encoding, auth=auth) as watch:
        names = call_and_redirect_both(ami, watch)
        # as in 20_behaviour/dual_redirect, both show their new place and the bridge ends, in
        # an order that varies
        moved = collect(watch, lambda e, s: {x["Channel"] for x in s if x.name == "Newexten"
                                             and x["Exten"] in ("209", "210")} >= set(names)
                        and any(x.name == "BridgeDestroy" for x in s))
        assert any(e.name == "BridgeDestroy" for e in moved)
        hang_up_the_rest(ami, watch, names)


def test_single_redirect_hangs_up_the_other_side(sim):
    with AMIClient(sim.url, "hello", "world") as ami, AMIClient(sim.url, "hello", "world") as watch:
        watch.wait_event(0)
        ami.originate(Channel="PJSIP/SOFTPHONE_A", Context="sets", Exten="102", Priority=1,
                      Async=True)
        seen = collect(watch, lambda e, s: e.name == "BridgeEnter" and e["BridgeNumChannels"] == "2")
        a, b = [e["Channel"] for e in seen if e.name == "Newchannel"][:2]
        ami.redirect(Channel=b, Context="sets", Exten="700", Priority=1)
        def moved(event, seen):
            return any(x.name == "Hangup" and x["Channel"] == a for x in seen) and any(
                x.name == "Newexten" and x["Channel"] == b and x["Exten"] == "700" for x in seen)

        after = collect(watch, moved)
        assert moved(None, after), "A hangs up, B runs 700"
        assert not any(x.name == "Hangup" and x["Channel"] == b for x in after[:-1])


def test_wrong_password_and_permissions(sim):
    with pytest.raises(AuthenticationError):
        AMIClient(sim.url, "hello", "nope").login()
    with pytest.raises(AuthenticationError):
        AMIClient(sim.url, "hello", "nope", auth="digest").ping()
    with AMIClient(sim.url, "limited", "limitedpw") as limited:
        with pytest.raises(PermissionDenied):
            limited.command("core show version")
        assert limited.gaps == []


def test_expiry_and_re_login_with_a_gap():
    with Simulator(port=0, httptimeout=2) as short:
        ami = AMIClient(short.url, "hello", "world")
        ami.login()
        time.sleep(3.2)  # longer than httptimeout: the server drops the session
        assert ami.ping()["Ping"] == "Pong"
        assert len(ami.gaps) == 1 and "session lost" in ami.gaps[0].reason


def test_events_iterator_and_originate_response(sim):
    with AMIClient(sim.url, "hello", "world") as ami:
        ami.wait_event(0)
        ami.originate(Channel="Local/486@sets", Context="sets", Exten="103", Priority=1,
                      Async=True, ActionID="busy-1")
        response = collect(ami, lambda e, s: e.name == "OriginateResponse" and e.action_id == "busy-1")[-1]
        assert response["Reason"] == "5" and response["Response"] == "Failure"


def test_async_client_against_the_simulator(sim):
    async def main():
        async with AsyncAMIClient(sim.url, "hello", "world") as ami:
            await ami.wait_event(0)
            await ami.action("UserEvent", UserEvent="AsyncHello", Key="v")
            async for event in ami.events(names=["UserEvent"]):
                return event

    async def bounded():  # the event iterator polls for ever: a missing event fails here
        return await asyncio.wait_for(main(), timeout=10)

    event = asyncio.run(bounded())
    assert event["UserEvent"] == "AsyncHello" and event["Key"] == "v"


def test_many_sessions_are_independent(sim):
    clients = [AMIClient(sim.url, "hello", "world") for _ in range(5)]
    try:
        for c in clients:
            c.login()
            c.wait_event(0)
        clients[0].action("UserEvent", UserEvent="Fanout")
        for c in clients:
            got = collect(c, lambda e, s: e.name == "UserEvent")
            assert got[-1]["UserEvent"] == "Fanout"
    finally:
        for c in clients:
            c.logoff()
            c.close()


def test_simulator_refuses_remote_binding_with_the_default_password():
    with pytest.raises(AMIError, match=r"127\.0\.0\.1"):
        Simulator(host="0.0.0.0", port=0)
    with pytest.raises(AMIError, match="default"):
        Simulator(host="0.0.0.0", port=0, allow_remote=True)


def test_simulator_reports_a_port_in_use(sim):
    with pytest.raises(AMIError, match="cannot listen"):
        Simulator(port=sim.port).start()


def test_http_conf_prefix(tmp_path):
    (tmp_path / "http.conf").write_text("[general]\nenabled=yes\nbindaddr=127.0.0.1\nprefix=asterisk\n")
    with Simulator(port=0, config=tmp_path) as sim:
        assert sim.url.endswith("/asterisk")
        with AMIClient(sim.url, "hello", "world") as ami:
            assert ami.ping()["Ping"] == "Pong"
        with pytest.raises(AMIError, match="404"):
            AMIClient(sim.url.rsplit("/", 1)[0], "hello", "world").login()


def test_http_ami_off_is_404(tmp_path):
    (tmp_path / "manager.conf").write_text(
        "[general]\nenabled=yes\nwebenabled=no\n[hello]\nsecret=world\nread=all\nwrite=all\n")
    with Simulator(port=0, config=tmp_path) as sim, pytest.raises(AMIError, match="webenabled"):
        AMIClient(sim.url, "hello", "world").login()


def test_the_simulators_own_client_takes_the_secret_from_manager_conf(sim):
    from amikit.lab import FoundPBX

    with FoundPBX.of(sim).client() as ami:
        assert ami.ping()["Ping"] == "Pong"
    with FoundPBX.of(sim, "reporter").client(encoding="mxml") as reporter, \
            pytest.raises(PermissionDenied):
        reporter.originate(Channel="Local/900@sets", Application="Wait", Data="1")
    with pytest.raises(AMIError, match="no user 'nobody'"):
        FoundPBX.of(sim, "nobody")
