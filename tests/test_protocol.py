from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amikit import Message, StreamReader, encode_action, encode_message, parse_rawman
from amikit.errors import AMIError, InvalidAction
from amikit.protocol import action_headers


# -- parse_rawman ------------------------------------------------------------------------
def test_never_trims_or_recases():
    data = b"Output:   '300' =>   1. Answer()   \r\nAccountCode: \r\nweird-Case:x\r\nEmpty:\r\n\r\n"
    msg = parse_rawman(data)[0]
    assert msg.headers == [
        ("Output", "  '300' =>   1. Answer()   "),
        ("AccountCode", ""),
        ("weird-Case", "x"),
        ("Empty", ""),
    ]


def test_first_colon_splits_name_from_value():
    msg = parse_rawman(b"Extra: {\"a\": 1}\r\nKey: a: b\r\n\r\n")[0]
    assert msg.headers == [("Extra", '{"a": 1}'), ("Key", "a: b")]


def test_bare_lf_inside_a_line_stays_in_the_value():
    data = (b"Response: Error\r\nActionID: cm1\r\n"
            b"Message: CoreShowChannelMap requires a channel.\n\r\n\r\n")
    msg = parse_rawman(data)[0]
    assert msg["Message"] == "CoreShowChannelMap requires a channel.\n"
    assert msg.defects == []


def test_bare_lf_stream():
    msgs = parse_rawman(b"Event: A\nX: 1\n\nEvent: B\n\n")
    assert [m.headers for m in msgs] == [[("Event", "A"), ("X", "1")], [("Event", "B")]]


def test_str_input_and_extra_blank_lines():
    msgs = parse_rawman("Event: A\r\n\r\n\r\n\r\nEvent: B\r\n\r\n")
    assert [m.name for m in msgs] == ["A", "B"]


def test_empty_body_is_no_messages():
    assert parse_rawman(b"") == []


def test_line_without_colon_is_a_defect_not_a_header():
    msg = parse_rawman(b"Response: Success\r\nthis is junk\r\n\r\n")[0]
    assert msg.headers == [("Response", "Success")]
    assert any("junk" in d for d in msg.defects)


def test_unterminated_last_message_is_kept_with_a_defect():
    msgs = parse_rawman(b"Event: A\r\n\r\nEvent: B\r\nX: 1")
    assert msgs[1].headers == [("Event", "B"), ("X", "1")]
    assert msgs[0].defects == [] and msgs[1].defects


def test_undecodable_bytes_are_kept_and_reported():
    data = b"Event: A\r\nCallerIDName: Jos\xe9\r\n\r\nEvent: B\r\n\r\n"
    a, b = parse_rawman(data)
    raw = a["CallerIDName"].encode("utf-8", "surrogateescape")
    assert raw == b"Jos\xe9"
    assert a.defects and not b.defects


def test_legacy_follows_keeps_its_body():
    data = (b"Response: Follows\r\nPrivilege: Command\r\nActionID: c1\r\n"
            b"Channel  Location\nSIP/a-1  s@x:1\n\nDone: 1 active\n--END COMMAND--\r\n\r\n"
            b"Response: Success\r\nPing: Pong\r\n\r\n")
    follows, ping = parse_rawman(data)
    assert follows.headers == [("Response", "Follows"), ("Privilege", "Command"), ("ActionID", "c1")]
    assert follows.body == "Channel  Location\nSIP/a-1  s@x:1\n\nDone: 1 active\n"
    assert follows.ok and ping["Ping"] == "Pong"


def test_legacy_follows_whose_text_holds_a_blank_crlf_line():
    data = (b"Response: Follows\r\nPrivilege: Command\r\nline one\r\n\r\nline three\r\n"
            b"--END COMMAND--\r\n\r\n")
    (msg,) = parse_rawman(data)
    assert msg.body == "line one\r\n\r\nline three\r\n"


# -- the stream reader -------------------------------------------------------------------
def test_stream_reader_keeps_partial_messages_and_multibyte_characters():
    data = "Asterisk Call Manager/12.0.0\r\nEvent: A\r\nName: Zoë ☎\r\n\r\nEvent: B\r\n\r\n".encode()
    for size in (1, 2, 3, 7):
        reader = StreamReader()
        got = []
        for i in range(0, len(data), size):
            got += reader.feed(data[i:i + size])
        got += reader.close()
        assert reader.banner == "Asterisk Call Manager/12.0.0"
        assert [m.headers for m in got] == [[("Event", "A"), ("Name", "Zoë ☎")], [("Event", "B")]]
        assert all(not m.defects for m in got)


