from __future__ import annotations

import pytest

from amikit.actions import CATALOG, canonical_headers, check_required, parse_list_commands
from amikit.errors import InvalidAction
from amikit.protocol import parse_rawman


def test_book_originate_table_is_in_the_catalog():
    spec = CATALOG["originate"]
    for header in ("ActionID", "Channel", "Context", "Exten", "Priority", "Application", "Data",
                   "Timeout", "CallerID", "Account", "Variable", "Codecs", "EarlyMedia", "Async"):
        assert header in spec.headers


def test_canonical_headers_keep_unknown_names_and_refuse_doubles():
    assert canonical_headers("Redirect", {"extrachannel": "x", "Custom": 1}) == {
        "ExtraChannel": "x", "Custom": 1}
    assert canonical_headers("NoSuchAction", {"foo": 1}) == {"foo": 1}
    with pytest.raises(InvalidAction):
        canonical_headers("Originate", {"channel": "a", "Channel": "b"})


@pytest.mark.parametrize(("action", "headers"), [
    ("Originate", {"Channel": "PJSIP/A", "Application": "Wait"}),
    ("Originate", {"Channel": "PJSIP/A", "Exten": "103", "Context": "sets", "Priority": 1}),
    ("Ping", {}),
    ("Unknown", {}),
])
def test_complete_actions_pass(action, headers):
    check_required(action, headers)


@pytest.mark.parametrize(("action", "headers", "missing"), [
    ("Originate", {"Exten": "103", "Context": "sets", "Priority": 1}, "Channel"),
    ("Originate", {"Channel": "PJSIP/A", "Exten": "103"}, "Exten+Context+Priority"),
    ("Originate", {"Channel": "PJSIP/A", "Application": ""}, "Application"),
    ("Hangup", {"Channel": None}, "Channel"),
    ("Getvar", {}, "Variable"),
])
def test_incomplete_actions_are_refused(action, headers, missing):
    with pytest.raises(InvalidAction, match=missing.replace("+", r"\+")):
        check_required(action, headers)


def test_parse_list_commands_on_the_real_reply(captures):
    reply = parse_rawman((captures / "04_lists/rawman/006_listcommands.body.bin").read_bytes())[0]
    actions = parse_list_commands(reply)
    assert len(actions) == len(reply.headers) - 2 == 89  # all but Response and ActionID
    assert actions["Ping"].privilege == ()
    assert actions["Originate"].privilege == ("originate", "all")
    assert actions["Hangup"].synopsis == "Hangup channel."


def test_the_catalog_holds_only_what_the_client_uses():
    """Write classes live in amikit.sim.perms alone; the simulator never reads the client's catalog."""
    import ast
    import dataclasses
    import pathlib

    import amikit.sim
    from amikit.actions import ActionSpec

    assert [f.name for f in dataclasses.fields(ActionSpec)] == ["name", "headers", "required", "one_of"]
    imported = set()
    for path in pathlib.Path(amikit.sim.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
                imported.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    assert not {"amikit.actions", "amikit.client", "amikit.session"} & imported


@pytest.mark.parametrize(("text", "mask"), [("on", 0x7FFFFFFF), ("No", 0), ("yes", 0x7FFFFFFF),
                                           ("off", 0), ("call,user", 2 | 64), ("7", 7)])
def test_event_masks_use_asterisks_yes_and_no_words(text, mask):
    from amikit.sim.manager_actions import event_mask

    assert event_mask(text, 0x7FFFFFFF) == mask
