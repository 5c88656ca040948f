"""Events as typed DataFrames (read_events, events_frame, EventLog)."""

from __future__ import annotations

import fnmatch
import pathlib
import re
import tomllib
from collections import Counter

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amikit import EventLog, Message, events_frame, parse_rawman, read_events, sample_recording
from amikit.errors import ProtocolError
from amikit.protocol import encode_message
from amikit.samples import SAMPLES
from tests.conftest import CAPTURES, capture_bytes

STREAMS = ["busy/rawman_waitevent_stream_part1.txt", "05_originate/rawman/waitevent_stream_concat.txt",
           "07_callfiles/waitevent_stream_concat.txt"]


def same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    for column in a.columns:
        assert a[column].astype(object).equals(b[column].astype(object)), column


@pytest.mark.parametrize("name", STREAMS)
def test_columnar_path_equals_the_message_path(name):
    data = capture_bytes(name)
    same(read_events(data), events_frame(parse_rawman(data)))


def test_one_row_per_event_in_arrival_order():
    data = capture_bytes(STREAMS[0])
    df = read_events(data)
    # counted from the bytes: every queued event has a Privilege line; markers have none
    assert len(df) == data.count(b"\r\nPrivilege: ")
    assert "WaitEventComplete" not in set(df["Event"])
    names = re.findall(rb"\r\n\r\nEvent: (\w+)\r\nPrivilege", b"\r\n\r\n" + data)
    assert df["Event"].astype(str).tolist() == [n.decode() for n in names]


def test_types():
    df = read_events(capture_bytes(STREAMS[1]))
    assert str(df["Timestamp"].dtype) == "datetime64[us, UTC]"
    for name in ("ChannelState", "Priority", "Cause"):
        assert str(df[name].dtype) == "Int64", name
    # Reason is OriginateResponse's number and AgentComplete's word in this stream: kept as text
    data = capture_bytes(STREAMS[1])
    words = re.findall(rb"Event: AgentComplete\r\n(?:[^\r]*\r\n)*?Reason: (\w+)\r\n", data)
    assert words and str(df["Reason"].dtype) in ("str", "category")
    assert df.loc[df["Event"] == "AgentComplete", "Reason"].tolist() == [w.decode() for w in words]
    numbers = read_events(b"Event: OriginateResponse\r\nReason: 4\r\n\r\n")
    assert str(numbers["Reason"].dtype) == "Int64" and numbers.loc[0, "Reason"] == 4
    for name in ("Event", "Privilege", "Context", "ChannelStateDesc", "Language"):
        assert isinstance(df[name].dtype, pd.CategoricalDtype), name
    newchannel = df[df["Event"] == "Newchannel"]
    assert newchannel["Cause"].isna().all(), "absent headers are NA"
    assert (df.loc[df["Event"] == "Hangup", "Cause"] >= 0).all()
    assert list(df.columns[:3]) == ["Event", "Privilege", "Timestamp"]


def test_case_variants_share_one_column():
    df = read_events(capture_bytes(STREAMS[1]))
    assert "UniqueID" not in df and "CallerIDnum" not in df and "LinkedID" not in df
    cel = df[df["Event"] == "CEL"]
    assert cel["Uniqueid"].notna().all() and cel["Linkedid"].notna().all()


def test_local_times_stay_text_unless_a_zone_is_given():
    data = capture_bytes(STREAMS[1])
    df = read_events(data)
    cdr = df[df["Event"] == "Cdr"]
    assert cdr["StartTime"].astype(str).str.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d").all()
    zoned = read_events(data, tz="UTC")
    assert str(zoned["StartTime"].dtype).startswith("datetime64")
    assert zoned.loc[zoned["Event"] == "Cdr", "StartTime"].notna().all()


def test_repeated_headers_become_lists():
    data = (b"Event: Status\r\nPrivilege: call,all\r\nTimestamp: 1.5\r\nVariable: A=1\r\n"
            b"Variable: B=2\r\n\r\nEvent: Status\r\nPrivilege: call,all\r\nTimestamp: 2.5\r\n"
            b"Variable: C=3\r\n\r\nEvent: Other\r\nPrivilege: call,all\r\nTimestamp: 3\r\n\r\n")
    df = read_events(data)
    assert df["Variable"].tolist()[:2] == [["A=1", "B=2"], ["C=3"]]
    assert df["Variable"].isna().tolist() == [False, False, True]
    same(df, events_frame(parse_rawman(data)))


