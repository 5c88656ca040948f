from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amikit import Message, parse_manager_html, parse_mxml
from amikit.errors import AMIError, ProtocolError
from amikit.headernames import mangle


def doc(*elements: str) -> bytes:
    inner = "".join(f"<response type='object' id='unknown'><generic {e} /></response>\n"
                    for e in elements)
    return f"<ajax-response>\n{inner}</ajax-response>\n".encode()


def test_names_restored_and_repeats_folded_in_order():
    (msg,) = parse_mxml(doc("response='Success' actionid='c1' message='Command output follows' "
                            "output='line 1' output-2='line 2' output-3='line 3'"))
    assert msg.headers == [("Response", "Success"), ("ActionID", "c1"),
                           ("Message", "Command output follows"), ("Output", "line 1"),
                           ("Output", "line 2"), ("Output", "line 3")]


def test_event_specific_spellings_and_unknown_names():
    cel, chan = parse_mxml(doc("event='CEL' calleridnum='101' uniqueid='1.1' x_custom='v'",
                               "event='Newchannel' calleridnum='101' uniqueid='1.1'"))
    assert [n for n, _ in cel.headers] == ["Event", "CallerIDnum", "UniqueID", "x_custom"]
    assert [n for n, _ in chan.headers] == ["Event", "CallerIDNum", "Uniqueid"]


def test_entities_and_ajax_parameters():
    body = (b"<ajax-response>\n<response type='object' id='myDest'><myObj response='Success' "
            b"value='value with spaces &amp; &lt;xml&gt; &apos;q&apos; &quot;dq&quot;' />"
            b"</response>\n</ajax-response>\n")
    (msg,) = parse_mxml(body)
    assert msg["Value"] == "value with spaces & <xml> 'q' \"dq\""


def test_several_documents_and_empty_ones():
    data = doc("event='A'") + b"<ajax-response>\n</ajax-response>\n" + doc("event='B'", "event='C'")
    assert [m.name for m in parse_mxml(data)] == ["A", "B", "C"]
    assert parse_mxml(b"") == [] and parse_mxml(b"<ajax-response>\n</ajax-response>\n") == []


def test_one_bad_element_costs_only_its_own_defect():
    data = doc("event='A' x='1'", "response='Success' output='a' Output='b' output='c'",
               "event='C' v='bell\x07'", "event='D'")
    data = data.replace(b"Output='b' output='c'", b"output='b' output='c'")
    msgs = parse_mxml(data + b"")
    assert [m.name for m in msgs] == ["A", None, "C", "D"]
    assert msgs[1].getall("Output") == ["a", "b", "c"] and msgs[1].defects
    assert msgs[2]["v"] == "bell\x07" and msgs[2].defects
    assert not msgs[0].defects and not msgs[3].defects


def test_invalid_utf8_is_kept_with_a_defect():
    (msg,) = parse_mxml(doc("event='A' calleridname='JosX'").replace(b"JosX", b"Jos\xe9"))
    assert msg["CallerIDName"].encode("utf-8", "surrogateescape") == b"Jos\xe9"
    assert msg.defects


def test_tab_inside_a_value_is_kept():
    (msg,) = parse_mxml(doc("response='Success' output='type\tc'"))
    assert msg["Output"] == "type\tc"


@pytest.mark.parametrize("data", [
    b"Response: Success\r\n\r\n",
    b"<!DOCTYPE HTML PUBLIC>\n<html></html>",
    b"<ajax-response>\n<response type='object' id='x'><generic a='1' />",
    b"<ajax-response>\n<response type='object' id='x'><generic a='1' /></response>\n",
    b"<ajax-response>\nstray text</ajax-response>",
])
def test_not_mxml_raises_a_protocol_error(data):
    with pytest.raises(ProtocolError):
        parse_mxml(data)


def test_truncated_stream_keeps_what_came_before():
    data = doc("event='A'") + b"<ajax-response>\n<response type='object' id='x'><generic b='"
    with pytest.raises(ProtocolError) as info:
        parse_mxml(data)
    assert [m.name for m in info.value.messages] == ["A"]


