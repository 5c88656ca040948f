"""The HTTP front: headers, cookies, paths, methods (captures 01_login, 11_http_misc)."""

from __future__ import annotations

import re
import time

import httpx

from tests.conformance.conftest import Wire, raw_headers

COOKIE_PATH_HEADERS = ["Server", "Date", "Cache-Control", "Content-type", "Set-Cookie", "Pragma",
                       "Content-Length"]
SET_COOKIE = re.compile(r'mansession_id="[0-9a-f]{8}"; Version=1; Max-Age=\d+')
PERMISSION_DENIED = b"Response: Error\r\nMessage: Permission denied\r\n\r\n"


def test_login_reply_is_the_55_bytes_and_header_order(wire: Wire):
    raw = wire.get("/rawman", action="Login", username="hello", secret="world")
    assert raw.status == 200
    assert raw.body == b"Response: Success\r\nMessage: Authentication accepted\r\n\r\n"
    assert len(raw.body) == 55
    assert [n for n, _ in raw.headers] == COOKIE_PATH_HEADERS
    assert raw.header("Cache-Control") == "no-cache, no-store"
    assert raw.header("Content-type") == "text/plain"
    assert raw.header("Pragma") == "SuppressEvents"
    assert SET_COOKIE.fullmatch(raw.header("Set-Cookie") or "")


def test_ping_without_or_with_a_bogus_cookie_is_denied_with_a_new_cookie(wire: Wire):
    first = wire.send("GET", "/rawman", {"action": "Ping"}, keep_cookie=False)
    assert (first.status, first.body) == (200, PERMISSION_DENIED)
    bogus = wire.send("GET", "/rawman", {"action": "Ping"},
                      headers={"Cookie": 'mansession_id="deadbeef"'})
    assert bogus.body == PERMISSION_DENIED and bogus.cookie not in (None, "deadbeef")
    assert bogus.cookie != first.cookie


def test_cookie_quoted_or_not_and_action_names_in_any_case(logged_in: Wire):
    ping = logged_in.send("GET", "/rawman", {"Action": "PiNg", "actionid": "lower-id"})
    assert ping.body.startswith(b"Response: Success\r\nActionID: lower-id\r\nPing: Pong\r\nTimestamp: ")
    unquoted = logged_in.send("GET", "/rawman", {"action": "ping"},
                              headers={"Cookie": f"mansession_id={logged_in.cookie}"})
    assert unquoted.messages()[0]["Ping"] == "Pong"
    assert re.fullmatch(rb"Response: Success\r\nPing: Pong\r\nTimestamp: \d+\.\d{6}\r\n\r\n",
                        unquoted.body)


def test_upper_case_parameter_names_and_first_duplicate_wins(wire: Wire):
    login = wire.send("GET", "/rawman", [("ACTION", "LOGIN"), ("USERNAME", "hello"),
                                         ("SECRET", "world")])
    assert login.messages()[0]["Message"] == "Authentication accepted"
    dup = wire.send("GET", "/rawman", [("action", "Ping"), ("action", "CoreStatus")])
    assert dup.messages()[0]["Ping"] == "Pong"


def test_post_form_replaces_the_query_string(logged_in: Wire):
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    ok = logged_in.send("POST", "/rawman", headers=form, content=b"action=Ping&ActionID=form-1")
    assert ok.messages()[0]["ActionID"] == "form-1"
    lost = logged_in.send("POST", "/rawman?action=Ping", headers=form, content=b"ActionID=body-id")
    assert lost.body == (b"Response: Error\r\nActionID: body-id\r\nMessage: Missing action in "
                         b"request\r\n\r\n")


def test_head_sends_the_length_but_no_body(logged_in: Wire):
    raw = logged_in.send("HEAD", "/rawman", {"action": "Ping"})
    assert raw.status == 200 and raw.body == b""
    assert int(raw.header("Content-Length") or 0) > 40


def test_missing_action_and_mansession_id_as_a_parameter(wire: Wire):
    missing = wire.send("GET", "/rawman/", keep_cookie=False)
    assert missing.body == b"Response: Error\r\nMessage: Missing action in request\r\n\r\n"
    cookie = wire.login().cookie
    as_param = wire.send("GET", "/rawman", {"action": "Ping", "mansession_id": cookie},
                         keep_cookie=False)
    assert as_param.body == PERMISSION_DENIED


