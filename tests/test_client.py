"""The HTTP client, fed recorded Asterisk replies through httpx.MockTransport."""

from __future__ import annotations

import asyncio
import gzip
import logging

import httpx
import pytest

import amikit.client
from amikit import AMIClient, AsyncAMIClient
from amikit.errors import (
    ActionFailed,
    AMIError,
    AuthenticationError,
    ClientBusy,
    ConnectionLost,
    HTTPStatusError,
    InvalidAction,
    PermissionDenied,
    ProtocolError,
    SessionExpired,
)
from amikit.session import ReplyTimeout, ReplyTooLarge
from tests.conftest import Script, cookie_of, recorded
from tests.hostile import HostileServer, login_reply, wait_event_reply
from tests.hostile import reply as raw_reply

URL = "http://127.0.0.1:8088"


def with_cookie(response: httpx.Response, cookie: str) -> httpx.Response:
    headers = [(k, v) for k, v in response.headers.items() if k.lower() != "set-cookie"]
    headers.append(("Set-Cookie", f'mansession_id="{cookie}"; Version=1; Max-Age=60'))
    return httpx.Response(response.status_code, headers=headers, content=response.content)


def reply(body: bytes, cookie: str = "d6870ad4", status: int = 200) -> httpx.Response:
    return with_cookie(httpx.Response(status, content=body), cookie)


LOGIN = "01_login/rawman/005_login"
PING = "01_login/rawman/006_ping"


def client_for(script: Script, **kwargs) -> AMIClient:
    return AMIClient(URL, "hello", "world", transport=script.transport, **kwargs)


# -- cookie sessions ---------------------------------------------------------------------
def test_login_ping_logoff_like_the_book():
    script = Script([recorded(LOGIN), recorded(PING), recorded("01_login/rawman/013_logoff")])
    with client_for(script) as ami:
        assert ami.logged_in
        assert ami.ping()["Ping"] == "Pong"
    assert not ami.logged_in
    assert script.actions() == ["Login", "Ping", "Logoff"]
    login, ping = script.requests[0], script.requests[1]
    # the secret goes in a POST form, never in a URL that logs would keep
    assert login.method == "POST" and login.url.path == "/rawman" and login.url.query == b""
    assert script.params(0)["Username"] == "hello" and script.params(0)["Secret"] == "world"
    assert ping.method == "GET" and ping.headers["Cookie"] == 'mansession_id="d6870ad4"'
    assert script.params(1)["ActionID"], "an ActionID is generated"
    assert "mansession_id" not in script.params(1)


def test_first_action_logs_in_by_itself():
    script = Script([recorded(LOGIN), recorded(PING)])
    assert client_for(script).ping().ok
    assert script.actions() == ["Login", "Ping"]


def test_wrong_password_is_an_authentication_error_without_the_secret():
    script = Script([recorded("01_login/rawman/003_login_wrong_password")])
    ami = AMIClient(URL, "hello", "s3cr3t-pw", transport=script.transport)
    with pytest.raises(AuthenticationError) as info:
        ami.login()
    assert "Authentication failed" in str(info.value) and "s3cr3t-pw" not in str(info.value)
    assert "s3cr3t-pw" not in repr(ami)


def test_expired_session_logs_in_again_and_records_a_gap():
    expired = recorded("01_login/expiry_rawman/004_ping_after_75s_idle_expired")
    new_cookie = cookie_of(expired)
    script = Script([
        recorded("01_login/expiry_rawman/001_login"),
        recorded("01_login/expiry_rawman/002_ping_t0"),
        expired,
        with_cookie(recorded("01_login/expiry_rawman/001_login"), new_cookie),
        with_cookie(recorded("01_login/expiry_rawman/003_ping_t45_still_valid"), new_cookie),
    ])
    ami = client_for(script)
    ami.login()
    assert ami.ping().ok
    assert ami.gaps == []
    assert ami.ping()["Ping"] == "Pong"
    assert script.actions() == ["Login", "Ping", "Ping", "Login", "Ping"]
    assert script.requests[3].headers.get("Cookie") is None, "a new Login starts clean"
    assert script.requests[4].headers["Cookie"] == f'mansession_id="{new_cookie}"'
    assert len(ami.gaps) == 1 and "session lost" in ami.gaps[0].reason