def test_mxml_and_jsonl_sources(tmp_path):
    xml = read_events(CAPTURES / "05_originate/mxml/waitevent_stream_concat.xml")
    raw = read_events(CAPTURES / STREAMS[1])
    for name in ("Newchannel", "Hangup", "OriginateResponse"):  # two sessions, the same calls
        assert (xml["Event"] == name).sum() == (raw["Event"] == name).sum(), name
    assert set(xml.columns) >= {"Event", "Timestamp", "Uniqueid", "Cause-txt"}
    log = EventLog(parse_rawman(sample_recording()))
    path = log.to_jsonl(tmp_path / "events.jsonl")
    same(read_events(path), log.frame())
    parquet = pd.read_parquet(log.to_parquet(tmp_path / "events.parquet"))
    assert len(parquet) == len(log)
    assert (parquet["Event"].astype(str) == log.frame()["Event"].astype(str)).all()


def test_the_default_sample_is_the_originate_recording():
    assert sample_recording() == sample_recording("originate") == capture_bytes(STREAMS[1])
    assert len(read_events(sample_recording()).ami.calls()) == 11


def test_the_busy_sample_is_the_real_busy_capture_as_a_frame():
    data = sample_recording("busy")
    assert data == capture_bytes(STREAMS[0])  # the package ships the capture, byte for byte
    df = read_events(data)
    # An independent reading of the bytes: blocks split on the blank line; an event block
    # starts "Event:", and only WaitEvent's own end marker is not an event of the PBX.
    blocks = [block for block in data.split(b"\r\n\r\n") if block]
    names = [block.split(b"\r\n", 1)[0].removeprefix(b"Event: ").decode()
             for block in blocks if block.startswith(b"Event: ")]
    events = [name for name in names if name != "WaitEventComplete"]
    assert len(df) == len(events) == 7542
    assert df["Event"].value_counts().to_dict() == dict(Counter(events))
    calls = df.ami.calls()
    outcomes = re.findall(rb"Event: OriginateResponse\r\n(?:[^\r]*\r\n)*?Response: (\w+)", data)
    assert len(calls) == len(outcomes) == 108
    assert calls["disposition"].value_counts().to_dict() == {"ANSWERED": outcomes.count(b"Success"),
                                                             "BUSY": outcomes.count(b"Failure")}
    assert df["Timestamp"].max() - df["Timestamp"].min() > pd.Timedelta(minutes=4)


def test_an_unknown_sample_names_the_samples():
    with pytest.raises(ValueError, match="'busy', 'originate'"):
        sample_recording("nope")


