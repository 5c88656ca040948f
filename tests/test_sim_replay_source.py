"""Recordings read a chunk at a time for replay: the same events as ``read_events`` finds, in
every format, from any resume point, and clear errors for what cannot be replayed."""

from __future__ import annotations

import gzip

import pytest

import amikit
from amikit import EventLog
from amikit.errors import ProtocolError
from amikit.jsonl import record_message
from amikit.message import is_stream_event
from amikit.protocol import parse_recording
from amikit.sim import replay_source
from amikit.sim.replay_source import Recording, RecordingError
from tests.conftest import capture_bytes

SOURCES = {
    "rawman": "busy/rawman_waitevent_stream_part1.txt",
    "mxml": "busy/mxml_waitevent_stream_part1.xml",
    "tcp": "10_tcp_5038/04_events_originate_list_logoff.s2c.bin",
    "html": "05_originate/manager_html_waitevent/003_waitevent_1.body.bin",
}


def events_of(recording: Recording, start: int = 0) -> list:
    return [r for batch in recording.batches(start) for r in batch.events]


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_the_events_are_read_events_events(kind):
    data = capture_bytes(SOURCES[kind])
    recording = Recording(data)
    assert recording.kind == ("rawman" if kind == "tcp" else kind)
    got = events_of(recording)
    expected = [m for m in parse_recording(data) if is_stream_event(m)]
    # a recorded session's list replies were written to it alone: their items are no events
    # of the PBX (04's CoreShowChannels answered with two items and its Complete)
    lists = {m["ActionID"] for m in parse_recording(data)
             if m.get("EventList", "").lower() == "start" and "Response" in m}
    items = [m for m in expected if m.get("ActionID") in lists]
    assert (len(items) > 0) == (kind == "tcp")
    expected = [m for m in expected if m.get("ActionID") not in lists]
    assert [r.event.headers for r in got] == [m.headers for m in expected]
    assert len(got) == len(amikit.read_events(data)) - len(items)


def test_each_event_has_its_timestamp_and_the_tail_gives_the_last():
    data = capture_bytes(SOURCES["rawman"])
    recording = Recording(data)
    got = events_of(recording)
    assert [r.at for r in got] == [float(r.event["Timestamp"]) for r in got]
    frame = amikit.read_events(data)
    assert recording.first_time == pytest.approx(frame["Timestamp"].iloc[0].timestamp(), abs=1e-6)
    assert recording.last_time == pytest.approx(frame["Timestamp"].max().timestamp(), abs=1e-6)


def test_json_lines_and_gzip(tmp_path):
    messages = parse_recording(amikit.sample_recording())
    log = EventLog(messages)
    path = log.to_jsonl(tmp_path / "originate.jsonl")
    recording = Recording(path)
    assert recording.kind == "jsonl"
    got = events_of(recording)
    lines = [record_message(line, n) for n, line in enumerate(path.read_bytes().split(b"\n"), 1)
             if line.strip()]
    assert [r.event.headers for r in got] == [m.headers for m in lines]
    packed = tmp_path / "originate.jsonl.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    squeezed = Recording(packed)
    assert squeezed.compressed and squeezed.kind == "jsonl"
    assert [r.event.headers for r in events_of(squeezed)] == [r.event.headers for r in got]
    assert squeezed.last_time == recording.last_time


def test_events_without_a_timestamp_take_the_time_received_or_the_one_before(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"headers": [["Event", "A"]], "received_at": null}\n'
                    '{"headers": [["Event", "B"]], "received_at": 5.5}\n'
                    '{"headers": [["Event", "C"]], "received_at": null}\n'
                    '{"headers": [["Event", "D"], ["Timestamp", "7.25"]], "received_at": 9}\n')
    assert [(r.event.name, r.at) for r in events_of(Recording(path))] == [
        ("A", None), ("B", 5.5), ("C", 5.5), ("D", 7.25)]


@pytest.mark.parametrize("kind", ["rawman", "mxml"])
def test_reading_again_from_any_resume_point_gives_the_rest(kind, monkeypatch):
    monkeypatch.setattr(replay_source, "CHUNK", 64 * 1024)  # many batches from a small file
    recording = Recording(capture_bytes(SOURCES[kind]))
    batches = list(recording.batches())
    assert len(batches) > 10
    everything = [r.event.headers for b in batches for r in b.events]
    for batch in batches[:-1:max(1, len(batches) // 5)]:
        rest = [r.event.headers for r in events_of(recording, batch.resume)]
        index = sum(len(b.events) for b in batches[:batches.index(batch) + 1])
        assert rest == everything[index:]


def test_what_cannot_be_replayed_is_said(tmp_path):
    with pytest.raises(RecordingError, match="no recording at"):
        Recording(tmp_path / "nope.rawman")
    blank = tmp_path / "blank.rawman"
    blank.write_bytes(b"\r\n\r\n")
    with pytest.raises(RecordingError, match="empty"):
        Recording(blank)
    with pytest.raises(RecordingError, match="no events"):
        Recording(b"Response: Success\r\nMessage: Authentication accepted\r\n\r\n")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"headers": [["Event", "A"]]}\nnot json\n')
    with pytest.raises(ProtocolError, match="record at byte 30 is not an amikit event"):
        events_of(Recording(bad))
    cut = capture_bytes(SOURCES["mxml"])[:5000]
    with pytest.raises(ProtocolError, match="ends inside a document"):
        events_of(Recording(cut))
    assert isinstance(RecordingError("x"), ValueError)