def test_session_lost_again_right_after_login_is_not_a_loop():
    script = Script([
        recorded(LOGIN),
        reply(b"Response: Error\r\nMessage: Permission denied\r\n\r\n", cookie="0000000a"),
        reply(b"Response: Success\r\nMessage: Authentication accepted\r\n\r\n", cookie="0000000b"),
        reply(b"Response: Error\r\nMessage: Permission denied\r\n\r\n", cookie="0000000c"),
    ])
    ami = client_for(script)
    ami.login()
    with pytest.raises(SessionExpired):
        ami.ping()
    assert len(script.requests) == 4


def test_permission_denied_with_the_same_cookie_is_not_retried():
    script = Script([recorded("03_errors/rawman/020_limited_login"),
                     recorded("03_errors/rawman/021_limited_command_denied")])
    ami = AMIClient(URL, "limited", "limitedpw", transport=script.transport)
    ami.login()
    with pytest.raises(PermissionDenied) as info:
        ami.command("core show version")
    assert "Permission denied" in str(info.value)
    assert script.actions() == ["Login", "Command"]
    assert ami.gaps == []


def test_error_replies_raise_with_the_server_message():
    script = Script([recorded(LOGIN), recorded("03_errors/rawman/010_hangup_nonexistent_channel"),
                     recorded("03_errors/rawman/002_unknown_action")])
    ami = client_for(script)
    with pytest.raises(ActionFailed) as info:
        ami.hangup("Local/nope-00000000;1")
    assert "No such channel" in str(info.value) and isinstance(info.value, AMIError)
    reply_ = ami.action("FooBarBaz", check=False, ActionID="e1")
    assert reply_["Response"] == "Error" and "Invalid/unknown command" in reply_["Message"]


def test_command_returns_output_lines_and_getvar_the_value():
    script = Script([recorded(LOGIN), recorded("04_lists/rawman/010_command_core_show_version"),
                     recorded("04_lists/rawman/013_getvar_global_missing")])
    ami = client_for(script)
    lines = ami.command("core show version")
    assert lines and lines[0].startswith("Asterisk 23.4.1")
    assert ami.getvar("NO_SUCH_VAR") == ""


def test_helpers_take_header_names_in_any_case():
    script = Script([recorded(LOGIN), reply(b"Response: Success\r\nMessage: Originate successfully "
                                            b"queued\r\n\r\n")])
    ami = client_for(script)
    ami.originate(channel="PJSIP/SOFTPHONE_A", CONTEXT="sets", exten="103", priority=1,
                  Async=True, variable={"A": "1", "B": "2"})
    params = script.requests[1].url.params
    assert params["Channel"] == "PJSIP/SOFTPHONE_A" and params["Context"] == "sets"
    assert params["Exten"] == "103" and params["Priority"] == "1" and params["Async"] == "true"
    assert params.get_list("Variable") == ["A=1", "B=2"]


def test_list_actions_collect_their_items():
    script = Script([recorded(LOGIN), recorded("04_lists/rawman/002_coreshowchannels"),
                     recorded("04_lists/rawman/003_status_all")])
    ami = client_for(script)
    channels = ami.core_show_channels()
    assert len(channels) == 16 and all(c.name == "CoreShowChannel" for c in channels)
    status = ami.action("Status")
    assert status.events[-1].name == "StatusComplete"
    assert len(status.events) - 1 == int(status.events[-1]["ListItems"])


@pytest.mark.parametrize(("body", "words"), [
    (b"Response: Success\r\nEventList: start\r\nMessage: Channels will follow\r\n\r\n"
     b"Event: CoreShowChannel\r\nChannel: a\r\n\r\n"
     b"Event: CoreShowChannelsComplete\r\nEventList: Complete\r\nListItems: 2\r\n\r\n", "ListItems"),
    (b"Response: Success\r\nEventList: start\r\nMessage: Channels will follow\r\n\r\n"
     b"Event: CoreShowChannel\r\nChannel: a\r\n\r\n", "not complete"),
    (b"Event: Newchannel\r\n\r\n", "Response"),
    (b"<html>oops</html>", "Response"),
])
def test_malformed_replies_are_protocol_errors(body, words):
    script = Script([recorded(LOGIN), reply(body)])
    with pytest.raises(ProtocolError, match=words):
        client_for(script).core_show_channels()