def test_every_sample_is_package_data():
    # an installed amikit (not only this checkout) must carry the samples
    config = tomllib.loads((pathlib.Path(__file__).parents[1] / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["amikit"]
    for name in SAMPLES.values():
        assert any(fnmatch.fnmatch(f"data/{name}", pattern) for pattern in patterns), name


def test_bad_jsonl_is_a_protocol_error():
    with pytest.raises(ProtocolError, match="record 2"):
        read_events(b'{"headers": [["Event", "A"]]}\n{"nope": 1}\n')


def test_received_at_and_timestamp_fallback_and_server():
    a = Message([("Event", "Newchannel"), ("Channel", "PJSIP/A-1")])
    a.received_at = 1795675451.5
    b = Message([("Event", "Hangup"), ("Timestamp", "1795675452.000000")])
    b.received_at = 1795675452.25
    df = events_frame([a, b, Message([("Response", "Success")])], server="pbx1")
    assert len(df) == 2 and df["server"].astype(str).tolist() == ["pbx1", "pbx1"]
    assert df["Timestamp"].iloc[0] == pd.Timestamp(1795675451.5, unit="s", tz="UTC")
    assert df["Timestamp"].iloc[1] == pd.Timestamp(1795675452, unit="s", tz="UTC")
    both = pd.concat([df, events_frame([b], server="pbx2")], ignore_index=True)
    assert both["server"].astype(str).tolist() == ["pbx1", "pbx1", "pbx2"]


def test_event_log_is_bounded():
    log = EventLog(max_events=3)
    for i in range(5):
        log.append(Message([("Event", "UserEvent"), ("N", str(i))]))
    log.append(Message([("Response", "Success")]))
    assert len(log) == 3 and log.dropped == 2
    assert log.frame()["N"].astype(str).tolist() == ["2", "3", "4"]
    assert "2 dropped" in repr(log)


def test_empty_inputs():
    assert read_events(b"").empty and events_frame([]).empty
    assert read_events(b"Response: Success\r\n\r\n").empty


names = st.sampled_from(["Event", "Channel", "Uniqueid", "UniqueID", "Linkedid", "Cause",
                         "Cause-txt", "ChannelState", "Variable", "Timestamp", "Context", "X-Custom"])
values = st.text(st.characters(blacklist_characters="\r\n\0", blacklist_categories=("Cs",)),
                 max_size=12)
event_names = st.sampled_from(["Newchannel", "Newstate", "Hangup", "BridgeEnter", "DialEnd",
                               "WaitEventComplete"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(event_names, st.lists(st.tuples(names, values), max_size=8)),
                max_size=12))
def test_any_stream_gives_the_same_frame_both_ways(events):
    data = b"".join(encode_message(Message([("Event", e), *h])) for e, h in events)
    same(read_events(data), events_frame(parse_rawman(data)))


# -- issue 12: real-world bytes ----------------------------------------------------------
def test_bytes_that_are_not_utf8_come_back_visibly_and_go_to_parquet(tmp_path):
    df = read_events(b"Event: X\r\nA: \xff\r\n\xfe: 1\r\n\r\n")
    assert df.loc[0, "A"] == "\\xff" and "\\xfe" in df.columns  # backslash escapes, visible
    msgs = parse_rawman(b"Event: X\r\nA: \xff\r\n\r\n")
    assert events_frame(msgs).loc[0, "A"] == "\\xff"
    log = EventLog(msgs + [Message([("Event", "Y"), ("B", "\ud800")])])
    log.to_parquet(tmp_path / "x.parquet")
    assert pd.read_parquet(tmp_path / "x.parquet")["A"].tolist()[0] == "\\xff"
    log.to_jsonl(tmp_path / "x.jsonl")
    back = read_events(tmp_path / "x.jsonl")
    assert back["A"].tolist()[0] == "\\xff" and back["B"].tolist()[1] == "\\ud800"


@pytest.mark.parametrize("value", ["1e300", "inf", "-inf", "-1e12", "253402300800"])
def test_out_of_range_times_are_nat(value):
    df = read_events(f"Event: X\r\nTimestamp: {value}\r\n\r\n".encode())
    assert df["Timestamp"].isna().all() and str(df["Timestamp"].dtype) == "datetime64[us, UTC]"


@pytest.mark.parametrize("value", ["99999999999999999999999", "1e30", "-1e30", "inf", "1.5",
                                   "9223372036854775808"])
def test_counts_that_are_no_int64_are_missing_never_wrapped(value):
    for df in (read_events(f"Event: X\r\nCause: {value}\r\n\r\n".encode()),
               events_frame([Message([("Event", "X"), ("Cause", value)])])):
        assert df["Cause"].isna().all() and str(df["Cause"].dtype) == "Int64"
    assert read_events(b"Event: X\r\nCause: -17\r\n\r\n").loc[0, "Cause"] == -17


def test_a_received_at_that_is_no_number_is_missing():
    data = b'{"headers": [["Event", "X"]], "received_at": "soon"}\n'
    data += b'{"headers": [["Event", "Y"]], "received_at": 1e300}\n'
    assert read_events(data)["Timestamp"].isna().all()


@pytest.mark.parametrize("char", ["\u2028", "\u2029", "\u0085", "\x0b", "\x0c", "\x1c", "\r"])
def test_a_jsonl_recording_with_line_break_characters_reads_back(tmp_path, char):
    log = EventLog([Message([("Event", "Newchannel"), ("CallerIDName", f"Bob{char}Archive: yes")]),
                    Message([("Event", "Hangup")])])
    back = read_events(log.to_jsonl(tmp_path / "x.jsonl"))
    assert back["CallerIDName"].tolist()[0] == f"Bob{char}Archive: yes"
    assert back["Event"].tolist() == ["Newchannel", "Hangup"]
