from __future__ import annotations

import re

import pytest

from amikit.digest import authorization, parse_challenge
from amikit.errors import ProtocolError
from tests.conftest import CAPTURES


def _recorded_exchanges():
    folder = CAPTURES / "02_digest" / "arawman"
    for request in sorted(folder.glob("*.request.bin")):
        text = request.read_bytes().decode()
        auth = re.search(r"^Authorization: (Digest .*)$", text, re.M)
        if auth and "response=" in auth[1]:
            status = request.with_name(request.name.replace(".request.bin", ".response_head.txt"))
            yield text.split(" ")[0], auth[1].strip(), status.read_bytes().decode().split()[1]


def fields(header: str) -> dict[str, str]:
    return {k: v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|[^,\s]+)', header)}


SECRETS = {"hello": "world", "reporter": "reportpw"}


def test_our_answers_match_every_accepted_recorded_answer():
    checked = 0
    for method, header, status in _recorded_exchanges():
        f = fields(header)
        if status != "200" or f["username"] not in SECRETS:
            continue
        challenge = parse_challenge(
            f'Digest realm="{f["realm"]}", nonce="{f["nonce"]}"'
            + (f', qop="{f["qop"]}"' if "qop" in f else "") + f', opaque="{f["opaque"]}"')
        ours = fields(authorization(challenge, f["username"], SECRETS[f["username"]], method,
                                    f["uri"], nc=int(f.get("nc", "1"), 16),
                                    cnonce=f.get("cnonce", "")))
        assert ours["response"] == f["response"]
        checked += 1
    assert checked >= 4


def test_stale_flag_and_opaque():
    ch = parse_challenge('Digest algorithm=MD5, realm="asterisk", nonce="55dcd923", '
                         'qop="auth", opaque="55dcd923", stale=true')
    assert ch.stale and ch.opaque == "55dcd923" and ch.qop == "auth"


@pytest.mark.parametrize("header", ['Basic realm="x"', "Digest", 'Digest realm="a"',
                                    'Digest realm="a", nonce="b", algorithm=SHA-256',
                                    'Digest realm="a", nonce="b", qop="auth-int"'])
def test_unusable_challenges_are_protocol_errors(header):
    with pytest.raises(ProtocolError):
        parse_challenge(header)
