"""Every byte a real Asterisk 23.4.1 sent (../shared/captures) parses, and the encodings agree."""

from __future__ import annotations

import pathlib

import pytest

from amikit import parse_manager_html, parse_mxml, parse_rawman
from tests.conftest import CAPTURES

PARSERS = {"text/plain": parse_rawman, "text/xml": parse_mxml, "text/html": parse_manager_html}


def _content_type(body: pathlib.Path) -> str:
    head = body.with_name(body.name.replace(".body.bin", ".response_head.txt"))
    if head.exists():
        for line in head.read_bytes().decode().split("\r\n"):
            if line.lower().startswith("content-type:"):
                return line.split(":", 1)[1].strip()
    return "text/xml" if ".mxml." in body.name else "text/plain"


BODIES = sorted(CAPTURES.rglob("*.body.bin")) if CAPTURES.is_dir() else []
STREAMS = sorted(CAPTURES.glob("*/**/waitevent_stream_concat.*")) + sorted(
    (CAPTURES / "busy").glob("*")) if CAPTURES.is_dir() else []


@pytest.mark.skipif(not BODIES, reason="captures not present")
@pytest.mark.parametrize("body", BODIES, ids=lambda p: str(p.relative_to(CAPTURES)))
def test_every_recorded_body_parses_cleanly(body):
    kind, data = _content_type(body), body.read_bytes()
    messages = PARSERS[kind](data)
    assert all(m.defects == [] for m in messages)
    kicked_out = data.split() == [b"<ajax-response>", b"</ajax-response>"]  # mxml's empty body
    if kind != "text/html" and data and not kicked_out:
        assert messages, "a non-empty AMI body gives messages"
        assert messages[0].is_response or messages[0].is_event


@pytest.mark.skipif(not STREAMS, reason="captures not present")
@pytest.mark.parametrize("stream", STREAMS, ids=lambda p: str(p.relative_to(CAPTURES)))
def test_recorded_streams_parse_cleanly(stream):
    parse = parse_mxml if stream.suffix == ".xml" else parse_rawman
    messages = parse(stream.read_bytes())
    assert len(messages) > 10
    assert all(m.defects == [] for m in messages)
    events = [m for m in messages if m.is_event and m.name != "WaitEventComplete"]
    # Every queued event starts Event, Privilege, Timestamp (README of the captures)
    assert all([n for n, _ in e.headers[:3]] == ["Event", "Privilege", "Timestamp"] for e in events)


def test_busy_streams_hold_the_counted_events(captures):
    # counted from the bytes, independently of the parser: every queued event has a
    # Privilege line, and WaitEventComplete markers have none
    raw = (captures / "busy" / "rawman_waitevent_stream_part1.txt").read_bytes()
    messages = parse_rawman(raw)
    events = [m for m in messages if m.is_event and m.name != "WaitEventComplete"]
    assert len(events) == raw.count(b"\r\nPrivilege: ")
    assert len(messages) - len(events) == 2 * raw.count(b"Event: WaitEventComplete")
    xml = (captures / "busy" / "mxml_waitevent_stream_part1.xml").read_bytes()
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
    if not CAPTURES.is_dir():
        return []
    found = []
    for raw_dir, xml_dir in PAIRS:
        for raw in sorted((CAPTURES / raw_dir).glob("*.body.bin")):
            xml = CAPTURES / xml_dir / raw.name
            if xml.exists() and _content_type(raw) == "text/plain" and _content_type(xml) == "text/xml":
                found.append((raw, xml))
    for raw in sorted((CAPTURES / "12_discovery").glob("*.rawman.body.bin")):
        found.append((raw, raw.with_name(raw.name.replace(".rawman.", ".mxml."))))
    return found


def _normal(messages):
    return [[(n.lower(), v.strip()) for n, v in m.headers if n.lower() not in IGNORED]
            for m in messages]


@pytest.mark.skipif(not _pairs(), reason="captures not present")
@pytest.mark.parametrize(("raw", "xml"), _pairs(), ids=lambda p: str(p.relative_to(CAPTURES)))
def test_rawman_and_mxml_say_the_same(raw, xml):
    rawman, mxml = parse_rawman(raw.read_bytes()), parse_mxml(xml.read_bytes())
    if any(word in raw.name for word in STATEFUL):
        # different sessions at different moments: the replies still have the same shape
        assert _normal(rawman[:1])[0][:1] == _normal(mxml[:1])[0][:1]
        return
    assert _normal(rawman) == _normal(mxml)
    # and mxml names come back in Asterisk's own spelling, not just the same letters
    assert [[n for n, _ in m.headers] for m in rawman] == [[n for n, _ in m.headers] for m in mxml]