def test_empty_reply_to_an_ordinary_action_is_a_protocol_error():
    script = Script([recorded(LOGIN), reply(b"")])
    with pytest.raises(ProtocolError, match="empty reply"):
        client_for(script).ping()


def test_not_found_explains_how_to_enable_http_ami(captures):
    script = Script([recorded("11_http_misc/005_unknown_path_404")])
    with pytest.raises(HTTPStatusError) as info:
        client_for(script).login()
    assert info.value.status_code == 404
    assert "webenabled=yes" in str(info.value) and "http.conf" in str(info.value)


# -- refused before sending --------------------------------------------------------------
@pytest.mark.parametrize("headers", [
    {"ActionID": "x\r\nEvent: Forged"}, {"Channel": "a\nb"}, {"Variable": ["A=1", "B=\0"]},
])
def test_injection_is_refused_before_sending(headers):
    script = Script([recorded(LOGIN)])
    ami = client_for(script)
    ami.login()
    with pytest.raises(InvalidAction):
        ami.action("Originate", **{"Channel": "Local/1@sets", "Application": "Wait", **headers})
    assert script.actions() == ["Login"]


@pytest.mark.parametrize(("call", "missing"), [
    (lambda ami: ami.originate(Context="sets", Exten="103", Priority=1), "Channel"),
    (lambda ami: ami.originate(Channel="PJSIP/SOFTPHONE_A", Exten="103"), "Exten"),
    (lambda ami: ami.redirect(Channel="PJSIP/A-1", Context="sets"), "Exten"),
    (lambda ami: ami.hangup(), "Channel"),
])
def test_missing_required_headers_are_refused_before_sending(call, missing):
    script = Script([recorded(LOGIN)])
    ami = client_for(script)
    ami.login()
    with pytest.raises(InvalidAction, match=missing):
        call(ami)
    assert len(script.requests) == 1


def test_long_requests_go_as_a_post_form():
    script = Script([recorded(LOGIN), reply(b"Response: Success\r\nMessage: Originate successfully "
                                            b"queued\r\n\r\n")])
    ami = client_for(script)
    variables = {f"VAR{i}": "x" * 40 for i in range(100)}
    ami.originate(Channel="Local/101@sets", Application="Wait", Data="1", Variable=variables)
    post = script.requests[1]
    assert post.method == "POST" and post.url.query == b""
    assert post.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert len(httpx.QueryParams(post.content.decode()).get_list("Variable")) == 100


def test_requests_over_asterisks_body_limit_are_refused():
    script = Script([recorded(LOGIN)])
    ami = client_for(script)
    ami.login()
    with pytest.raises(InvalidAction, match="40960"):
        ami.originate(Channel="Local/101@sets", Application="Wait",
                      Variable={f"V{i}": "y" * 100 for i in range(500)})


# -- events ------------------------------------------------------------------------------
def test_wait_event_returns_events_without_the_markers():
    script = Script([recorded(LOGIN), recorded("05_originate/rawman/014_calls_waitevent_001")])
    events = client_for(script).wait_event(5)
    assert events and all(e.is_event and e.name != "WaitEventComplete" for e in events)
    assert all(e.received_at is not None for e in events)
    assert script.params(1)["Timeout"] == "5"


def test_kicked_out_wait_event_returns_nothing():
    script = Script([recorded(LOGIN),
                     recorded("08_waitevent_semantics/c2_same_session_two_waiters_retry/"
                              "003_try1_rawman_first_waitevent")])
    assert script.replies[-1].content == b""
    assert client_for(script).wait_event(5) == []


def test_only_one_wait_event_in_flight():
    ami: AMIClient
    seen: list[BaseException] = []

    def second_waiter(request: httpx.Request) -> httpx.Response:
        try:
            ami.wait_event(1)
        except ClientBusy as exc:
            seen.append(exc)
        return reply(b"Response: Success\r\nMessage: Waiting for Event completed.\r\n\r\n"
                     b"Event: WaitEventComplete\r\n\r\n")

    script = Script([recorded(LOGIN), second_waiter])
    ami = client_for(script)
    assert ami.wait_event(1) == []
    assert len(seen) == 1 and isinstance(seen[0], RuntimeError)


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_empty_answers_do_not_spin(monkeypatch):
    clock = FakeTime()
    monkeypatch.setattr(amikit.client.time, "sleep", clock.sleep)
    empty = (b"Response: Success\r\nMessage: Waiting for Event completed.\r\n\r\n"
             b"Event: WaitEventComplete\r\n\r\n")
    script = Script([recorded(LOGIN), reply(empty), reply(empty),
                     recorded("05_originate/rawman/014_calls_waitevent_001")])
    ami = client_for(script)
    ami._core._clock = lambda: clock.now
    first = next(ami.events(pause=0.5))
    assert first.name == "CEL"
    assert clock.sleeps == [0.5, 0.5]


