"""HTTP digest on /arawman, /amxml, /amanager (captures 02_digest)."""

from __future__ import annotations

import re

import httpx

from amikit.digest import authorization, parse_challenge
from tests.conformance.conftest import Wire, raw_headers

CHALLENGE = re.compile(r'Digest algorithm=MD5, realm="asterisk", nonce="([0-9a-f]{8})", '
                       r'qop="auth", opaque="\1"(, stale=true)?')


def _answer(wire: Wire, header: str, nc: int, path: str = "/arawman?action=Ping&ActionID=d1",
            secret: str = "world") -> httpx.Response:
    auth = authorization(parse_challenge(header), "hello", secret, "GET", path, nc=nc,
                         cnonce="0a4f113b")
    return wire.http.get(wire.base + path, headers={"Authorization": auth})


def test_challenge_then_answer_then_replay(wire: Wire):
    first = wire.http.get(wire.base + "/arawman?action=Ping&ActionID=d1")
    assert first.status_code == 401
    assert [n for n, _ in raw_headers(first)] == [
        "Server", "Date", "Cache-Control", "WWW-authenticate", "Content-type", "Content-Length"]
    challenge = first.headers["WWW-authenticate"]
    assert CHALLENGE.fullmatch(challenge) and "stale" not in challenge
    assert b"<title>401 Unauthorized</title>" in first.content

    ok = _answer(wire, challenge, 1)
    assert ok.status_code == 200
    assert [n for n, _ in raw_headers(ok)] == [
        "Server", "Date", "Cache-Control", "Content-type", "Content-Length"]
    assert ok.content.startswith(b"Response: Success\r\nActionID: d1\r\nPing: Pong\r\n")
    assert _answer(wire, challenge, 2).status_code == 200

    replay = _answer(wire, challenge, 2)
    assert replay.status_code == 401
    assert CHALLENGE.fullmatch(replay.headers["WWW-authenticate"])
    assert replay.headers["WWW-authenticate"].endswith(", stale=true")


def test_wrong_password_and_basic_auth_are_challenged_again(wire: Wire):
    challenge = wire.http.get(wire.base + "/arawman?action=Ping").headers["WWW-authenticate"]
    wrong = _answer(wire, challenge, 1, secret="nope")
    assert wrong.status_code == 401 and "stale" not in wrong.headers["WWW-authenticate"]
    basic = wire.http.get(wire.base + "/arawman?action=Ping", auth=("hello", "world"))
    assert basic.status_code == 401


def test_login_action_is_not_needed_and_says_already_authenticated(wire: Wire):
    challenge = wire.http.get(wire.base + "/amxml?action=Ping").headers["WWW-authenticate"]
    path = "/amxml?action=Login&username=hello&secret=world"
    raw = _answer(wire, challenge, 1, path=path)
    assert raw.headers["Content-type"] == "text/xml"
    assert b"message='Already authenticated'" in raw.content
