"""Every byte a real Asterisk 23.4.1 sent (tests/captures) parses, and the encodings agree."""

from __future__ import annotations

import hashlib
import pathlib

import pytest

from amikit import parse_manager_html, parse_mxml, parse_rawman
from tests.conftest import CAPTURES, capture_bytes, capture_manifest, capture_path

pytestmark = pytest.mark.captures

PARSERS = {"text/plain": parse_rawman, "text/xml": parse_mxml, "text/html": parse_manager_html}


def _content_type(body: pathlib.Path) -> str:
    head = body.with_name(body.name.replace(".body.bin", ".response_head.txt"))
    if head.relative_to(CAPTURES).as_posix() in MANIFEST:
        for line in capture_bytes(head).decode().split("\r\n"):
            if line.lower().startswith("content-type:"):
                return line.split(":", 1)[1].strip()
    return "text/xml" if ".mxml." in body.name else "text/plain"


# Listed from the manifest, not from the folder: a capture missing on disk is then a
# failing test, where a glob would silently collect fewer.
MANIFEST = capture_manifest()
BODIES = [CAPTURES / name for name in MANIFEST if name.endswith(".body.bin")]
STREAMS = [CAPTURES / name for name in MANIFEST
           if pathlib.PurePosixPath(name).stem == "waitevent_stream_concat" or name.startswith("busy/")]


def test_the_copies_are_the_captures_byte_for_byte():
    assert len(MANIFEST) == 2225 and len(BODIES) == 694
    stored = {p.relative_to(CAPTURES).as_posix() for p in CAPTURES.rglob("*") if p.is_file()}
    unpacked = {name.removesuffix(".gz") for name in stored - {"README.md", "SHA256SUMS"}}
    assert unpacked == set(MANIFEST), "every stored file is a listed capture, and every capture is stored"
    for name, digest in MANIFEST.items():
        assert hashlib.sha256(capture_bytes(name)).hexdigest() == digest, name


def test_large_streams_are_stored_compressed():
    for name in MANIFEST:
        assert capture_path(name).stat().st_size < 1_000_000, f"{name}: store it as {name}.gz"
    assert capture_path("busy/rawman_waitevent_stream_part1.txt").suffix == ".gz"


@pytest.mark.parametrize("body", BODIES, ids=lambda p: str(p.relative_to(CAPTURES)))
def test_every_recorded_body_parses_cleanly(body):
    kind, data = _content_type(body), capture_bytes(body)
    messages = PARSERS[kind](data)
    assert all(m.defects == [] for m in messages)
    kicked_out = data.split() == [b"<ajax-response>", b"</ajax-response>"]  # mxml's empty body
    if kind != "text/html" and data and not kicked_out:
        assert messages, "a non-empty AMI body gives messages"
        assert messages[0].is_response or messages[0].is_event


@pytest.mark.parametrize("stream", STREAMS, ids=lambda p: str(p.relative_to(CAPTURES)))
def test_recorded_streams_parse_cleanly(stream):
    parse = parse_mxml if stream.suffix == ".xml" else parse_rawman
    messages = parse(capture_bytes(stream))
    assert len(messages) > 10
    assert all(m.defects == [] for m in messages)
    events = [m for m in messages if m.is_event and m.name != "WaitEventComplete"]
    # Every queued event starts Event, Privilege, Timestamp (README of the captures)
    assert all([n for n, _ in e.headers[:3]] == ["Event", "Privilege", "Timestamp"] for e in events)


def test_busy_streams_hold_the_counted_events():
    # counted from the bytes, independently of the parser: every queued event has a
    # Privilege line, and WaitEventComplete markers have none
    raw = capture_bytes("busy/rawman_waitevent_stream_part1.txt")
    messages = parse_rawman(raw)
    events = [m for m in messages if m.is_event and m.name != "WaitEventComplete"]
    assert len(events) == raw.count(b"\r\nPrivilege: ")
    assert len(messages) - len(events) == 2 * raw.count(b"Event: WaitEventComplete")
    xml = capture_bytes("busy/mxml_waitevent_stream_part1.xml")
    assert len(parse_mxml(xml)) == xml.count(b"<response type=")


IGNORED = {"timestamp", "uniqueid", "linkedid", "actionid"}
# Bodies whose content depends on the server's state at that moment, not on the encoding:
# event streams (other clients' events interleave) and replies about live channels.
STATEFUL = ("waitevent", "drain", "coreshowchannels", "status", "originator",
            "getvar_global_after_set")  # the two sessions set differently named globals
PAIRS = [
    ("01_login/rawman", "01_login/mxml"),
    ("01_login/expiry_rawman", "01_login/expiry_mxml"),
    ("03_errors/rawman", "03_errors/mxml"),
    ("04_lists/rawman", "04_lists/mxml"),
    ("04_lists/channel_vars_rawman", "04_lists/channel_vars_mxml"),
    ("05_originate/rawman", "05_originate/mxml"),
    ("08_waitevent_semantics/a_no_events_rawman", "08_waitevent_semantics/a_no_events_mxml"),
    ("08_waitevent_semantics/d_events_action_rawman", "08_waitevent_semantics/d_events_action_mxml"),
    ("02_digest/arawman", "02_digest/amxml"),
]


def _pairs() -> list[tuple[pathlib.Path, pathlib.Path]]:
    found = []
    for raw_dir, xml_dir in PAIRS:
        for raw in sorted(body for body in BODIES if body.parent == CAPTURES / raw_dir):
            xml = CAPTURES / xml_dir / raw.name
            listed = xml.relative_to(CAPTURES).as_posix() in MANIFEST
            if listed and _content_type(raw) == "text/plain" and _content_type(xml) == "text/xml":
                found.append((raw, xml))
    for raw in sorted(body for body in BODIES if body.parent.name == "12_discovery"):
        if ".rawman." in raw.name:
            found.append((raw, raw.with_name(raw.name.replace(".rawman.", ".mxml."))))
    return found


def _normal(messages):
    return [[(n.lower(), v.strip()) for n, v in m.headers if n.lower() not in IGNORED]
            for m in messages]


@pytest.mark.parametrize(("raw", "xml"), _pairs(), ids=lambda p: str(p.relative_to(CAPTURES)))
def test_rawman_and_mxml_say_the_same(raw, xml):
    rawman, mxml = parse_rawman(capture_bytes(raw)), parse_mxml(capture_bytes(xml))
    if any(word in raw.name for word in STATEFUL):
        # different sessions at different moments: the replies still have the same shape
        assert _normal(rawman[:1])[0][:1] == _normal(mxml[:1])[0][:1]
        return
    assert _normal(rawman) == _normal(mxml)
    # and mxml names come back in Asterisk's own spelling, not just the same letters
    assert [[n for n, _ in m.headers] for m in rawman] == [[n for n, _ in m.headers] for m in mxml]
