from __future__ import annotations

import pytest

from amikit.headernames import mangle, restore


@pytest.mark.parametrize(("name", "mangled"), [
    ("Cause-txt", "cause_txt"), ("CID-CallingPres", "cid_callingpres"),
    ("Category-000000", "category_000000"), ("Line-000000-000001", "line_000000_000001"),
    ("1stKey", "_1stkey"), ("ChannelStateDesc", "channelstatedesc"),
])
def test_mangle_like_xml_translate(name, mangled):
    assert mangle(name) == mangled


@pytest.mark.parametrize("name", ["Cause-txt", "CID-CallingPres", "Category-000003",
                                  "Line-000001-000002", "ChannelStateDesc", "PeerStatus"])
def test_restore_undoes_mangle(name):
    assert restore(mangle(name)) == name


def test_event_specific_spelling():
    assert restore("uniqueid") == "Uniqueid"
    assert restore("uniqueid", event="Cdr") == "UniqueID"
    assert restore("linkedid", event="cel") == "LinkedID"


def test_unknown_names_stay_as_sent():
    assert restore("x_my_header") == "x_my_header"