def test_server_down_backs_off_then_gives_up(monkeypatch):
    clock = FakeTime()
    monkeypatch.setattr(amikit.client.time, "sleep", clock.sleep)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    script = Script([recorded(LOGIN)] + [refuse] * 20)
    ami = client_for(script)
    ami._core._clock = lambda: clock.now
    with pytest.raises(ConnectionLost, match="gave up"):
        next(ami.events(give_up_after=20))
    assert clock.sleeps[:4] == [0.5, 1.0, 2.0, 4.0] and max(clock.sleeps) == 8.0
    assert sum(clock.sleeps) >= 20


def test_server_back_after_an_outage_records_a_gap(monkeypatch):
    clock = FakeTime()
    monkeypatch.setattr(amikit.client.time, "sleep", clock.sleep)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    script = Script([recorded(LOGIN), refuse, refuse,
                     recorded("05_originate/rawman/014_calls_waitevent_001")])
    ami = client_for(script)
    ami._core._clock = lambda: clock.now
    next(ami.events())
    assert len(ami.gaps) == 1 and "unreachable" in ami.gaps[0].reason


def test_an_unreachable_server_is_a_clear_error():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    with pytest.raises(ConnectionLost, match=r"cannot reach http://127\.0\.0\.1:8088/rawman"):
        client_for(Script([refuse])).ping()


def test_events_filters_by_name():
    script = Script([recorded(LOGIN), recorded("05_originate/rawman/014_calls_waitevent_001")])
    event = next(client_for(script).events(names=["newchannel"]))
    assert event.name == "Newchannel"


# -- mxml, digest ------------------------------------------------------------------------
def test_mxml_encoding():
    script = Script([recorded("01_login/mxml/005_login"), recorded("01_login/mxml/006_ping")])
    ami = client_for(script, encoding="mxml")
    assert ami.ping()["Ping"] == "Pong"
    assert script.requests[0].url.path == "/mxml"


def test_digest_answers_challenges_and_renews_stale_nonces():
    base = "02_digest/arawman/"
    script = Script([recorded(base + "001_no_credentials"), recorded(base + "002_digest_ok_nc1"),
                     recorded(base + "004_digest_replay_nc2"),
                     recorded(base + "005_digest_new_nonce_nc1")])
    ami = client_for(script, auth="digest")
    assert ami.ping()["Ping"] == "Pong"
    assert ami.action("CoreStatus")["CoreCurrentCalls"] == "0"
    paths = {r.url.path for r in script.requests}
    assert paths == {"/arawman"}
    auths = [r.headers.get("Authorization", "") for r in script.requests]
    assert auths[0] == "" and 'nonce="117a6780"' in auths[1] and "nc=00000001" in auths[1]
    assert "nc=00000002" in auths[2]
    assert 'nonce="55dcd923"' in auths[3] and "nc=00000001" in auths[3]
    assert all("Cookie" not in r.headers for r in script.requests)
    assert [g.reason for g in ami.gaps] == ["new digest nonce: the server started a new session"]
    assert "Login" not in script.actions()


def test_digest_wrong_password():
    base = "02_digest/arawman/"
    script = Script([recorded(base + "011_no_credentials_for_wrongpw"),
                     recorded(base + "012_digest_wrong_password")])
    with pytest.raises(AuthenticationError, match="digest"):
        AMIClient(URL, "hello", "nope", auth="digest", transport=script.transport).ping()


# -- construction, secrets, async ----------------------------------------------------------
@pytest.mark.parametrize("url", ["127.0.0.1:8088", "ftp://x", "http://h/?a=1"])
def test_bad_urls_are_refused(url):
    with pytest.raises(ValueError):
        AMIClient(url, "hello", "world")


