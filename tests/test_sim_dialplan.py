from __future__ import annotations

import pathlib

import pytest

from amikit import parse_rawman
from amikit.sim.config import read_conf
from amikit.sim.dialplan import Dialplan, evaluate, split_args, substitute

PLAN = """
[globals]
G=1
[from]
include => to
exten => 100,1(start),NoOp(a)
 same => n,Goto(start)
exten => _1XX,1,NoOp(pattern ${EXTEN})
[to]
exten => 200,1,Hangup()
"""


def test_parse_find_labels_includes_patterns():
    plan = Dialplan.parse(read_conf(PLAN))
    assert plan.globals == {"G": "1"}
    assert plan.find("from", "100", 1).label == "start"
    assert plan.label("from", "100", "start") == 1
    assert plan.find("from", "100", 2).app == "Goto"
    assert plan.find("from", "150", 1).data == "pattern ${EXTEN}"
    assert plan.find("from", "200", 1).app == "Hangup", "found through include"
    assert plan.find("from", "300", 1) is None and not plan.exists("nosuch", "1")


@pytest.mark.parametrize(("expr", "value"), [
    ("1 + 2 * 3", "7"), ("(1 + 2) * 3", "9"), ("7 / 2", "3"), ("7 % 4", "3"),
    ("2 > 1", "1"), ("2 < 1", "0"), ("a = a", "1"), ("a != b", "1"), ("0 | 5", "5"),
    ("1 & 0", "0"), ("", ""), ("1 / 0", "0"), ("-3 + 1", "-2"),
])
def test_evaluate(expr, value):
    assert evaluate(expr) == value


def test_substitute_nested_and_functions():
    values = {"A": "x", "GLOBAL(N)": "4", "CALLERID(num)": "100"}
    assert substitute("${A}-$[${GLOBAL(N)} + 1]-${CALLERID(num)}-${MISSING}", values.get) == \
        "x-5-100-"


def test_split_args():
    assert split_args('TestEvent,Key1: Value1,Key2: "a, b" & <c>') == [
        "TestEvent", "Key1: Value1", 'Key2: "a, b" & <c>']
    assert split_args("Local/1@x/n,20") == ["Local/1@x/n", "20"]


def test_show_lists_priorities():
    lines = Dialplan.parse(read_conf(PLAN)).show("to")
    assert lines[0] == "[ Context 'to' created by 'pbx_config' ]"
    assert "1. Hangup()" in lines[1]


def test_dialplan_show_of_an_extension_is_what_asterisk_prints():
    # 04_lists/rawman/011_command_dialplan_show_300: `dialplan show 300@sets` on the lab's
    # extensions.conf, every Output line compared byte for byte
    captures = pathlib.Path(__file__).parent / "captures"
    conf = captures / "conf" / "extensions.conf"
    plan = Dialplan.parse(read_conf(conf.read_text(), str(conf)), str(conf))
    body = (captures / "04_lists/rawman/011_command_dialplan_show_300.body.bin").read_bytes()
    expected = parse_rawman(body)[0].getall("Output")
    assert len(expected) == 13 and plan.show("sets", "300") == expected
    assert plan.show("sets", "nope") is None and plan.show("nosuchcontext") is None
