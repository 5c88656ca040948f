"""HTTP Digest authentication as Asterisk's ``/arawman``, ``/amxml`` and ``/amanager`` do it.

Pure functions, no I/O: read a ``WWW-authenticate`` challenge, compute an
``Authorization`` answer. Asterisk (``ast_http_auth``, main/http.c) uses MD5, realm
``asterisk``, ``qop="auth"``, an 8-hex-digit nonce that doubles as the opaque value, keys
its manager session by the nonce, wants ``nc`` to grow strictly and answers a replayed
``nc`` or an old nonce with a fresh challenge marked ``stale=true``.

    >>> ch = parse_challenge('Digest algorithm=MD5, realm="asterisk", nonce="117a6780", '
    ...                      'qop="auth", opaque="117a6780"')
    >>> ch.nonce, ch.stale
    ('117a6780', False)
    >>> authorization(ch, "hello", "world", "GET", "/arawman?action=Ping&ActionID=d1",
    ...               nc=1, cnonce="0a4f113b").split("response=")[1][:34]
    '"3ba3b91ce118b196c8c0924325aa084a"'
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.request import parse_http_list, parse_keqv_list

from amikit.errors import ProtocolError

__all__ = ["DigestChallenge", "authorization", "parse_challenge"]


@dataclass(frozen=True)
class DigestChallenge:
    """What a ``WWW-authenticate: Digest …`` header asks for."""

    realm: str
    nonce: str
    opaque: str | None = None
    qop: str | None = None
    algorithm: str = "MD5"
    stale: bool = False


def parse_challenge(header: str) -> DigestChallenge:
    """Read a Digest challenge; :class:`~amikit.errors.ProtocolError` if it is not one."""
    scheme, _, params = header.strip().partition(" ")
    if scheme.lower() != "digest":
        raise ProtocolError(f"expected a Digest challenge, got {header[:60]!r}")
    try:
        fields = {k.lower(): v for k, v in parse_keqv_list(parse_http_list(params)).items()}
    except ValueError as exc:
        raise ProtocolError(f"unreadable Digest challenge {header[:80]!r}: {exc}") from None
    if "realm" not in fields or "nonce" not in fields:
        raise ProtocolError(f"Digest challenge without realm or nonce: {header[:80]!r}")
    algorithm = fields.get("algorithm", "MD5")
    if algorithm.upper() != "MD5":
        raise ProtocolError(f"Digest algorithm {algorithm!r} is not supported (Asterisk uses MD5)")
    qops = [q.strip() for q in fields.get("qop", "").split(",") if q.strip()]
    if qops and "auth" not in qops:
        raise ProtocolError(f"Digest qop {fields['qop']!r} is not supported (only auth)")
    return DigestChallenge(
        realm=fields["realm"],
        nonce=fields["nonce"],
        opaque=fields.get("opaque"),
        qop="auth" if qops else None,
        algorithm=algorithm,
        stale=fields.get("stale", "").lower() == "true",
    )


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def authorization(
    challenge: DigestChallenge,
    username: str,
    secret: str,
    method: str,
    uri: str,
    *,
    nc: int,
    cnonce: str,
) -> str:
    """The ``Authorization`` header answering ``challenge`` for one request.

    ``uri`` is the request target as sent (path and query); ``nc`` counts requests made
    with this nonce, from 1.
    """
    ha1 = _md5(f"{username}:{challenge.realm}:{secret}")
    ha2 = _md5(f"{method}:{uri}")
    fields = [
        f'username="{username}"',
        f'realm="{challenge.realm}"',
        f'nonce="{challenge.nonce}"',
        f'uri="{uri}"',
        f"algorithm={challenge.algorithm}",
    ]
    if challenge.qop:
        count = f"{nc:08x}"
        response = _md5(f"{ha1}:{challenge.nonce}:{count}:{cnonce}:auth:{ha2}")
        fields += [f'response="{response}"', "qop=auth", f"nc={count}", f'cnonce="{cnonce}"']
    else:
        fields.append(f'response="{_md5(f"{ha1}:{challenge.nonce}:{ha2}")}"')
    if challenge.opaque is not None:
        fields.append(f'opaque="{challenge.opaque}"')
    return "Digest " + ", ".join(fields)