def test_prefix_is_kept():
    script = Script([recorded(LOGIN)])
    AMIClient("http://127.0.0.1:8088/asterisk/", "hello", "world",
              transport=script.transport).login()
    assert script.requests[0].url.path == "/asterisk/rawman"


def test_from_env(monkeypatch):
    monkeypatch.setenv("AMIKIT_URL", URL)
    monkeypatch.setenv("AMIKIT_USER", "hello")
    monkeypatch.delenv("AMIKIT_SECRET", raising=False)
    with pytest.raises(AMIError, match="AMIKIT_SECRET"):
        AMIClient.from_env()
    monkeypatch.setenv("AMIKIT_SECRET", "world")
    assert AMIClient.from_env().url == URL


def test_secrets_stay_out_of_repr_and_logs(caplog):
    caplog.set_level(logging.DEBUG)
    script = Script([recorded(LOGIN), recorded(PING)])
    ami = AMIClient(URL, "hello", "tops3cret", transport=script.transport)
    ami.ping()
    assert "tops3cret" not in repr(ami)
    assert "tops3cret" not in caplog.text


def test_async_client_has_the_same_surface():
    async def main():
        script = Script([recorded(LOGIN), recorded(PING),
                         recorded("05_originate/rawman/014_calls_waitevent_001"),
                         recorded("01_login/rawman/013_logoff")])
        async with AsyncAMIClient(URL, "hello", "world", transport=script.transport) as ami:
            pong = await ami.ping()
            event = None
            async for event in ami.events(names=["Newchannel"]):  # noqa: B007 - kept after break
                break
        return pong, event, script.actions()

    pong, event, actions = asyncio.run(main())
    assert pong["Ping"] == "Pong" and event.name == "Newchannel"
    assert actions == ["Login", "Ping", "WaitEvent", "Logoff"]


# -- a second session: clone() -------------------------------------------------------------
def test_clone_is_a_second_session_with_the_same_credentials_and_options():
    script = Script([recorded(LOGIN), with_cookie(recorded(LOGIN), "second"), recorded(PING)])
    ami = AMIClient(URL + "/asterisk", "hello", "s3cr3t", encoding="rawman", auth="cookie",
                    timeout=4.5, transport=script.transport)
    ami.login()
    twin = ami.clone()
    assert type(twin) is AMIClient and twin is not ami and not twin.logged_in
    assert (twin.url, twin.endpoint, twin.username, twin.encoding, twin.auth, twin.timeout) == (
        URL + "/asterisk", URL + "/asterisk/rawman", "hello", "rawman", "cookie", 4.5)
    twin.login()
    assert script.params(1) == {"Action": "Login", "Username": "hello", "Secret": "s3cr3t",
                                "ActionID": script.params(1)["ActionID"]}
    twin.ping()  # on the clone's own cookie, not the first session's
    assert script.requests[2].headers["Cookie"] == 'mansession_id="second"'
    assert ami.logged_in and twin.logged_in and ami.gaps == twin.gaps == []
    assert "s3cr3t" not in repr(twin)


def test_clone_may_change_options_for_the_new_session_only():
    ami = AMIClient(URL, "hello", "world")
    twin = ami.clone(encoding="mxml", auth="digest", timeout=2)
    assert (twin.endpoint, twin.encoding, twin.auth, twin.timeout) == (URL + "/amxml", "mxml",
                                                                      "digest", 2)
    assert (ami.endpoint, ami.encoding, ami.auth, ami.timeout) == (URL + "/rawman", "rawman",
                                                                  "cookie", 10.0)


def test_async_twin_of_a_sync_client_and_back():
    script = Script([recorded(LOGIN), recorded(PING), recorded("01_login/rawman/013_logoff")])
    ami = AMIClient(URL, "hello", "world", transport=script.transport, timeout=3)
    twin = ami.clone(asynchronous=True)
    assert type(twin) is AsyncAMIClient and (twin.url, twin.timeout) == (URL, 3)

    async def main():
        async with twin as session:
            return await session.ping()

    assert asyncio.run(main())["Ping"] == "Pong"
    assert script.actions() == ["Login", "Ping", "Logoff"] and script.params(0)["Secret"] == "world"
    assert type(twin.clone()) is AsyncAMIClient
    assert type(twin.clone(asynchronous=False)) is AMIClient