def test_logoff_ends_the_session(logged_in: Wire):
    bye = logged_in.get("/rawman", action="Logoff", ActionID="bye-1")
    assert bye.body == b"Response: Goodbye\r\nActionID: bye-1\r\nMessage: Thanks for all the fish.\r\n\r\n"
    assert bye.cookie is not None
    assert logged_in.get("/rawman", action="Ping").body == PERMISSION_DENIED


def test_already_authenticated(logged_in: Wire):
    again = logged_in.get("/rawman", action="Login", username="hello", secret="world")
    assert again.body == b"Response: Success\r\nMessage: Already authenticated\r\n\r\n"


def test_failed_login_is_answered_after_a_deliberate_delay(wire: Wire):
    started = time.monotonic()
    raw = wire.get("/rawman", action="Login", username="hello", secret="WRONG")
    # a behaviour of Asterisk (a ~1 s sleep against guessing), not a speed measurement
    assert time.monotonic() - started >= 0.9
    assert raw.body == b"Response: Error\r\nMessage: Authentication failed\r\n\r\n"
    unknown = wire.get("/rawman", action="Login", username="nobody", secret="x")
    assert unknown.body == raw.body


def test_paths_are_case_insensitive_and_unknown_ones_are_404(wire: Wire):
    assert wire.send("GET", "/RAWMAN", {"action": "Ping"}).status == 200
    for path in ("/", "/nosuchthing", "/httpstatus", "/rawman/x"):
        page = wire.send("GET", path)
        assert page.status == 404, path
        assert page.header("Content-type") == "text/html"
        assert b"<title>404 Not Found</title>" in page.body
        assert page.header("Set-Cookie") is None


def test_other_methods_are_501(wire: Wire):
    raw = wire.send("PUT", "/rawman", {"action": "Ping"})
    assert raw.status == 501
    assert b"Attempt to use unimplemented / unsupported method" in raw.body


def test_mxml_encoding_and_ajax_parameters(wire: Wire):
    raw = wire.get("/mxml", action="Login", username="hello", secret="world")
    assert raw.header("Content-type") == "text/xml"
    assert raw.body == (b"<ajax-response>\n<response type='object' id='unknown'><generic "
                        b"response='Success' message='Authentication accepted' /></response>\n"
                        b"</ajax-response>\n")
    custom = wire.get("/mxml", action="Ping", ajaxdest="myDest", ajaxobjtype="myObj")
    assert custom.body.startswith(b"<ajax-response>\n<response type='object' id='myDest'><myObj ")
    denied = wire.send("GET", "/mxml", {"action": "Ping"}, keep_cookie=False)
    assert denied.body == (b"<ajax-response>\n<response type='object' id='unknown'><generic "
                           b"response='Error' message='Permission denied' /></response>\n"
                           b"</ajax-response>\n")


def test_manager_html_page(wire: Wire):
    raw = wire.get("/manager", action="Login", username="hello", secret="world")
    assert raw.header("Content-type") == "text/html"
    assert raw.body.startswith(b'<title>Asterisk&trade; Manager Interface</title><body bgcolor="#ffffff">')
    assert b"<tr><td>Message</td><td>Authentication accepted</td></tr>\n" in raw.body
    assert raw.body.endswith(b'<tr><td colspan="2"><hr></td></tr>\r\n</table></body>\r\n')


def test_connection_close_is_honoured(base_url: str):
    with httpx.Client() as client:
        raw = client.get(base_url + "/rawman", params={"action": "Login", "username": "hello",
                                                       "secret": "world"},
                         headers={"Connection": "close"})
    names = [n for n, _ in raw_headers(raw)]
    assert names[:3] == ["Server", "Date", "Connection"] and raw.headers["Connection"] == "close"


def test_challenge_and_md5_login(wire: Wire):
    import hashlib

    reply = wire.get("/rawman", action="Challenge", AuthType="MD5", ActionID="c1").messages()[0]
    assert [n for n, _ in reply.headers] == ["Response", "ActionID", "Challenge"]
    challenge = reply["Challenge"]
    assert challenge.isdigit() and len(challenge) <= 9
    key = hashlib.md5((challenge + "world").encode()).hexdigest()
    login = wire.get("/rawman", action="Login", username="hello", AuthType="MD5", Key=key)
    assert login.messages()[0]["Message"] == "Authentication accepted"
    assert wire.get("/rawman", action="Challenge").messages()[0]["Message"] == "Must specify AuthType"


def test_body_over_the_limit_is_413(wire: Wire):
    raw = wire.send("POST", "/rawman", headers={"Content-Type": "application/x-www-form-urlencoded"},
                    content=b"action=Ping&x=" + b"y" * 41000)
    assert raw.status == 413
