"""Every parser and encoder on arbitrary input: only AMIError, never a crash (issue 12).

Bounded in CI (Hypothesis's default: 100 examples a test; ``--hypothesis-profile=ci`` runs
200); a long run on demand::

    pytest tests/test_fuzz.py --hypothesis-profile=long

(``--hypothesis-profile`` needs the profile registered before the tests load, so the
profiles live in ``tests/conftest.py``.)
"""

from __future__ import annotations

import io

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amikit import StreamReader, encode_action, parse_rawman, read_events
from amikit.errors import AMIError, InvalidAction
from amikit.mxml import parse_manager_html, parse_mxml
from amikit.protocol import parse_recording
from tests.conftest import FUZZ_PROFILES

# bytes that reach the parsers' odd corners more often than uniform bytes would
_PIECES = [b"\r\n", b"\n", b"\r\n\r\n", b": ", b":", b"Event: ", b"Response: Follows\r\n",
           b"--END COMMAND--", b"Timestamp: ", b"Cause: ", b"1e300", b"99999999999999999999",
           b"\xff", b"\xc3", b"\xe2\x80\xa8", b"<ajax-response>", b"<response type='object'>",
           b"<generic event='X' />", b"</response>", b"</ajax-response>", b"<tr><td>",
           b"</td></tr>", b"<hr>", b"<![x]>", b"<!--", b"<a ", b"Asterisk Call Manager/1\r\n",
           b'{"headers": [["Event", "X"]]}\n', b"\x00", b"Variable: ", b","]
amis = st.lists(st.one_of(st.sampled_from(_PIECES), st.binary(max_size=12)),
                max_size=40).map(b"".join)
_WORDS = [b"Event", b"Timestamp", b"Cause", b"ChannelState", b"Variable", b"Output", b"X",
          b"Response", b"ActionID", b"Secret", b"\xff", b""]
_VALUES = [b"1", b"-1", b"1e300", b"inf", b"nan", b"99999999999999999999", b"1.5", b"Follows",
           b"\xff\xfe", b"\xed\xa0\x80", b"\xe2\x80\xa8", b"Bob,X=1", b"", b"--END COMMAND--"]
_header = st.tuples(st.one_of(st.sampled_from(_WORDS), st.binary(max_size=6)),
                    st.one_of(st.sampled_from(_VALUES), st.binary(max_size=8)))
# messages shaped like AMI (an Event line, headers, a blank line), with hostile values
_message = st.tuples(st.sampled_from(_WORDS + [b"Newchannel"]), st.lists(_header, max_size=6)).map(
    lambda m: b"Event: " + m[0] + b"\r\n" + b"".join(n + b": " + v + b"\r\n" for n, v in m[1])
    + b"\r\n")
shaped = st.lists(_message, min_size=1, max_size=6).map(b"".join)
data = st.one_of(st.binary(max_size=400), amis, shaped)


def _only_ami_errors(parse, raw):
    try:
        return parse(raw)
    except AMIError:
        return None


@given(data)
def test_parse_rawman_never_raises(raw):
    parse_rawman(raw)
    parse_rawman(raw.decode("utf-8", "surrogateescape"))


@given(data)
def test_parse_mxml_raises_only_ami_errors(raw):
    _only_ami_errors(parse_mxml, raw)


@given(data)
def test_parse_manager_html_raises_only_ami_errors(raw):
    _only_ami_errors(parse_manager_html, raw)


@given(data)
def test_parse_recording_raises_only_ami_errors(raw):
    _only_ami_errors(parse_recording, raw)


@given(data, st.lists(st.integers(1, 64), min_size=1, max_size=20))
def test_stream_reader_gives_the_same_messages_under_any_chunking(raw, sizes):
    whole = StreamReader()
    expected = whole.feed(raw) + whole.close()
    reader, got, pos, i = StreamReader(), [], 0, 0
    while pos < len(raw):
        size = sizes[i % len(sizes)]
        got += reader.feed(raw[pos:pos + size])
        pos, i = pos + size, i + 1
    got += reader.close()
    assert got == expected
    assert reader.banner == whole.banner


@given(data)
def test_read_events_gives_a_frame_or_an_ami_error(raw):
    df = _only_ami_errors(read_events, raw)
    if df is not None:
        assert isinstance(df, pd.DataFrame)
        df.to_parquet(io.BytesIO(), index=False)  # whatever came in, the frame can be stored


# any code point, lone surrogates included (what text decoded from bad bytes may hold)
_any = st.one_of(st.characters(exclude_categories=()),
                 st.sampled_from(["\ud800", "\udcff", "\udfff", ",", "=", "\u2028", "\r"]))


def _texts(max_size: int) -> st.SearchStrategy[str]:
    # joined by hand: st.text() leaves lone surrogates out whatever the alphabet
    return st.lists(_any, max_size=max_size).map("".join)


names = st.one_of(st.sampled_from(["Variable", "Channel", "ActionID"]), _texts(12))
values = st.one_of(_texts(20), st.integers(), st.booleans(), st.none(),
                   st.dictionaries(_texts(6), _texts(6), max_size=3))


def _wire(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


_tokens = st.sampled_from(["Variable", "Channel", "ActionID", "Data", "variable"])
headers = st.one_of(st.dictionaries(_tokens, values, max_size=4),
                    st.dictionaries(names, values, max_size=5))


@given(st.one_of(st.sampled_from(["Originate", "Hangup"]), names), headers)
def test_encode_action_refuses_or_gives_bytes_that_parse_back(name, headers):
    try:
        encoded = encode_action(name, headers)
    except InvalidAction:
        return
    [msg] = parse_rawman(encoded)
    assert msg["Action"] == name
    spellings = [h.lower() for h in headers]
    for header, value in headers.items():
        if isinstance(value, str) and header.lower() != "action" and spellings.count(
                header.lower()) == 1:
            # compared as bytes: surrogate escapes that form UTF-8 come back as characters
            assert [_wire(v) for v in msg.getall(header)] == [_wire(value)]


@pytest.mark.parametrize("name", sorted(FUZZ_PROFILES))
def test_the_profiles_are_registered(name):
    assert settings.get_profile(name).deadline is None