def test_clone_refuses_a_transport_of_the_wrong_kind():
    ami = AMIClient(URL, "hello", "world", transport=httpx.HTTPTransport())
    with pytest.raises(TypeError, match="transport="):
        ami.clone(asynchronous=True)
    assert type(ami.clone(asynchronous=True, transport=None)) is AsyncAMIClient
    assert type(ami.clone()) is AMIClient  # the same kind shares it


def test_async_client_methods_are_coroutines_typed_like_the_sync_ones():
    import inspect
    import typing

    names = [n for n, f in vars(AMIClient).items() if callable(f) and not n.startswith("_")]
    assert {"login", "ping", "originate", "command", "wait_event", "list_commands"} <= set(names)
    for name in names:
        sync, coro = getattr(AMIClient, name), getattr(AsyncAMIClient, name)
        assert inspect.signature(sync).parameters.keys() == inspect.signature(coro).parameters.keys()
        if name == "events":
            assert inspect.isasyncgenfunction(coro)
            continue
        assert inspect.iscoroutinefunction(coro), f"AsyncAMIClient.{name} is not a coroutine"
        want = typing.get_type_hints(sync, vars(amikit.client))["return"]
        assert typing.get_type_hints(coro, vars(amikit.client))["return"] == want, name


# -- the widgets and the command line need nothing private -------------------------------
def test_no_module_reads_a_clients_or_messages_private_parts():
    """What widgets and the CLI need is public: clone(), endpoint, username, redacted()."""
    import ast
    import pathlib

    private = {"_core", "_secret", "_shown_headers", "_credentials"}
    root = pathlib.Path(amikit.client.__file__).parent
    reaches = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and node.attr in private
                    and not (isinstance(node.value, ast.Name) and node.value.id == "self")):
                reaches.append(f"{path.relative_to(root)}:{node.lineno} .{node.attr}")
    assert reaches == []


def test_connect_panel_logs_in_a_clone_of_a_given_client():
    from amikit.widgets import ConnectPanel

    script = Script([recorded("04_lists/rawman/001_login"), recorded("04_lists/rawman/020_coresettings"),
                     recorded("04_lists/rawman/006_listcommands")])
    template = AMIClient(URL, "hello", "pw-in-the-client", encoding="rawman",
                         transport=script.transport)
    panel = ConnectPanel(client=template)
    assert (panel.url.value, panel.username.value, panel.secret.value) == (URL, "hello", "")
    client = panel.connect()
    assert client is not None and client is not template and client.logged_in
    assert script.params(0)["Secret"] == "pw-in-the-client" and not template.logged_in
    assert "Connected" in panel.status.value and "pw-in-the-client" not in panel.status.value


# -- a hostile server: bounded size, an overall deadline, 5xx ridden out (issue 12) ----------
MIB = 1 << 20


def hostile_client(server: HostileServer, **kwargs) -> AMIClient:
    kwargs.setdefault("timeout", 0.5)
    kwargs.setdefault("max_reply_bytes", MIB)
    return AMIClient(server.url, "hello", "world", **kwargs)


@pytest.mark.parametrize("act", ["endless", "gzip-bomb"])
def test_a_reply_past_the_size_limit_is_refused_while_it_streams(act):
    exceeded = r"the reply from http://127\.0\.0\.1:\d+/rawman exceeded 1 MiB"
    with HostileServer([login_reply(), act]) as server, \
            hostile_client(server, timeout=30) as ami, \
            pytest.raises(ReplyTooLarge, match=exceeded) as info:
        ami.ping()
    assert isinstance(info.value, ProtocolError) and isinstance(info.value, AMIError)


def test_the_size_limit_counts_decoded_bytes_and_lets_smaller_replies_through():
    body = b"Response: Success\r\nPing: Pong\r\n" + b"Output: x\r\n" * 1000 + b"\r\n"
    packed = raw_reply(gzip.compress(body), headers=["Content-Encoding: gzip"])
    with HostileServer([login_reply(), packed]) as server, \
            hostile_client(server, max_reply_bytes=len(body)) as ami:
        assert ami.ping()["Ping"] == "Pong"
    with HostileServer([login_reply(), packed]) as server, \
            hostile_client(server, max_reply_bytes=len(body) - 1) as ami, \
            pytest.raises(ReplyTooLarge, match="exceeded"):
        ami.ping()


