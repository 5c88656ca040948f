"""The simulator's ``manager show ...`` texts are the ones a real Asterisk 23.4.1 sent.

The expected lines come from the recorded ``Command`` replies (``12_discovery``), copied
byte for byte into ``tests/captures/12_discovery`` (test_captures.py checks every copy
against the captures' SHA-256 list).
"""

from __future__ import annotations

import ast
import html
import pathlib
import re
from collections.abc import Callable

import pytest

from amikit.sim import helptext
from tests.conftest import CAPTURES

REPO_COPY = CAPTURES / "12_discovery"

# (function, its argument or None, the recording's label)
RECORDED = [
    (helptext.command_help, "Originate", "001_manager_show_command_Originate"),
    (helptext.command_help, "Redirect", "002_manager_show_command_Redirect"),
    (helptext.command_help, "Hangup", "003_manager_show_command_Hangup"),
    (helptext.command_help, "WaitEvent", "004_manager_show_command_WaitEvent"),
    (helptext.event_help, "Newchannel", "005_manager_show_event_Newchannel"),
    (helptext.event_help, "Hangup", "006_manager_show_event_Hangup"),
    (helptext.events_listing, None, "007_manager_show_events"),
    (helptext.commands_listing, None, "008_manager_show_commands"),
]
IDS = [label for _, _, label in RECORDED]


def rawman_output(body: bytes) -> list[str]:
    """The ``Output:`` values of a rawman Command reply, exactly as sent."""
    message = body.decode("utf-8").split("\r\n\r\n")[0]
    head, *lines = message.split("\r\n")
    assert head == "Response: Success"
    assert lines[0] == "Message: Command output follows"
    assert all(line.startswith("Output: ") for line in lines[1:])
    return [line[len("Output: "):] for line in lines[1:]]


def mxml_output(body: bytes) -> list[str]:
    """The ``output``, ``output-2``, ... attribute values of an mxml Command reply."""
    values = re.findall(r" output(?:-\d+)?='([^']*)'", body.decode("utf-8"))
    return [html.unescape(value) for value in values]


def produced(function: Callable[..., list[str] | None], argument: str | None) -> list[str] | None:
    return function() if argument is None else function(argument)


@pytest.mark.parametrize(("function", "argument", "label"), RECORDED, ids=IDS)
def test_recorded_text_is_returned_line_for_line(function, argument, label):
    expected = rawman_output((REPO_COPY / f"{label}.rawman.body.bin").read_bytes())
    assert produced(function, argument) == expected


@pytest.mark.parametrize(("function", "argument", "label"), RECORDED, ids=IDS)
def test_the_mxml_recording_has_the_same_lines_trimmed(function, argument, label):
    # mxml trims each value; same count and order confirms no line was lost or split.
    lines = produced(function, argument)
    assert lines is not None
    expected = mxml_output((REPO_COPY / f"{label}.mxml.body.bin").read_bytes())
    assert [line.strip() for line in lines] == expected


def test_recorded_lines_keep_their_spaces():
    originate = helptext.command_help("Originate")
    assert originate is not None
    assert originate[:5] == ["", "  -= Info about Manager Command 'Originate' =- ", "", "[Synopsis]",
                             "Originate a call. "]
    assert "Action: Originate" in originate
    assert originate[-1] == ""
    assert "  SendText                     Sends a text message to channel. A content type\tc" \
        in helptext.commands_listing()
    assert helptext.events_listing()[-1] == "171 events registered."


@pytest.mark.parametrize("spelling", ["hangup", "HANGUP", "hAnGuP", " Hangup "])
def test_lookup_is_case_insensitive(spelling):
    assert helptext.command_help(spelling) == helptext.command_help("Hangup")
    assert helptext.event_help(spelling) == helptext.event_help("Hangup")
    assert helptext.command_help(spelling, "Ignored for a recorded action.") == \
        helptext.command_help("Hangup")


def test_an_unrecorded_action_gets_the_fallback_layout():
    assert helptext.command_help("CoreStatus", "Show PBX core status variables.", "system,reporting,all") == [
        "",
        "  -= Info about Manager Command 'CoreStatus' =- ",
        "",
        "[Synopsis]",
        "Show PBX core status variables. ",
        "",
        "[Syntax]",
        "Action: CoreStatus",
        "[ActionID:] <value>",
        "",
        "[Arguments]",
        "",
        "ActionID",
        "    ActionID for this transaction. Will be returned.",
        "",
        "[Privilege]",
        "system,reporting,all",
        "",
    ]


def test_the_fallback_follows_the_recorded_layout():
    # Every line the fallback writes outside its own content is a line of the recorded texts.
    fallback = helptext.command_help("Ping", "Keepalive command. ")
    assert fallback is not None
    assert fallback[4] == "Keepalive command. "  # one trailing space, not two
    assert "[Privilege]" not in fallback
    recorded = helptext.command_help("WaitEvent")
    assert recorded is not None
    assert fallback[:4] == [line.replace("WaitEvent", "Ping") for line in recorded[:4]]
    syntax = recorded.index("[Syntax]")
    assert fallback[6:9] == [line.replace("WaitEvent", "Ping") for line in recorded[syntax:syntax + 3]]
    arguments = recorded.index("[Arguments]")
    assert fallback[10:15] == recorded[arguments:arguments + 5]
    assert helptext.command_help("Ping", "")[4] == "Not available"


def test_unknown_names():
    assert helptext.command_help("FooBarBaz") is None
    assert helptext.event_help("FooBarBaz") is None
    assert helptext.event_help("Newstate") is None  # in Asterisk, but not recorded


def test_callers_cannot_change_the_texts():
    lines = helptext.command_help("Originate")
    assert lines is not None
    lines.clear()
    helptext.commands_listing().clear()
    assert helptext.command_help("Originate")
    assert helptext.commands_listing()


def test_no_client_knowledge():
    # The simulator speaks from Asterisk's recordings, never from the client's catalog.
    tree = ast.parse(pathlib.Path(helptext.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names}
    assert not {name for name in imported if name and name.startswith(("amikit.actions", "amikit.client"))}