def test_stream_reader_without_banner_and_close_flushes_the_rest():
    reader = StreamReader()
    assert reader.feed(b"Event: A\r\n") == []
    rest = reader.close()
    assert rest[0]["Event"] == "A" and rest[0].defects
    assert reader.banner is None


def test_stream_reader_waits_for_the_end_of_a_follows_reply():
    reader = StreamReader()
    assert reader.feed(b"Response: Follows\r\nPrivilege: Command\r\nx\r\n\r\ny\n") == []
    (msg,) = reader.feed(b"--END COMMAND--\r\n\r\n")
    assert msg.body == "x\r\n\r\ny\n"


def test_stream_reader_reads_a_recorded_tcp_session(captures):
    data = (captures / "10_tcp_5038" / "03_events_on_2s_during_busy_run.s2c.bin").read_bytes()
    reader = StreamReader()
    got = []
    for i in range(0, len(data), 1000):
        got += reader.feed(data[i:i + 1000])
    got += reader.close()
    assert reader.banner == "Asterisk Call Manager/12.0.0"
    assert got[0]["Message"] == "Authentication accepted"
    assert got[1].name == "FullyBooted"
    assert [m.headers for m in got] == [m.headers for m in parse_rawman(data.split(b"\r\n", 1)[1])]


# -- encoding ----------------------------------------------------------------------------
def test_encode_action_coerces_values():
    assert encode_action("Originate", {"Channel": "PJSIP/SOFTPHONE_A"}, Priority=1, Async=True,
                         Variable={"A": "1", "B": "two words"}, Account=None) == (
        b"Action: Originate\r\nChannel: PJSIP/SOFTPHONE_A\r\nPriority: 1\r\nAsync: true\r\n"
        b"Variable: A=1\r\nVariable: B=two words\r\n\r\n")


@pytest.mark.parametrize("bad", ["\r", "\n", "\0", "a\r\nEvent: Forged", "x\n"])
@pytest.mark.parametrize("header", ["ActionID", "Channel", "Variable"])
def test_cr_lf_nul_in_any_value_is_refused(bad, header):
    with pytest.raises(InvalidAction) as info:
        action_headers("Originate", {header: f"v{bad}"})
    assert isinstance(info.value, ValueError) and isinstance(info.value, AMIError)
    assert info.value.header == header
    with pytest.raises(InvalidAction):
        action_headers("Originate", {header: ["ok", f"v{bad}"]})


@pytest.mark.parametrize("name", ["", "Bad Name", "Colon:", "Ünï", "new\nline"])
def test_header_names_must_be_tokens(name):
    with pytest.raises(InvalidAction):
        action_headers("Ping", {name: "x"})
    with pytest.raises(InvalidAction):
        action_headers(name, {})


def test_unsendable_value_type_is_refused():
    with pytest.raises(InvalidAction):
        action_headers("Ping", {"ActionID": object()})


# -- properties --------------------------------------------------------------------------
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(data):
    for msg in parse_rawman(data):
        msg.headers, msg.defects  # noqa: B018


token = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!#",
                min_size=1, max_size=20)
value = st.text(st.characters(blacklist_characters="\r\n\0", blacklist_categories=("Cs",)),
                max_size=60)


@given(st.lists(st.tuples(token, value), min_size=1, max_size=15))
def test_encode_then_parse_round_trips(headers):
    msg = Message(headers)
    assert parse_rawman(encode_message(msg)) == [msg]


@given(st.lists(st.lists(st.tuples(token, value), min_size=1, max_size=6), max_size=6),
       st.integers(1, 50))
def test_stream_reader_matches_parse_for_any_chunking(messages, size):
    data = b"".join(encode_message(Message(m)) for m in messages)
    reader = StreamReader()
    got = []
    for i in range(0, len(data), size):
        got += reader.feed(data[i:i + size])
    got += reader.close()
    assert got == parse_rawman(data) == [Message(m) for m in messages]