@pytest.mark.parametrize("act", ["drip"])  # "drip-head": only the async client (see _Deadline)
def test_a_dripping_server_runs_into_the_overall_deadline(act):
    # one byte each 0.05 s: every single read is well inside the 0.5 s, the whole is not
    late = r"no complete reply from http://127\.0\.0\.1:\d+/rawman within 0\.5 s"
    with HostileServer([login_reply(), act]) as server, hostile_client(server) as ami, \
            pytest.raises(ReplyTimeout, match=late) as info:
        ami.ping()
    assert isinstance(info.value, ConnectionLost)


def test_a_reset_is_a_lost_connection():
    with HostileServer([login_reply(), "reset"]) as server, hostile_client(server) as ami, \
            pytest.raises(ConnectionLost, match="cannot reach"):
        ami.ping()


@pytest.mark.parametrize("act", ["endless", "drip", "drip-head"])
def test_the_async_client_has_the_same_limits(act):
    async def main() -> None:
        async with AsyncAMIClient(server.url, "hello", "world", timeout=0.5,
                                  max_reply_bytes=MIB) as ami:
            await ami.ping()

    error = ReplyTooLarge if act == "endless" else ReplyTimeout
    with HostileServer([login_reply(), act]) as server, pytest.raises(error):
        asyncio.run(main())


def test_a_wait_events_deadline_is_its_own_timeout_plus_the_clients():
    script = Script([recorded(LOGIN), recorded("05_originate/rawman/014_calls_waitevent_001")])
    ami = client_for(script, timeout=3)
    seen: list[float] = []
    original = amikit.client._Deadline.__init__

    def spy(self: amikit.client._Deadline, seconds: float) -> None:
        seen.append(seconds)
        original(self, seconds)

    try:
        amikit.client._Deadline.__init__ = spy  # type: ignore[method-assign]
        ami.wait_event(20)
    finally:
        amikit.client._Deadline.__init__ = original  # type: ignore[method-assign]
    assert seen == [3, 23]


def test_a_5xx_during_events_is_ridden_out_with_a_gap(monkeypatch):
    clock = FakeTime()
    monkeypatch.setattr(amikit.client.time, "sleep", clock.sleep)
    plan = [login_reply(), "500", "500", wait_event_reply("Newchannel")]
    with HostileServer(plan) as server, hostile_client(server) as ami:
        ami._core._clock = lambda: clock.now
        event = next(ami.events())
    assert event.name == "Newchannel"
    assert clock.sleeps == [0.5, 1.0]
    assert len(ami.gaps) == 1 and "HTTP 500" in ami.gaps[0].reason


def test_a_server_answering_5xx_for_ever_is_given_up_on(monkeypatch):
    clock = FakeTime()
    monkeypatch.setattr(amikit.client.time, "sleep", clock.sleep)
    with HostileServer([login_reply(), "500"]) as server, hostile_client(server) as ami:
        ami._core._clock = lambda: clock.now
        with pytest.raises(ConnectionLost, match=r"answering HTTP 500 for .* gave up"):
            next(ami.events(give_up_after=10))


def test_a_4xx_during_events_is_not_retried():
    script = Script([recorded(LOGIN), reply(b"", status=404)])
    with pytest.raises(HTTPStatusError, match="404"):
        next(client_for(script).events())


def test_a_password_in_the_url_is_masked_in_the_repr_and_in_errors():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    ami = AMIClient("http://admin:urlpass@127.0.0.1:8088", "hello", "world",
                    transport=Script([refuse]).transport)
    assert "urlpass" not in repr(ami) and "admin:***@127.0.0.1" in repr(ami)
    assert "urlpass" not in repr(ami.clone(asynchronous=True))
    with pytest.raises(ConnectionLost) as info:
        ami.ping()
    assert "urlpass" not in str(info.value) and "admin:***@" in str(info.value)


def test_the_limits_are_options_a_clone_keeps():
    ami = AMIClient(URL, "hello", "world", max_reply_bytes=MIB, timeout=2)
    assert ami.max_reply_bytes == MIB and ami.clone().max_reply_bytes == MIB
    assert AMIClient(URL, "hello", "world").max_reply_bytes == 64 * MIB
    with pytest.raises(ValueError, match="max_reply_bytes"):
        AMIClient(URL, "hello", "world", max_reply_bytes=0)