def test_entity_declarations_cannot_be_smuggled():
    data = (b"<ajax-response>\n<response type='object' id='x'><!DOCTYPE x [<!ENTITY a 'b'>]>"
            b"<generic v='&a;' /></response>\n</ajax-response>\n")
    (msg,) = parse_mxml(data)
    assert msg.defects and "b" not in msg.get("v", "")


@given(st.binary(max_size=1500))
def test_arbitrary_bytes_raise_nothing_but_amierror(data):
    try:
        for msg in parse_mxml(data):
            msg.headers  # noqa: B018
    except AMIError:
        pass


@given(st.binary(max_size=400))
def test_arbitrary_bytes_inside_an_element_never_raise(junk):
    data = b"<ajax-response>\n<response type='object' id='x'><generic " + junk.replace(
        b"</response>", b"") + b" /></response>\n</ajax-response>\n"
    for msg in parse_mxml(data):
        msg.headers  # noqa: B018


# Known header names whose mangled form is not shared with another spelling, so the
# round trip through Asterisk's XML encoding gives them back exactly.
names = st.sampled_from(["Event", "Channel", "ChannelState", "Cause-txt", "Uniqueid", "Linkedid",
                         "Output", "Variable", "ActionID", "Exten", "Context", "Priority"])
text = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), max_size=40)


def xml_translate(msg: Message) -> bytes:
    """What Asterisk's xml_translate writes for one message (for the round trip)."""
    seen: dict[str, int] = {}
    attrs = []
    for name, value in msg.headers:
        seen[name] = seen.get(name, 0) + 1
        suffix = f"-{seen[name]}" if seen[name] > 1 else ""
        escaped = (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                   .replace('"', "&quot;").replace("'", "&apos;"))
        attrs.append(f"{mangle(name)}{suffix}='{escaped}'")
    return (f"<ajax-response>\n<response type='object' id='unknown'><generic {' '.join(attrs)} />"
            "</response>\n</ajax-response>\n").encode()


@given(st.lists(st.tuples(names, text), min_size=1, max_size=12))
def test_asterisk_xml_round_trips(headers):
    msg = Message(headers)
    assert parse_mxml(xml_translate(msg)) == [msg]


# -- /manager HTML -----------------------------------------------------------------------
def test_manager_html_skips_the_form_and_splits_on_hr(captures):
    data = (captures / "05_originate" / "manager_html_waitevent").glob("*waitevent*.body.bin")
    body = sorted(data)[0].read_bytes()
    msgs = parse_manager_html(body)
    assert msgs[0]["Response"] == "Success" and msgs[-1].name == "WaitEventComplete"
    assert all(not m.defects for m in msgs)
    assert all("action" not in m for m in msgs)


def test_manager_html_unescapes_and_notes_truncation():
    page = "<table><tr><td>Value</td><td>&lt;xml&gt; &amp; &apos;q&apos;</td></tr>"
    (msg,) = parse_manager_html(page)
    assert msg["Value"] == "<xml> & 'q'" and msg.defects


@given(st.binary(max_size=800))
def test_manager_html_never_raises(data):
    parse_manager_html(data)


# -- issue 12: hostile pages -------------------------------------------------------------
@pytest.mark.parametrize("page", ["<![x]>", "<![", "<![if]>"])
def test_markup_the_html_parser_asserts_on_is_an_ami_error(page):
    try:
        parse_manager_html(page)
    except AMIError as exc:  # an AssertionError escaped before
        assert isinstance(exc, ProtocolError)


@pytest.mark.parametrize("unit", ["<a ", "<a b=\"", "<!--", "</a "])
def test_unclosed_markup_is_text_and_read_in_linear_time(unit):
    from amikit.mxml import _plain_brackets

    # the standard library's parser re-reads the rest of the page after each of these
    # (quadratic); they are written as text first, so the parser sees none of them
    page = unit * 20_000
    assert "<" not in _plain_brackets(page)
    assert parse_manager_html(page) == []
    row = "<tr><td>Ping</td><td>a <b</td></tr><tr><td colspan='2'><hr></td></tr>"
    assert parse_manager_html(row)[0]["Ping"] == "a <b"