# -- issue 12: hostile input -------------------------------------------------------------
def _fed(data: bytes, size: int) -> list[Message]:
    reader = StreamReader()
    got = []
    for i in range(0, len(data), size):
        got += reader.feed(data[i:i + size])
    return got + reader.close()


def test_a_message_over_the_limit_is_refused_with_an_ami_error():
    from amikit.errors import ProtocolError
    from amikit.protocol import MAX_MESSAGE

    assert MAX_MESSAGE == 64 * 1024 * 1024
    reader = StreamReader()
    reader.feed(b"Event: Big\r\nOutput: ")
    with pytest.raises(ProtocolError, match="unfinished"):
        reader.feed(b"x" * MAX_MESSAGE)
    # the reader dropped it and reads on
    assert [m.name for m in reader.feed(b"Event: Next\r\n\r\n")] == ["Next"]


def test_the_limit_also_bounds_an_unfinished_follows_reply():
    from amikit.errors import ProtocolError

    reader = StreamReader(max_message=1000)
    reader.feed(b"Response: Follows\r\nPrivilege: Command\r\n")
    with pytest.raises(ProtocolError):
        for _ in range(200):  # 1,600 bytes, blank lines included, and no --END COMMAND--
            reader.feed(b"line\r\n\r\n")


def test_a_long_message_in_small_pieces_gives_what_the_whole_gives():
    line = b"Output: " + b"y" * 50 + b"\r\n"
    data = (b"Event: A\r\n\r\nEvent: Big\r\n" + line * 20_000 + b"\r\n"
            b"Response: Follows\r\nPrivilege: Command\r\n" + b"text\r\n\r\n" * 500
            + b"--END COMMAND--\r\n\r\nEvent: Z\r\n\r\n")
    whole = _fed(data, len(data))
    assert [m.get("Event") or m["Response"] for m in whole] == ["A", "Big", "Follows", "Z"]
    assert whole[2].body == "text\r\n\r\n" * 500
    for size in (1, 7, 4096):
        assert _fed(data, size) == whole


def test_a_follows_reply_of_many_header_like_lines_is_read_whole():
    data = (b"Response: Follows\r\nPrivilege: Command\r\n" + b"ActionID: 1\r\n" * 50_000
            + b"--END COMMAND--\r\n\r\n")
    [msg] = parse_rawman(data)  # in linear time: it took minutes when each line was sliced off
    assert len(msg.headers) == 50_002 and msg.body == ""
    assert _fed(data, 4096) == [msg]


@pytest.mark.parametrize("cut", range(1, 30))
def test_stray_blank_lines_never_make_a_message(cut):
    data = b"Event: A\r\n\r\n\r\n\r\n\r\n\r\nEvent: B\r\n\r\n\r\n"
    expected = [Message([("Event", "A")]), Message([("Event", "B")])]
    assert parse_rawman(data) == expected
    reader = StreamReader()
    got = reader.feed(data[:cut]) + reader.feed(data[cut:]) + reader.close()
    assert got == expected
    assert parse_rawman(b"\r\n\r\n\r\n\r\n\r\n") == []


def test_lone_surrogates_are_refused_and_surrogate_escapes_sent_as_their_bytes():
    with pytest.raises(InvalidAction, match="surrogate"):
        encode_action("Hangup", Channel="PJSIP/\ud800")
    # a channel name read from bytes that are not UTF-8 goes back as those bytes
    name = b"PJSIP/\xff-1".decode("utf-8", "surrogateescape")
    assert b"PJSIP/\xff-1" in encode_action("Hangup", Channel=name)


@pytest.mark.parametrize("value", ["Bob,INJECTED=1,__INHERIT_ME=2", "A=1,B=2", "A,B=1"])
def test_a_variable_with_a_comma_is_refused(value):
    with pytest.raises(InvalidAction, match="one Variable header per variable") as info:
        encode_action("Originate", Variable=value)
    assert isinstance(info.value, AMIError) and info.value.header == "Variable"
    with pytest.raises(InvalidAction):
        encode_action("Originate", Variable={"CALLERID": "Bob,INJECTED=1"})


def test_commas_elsewhere_and_several_variables_are_sent():
    assert b"Variable: A=1\r\nVariable: B=2\r\n" in encode_action("Originate",
                                                                  Variable={"A": "1", "B": "2"})
    assert b"Data: a,b\r\n" in encode_action("Originate", Data="a,b")
