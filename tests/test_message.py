from __future__ import annotations

import pytest

from amikit import Message, parse_rawman


def test_headers_keep_wire_order_and_repeats():
    msg = parse_rawman(b"Response: Success\r\nOutput: a\r\nMessage: m\r\nOutput: b\r\n\r\n")[0]
    assert msg.headers == [("Response", "Success"), ("Output", "a"), ("Message", "m"), ("Output", "b")]
    assert msg.getall("output") == ["a", "b"]
    assert msg["OUTPUT"] == "a"


def test_lookup_is_case_insensitive_and_first_value_wins():
    msg = Message([("UniqueID", "1.1"), ("uniqueid", "2.2")])
    assert msg["Uniqueid"] == "1.1"
    assert msg.get("UNIQUEID") == "1.1"
    assert msg.get("missing") is None
    assert msg.get("missing", "x") == "x"
    assert "uniqueID" in msg and "nope" not in msg and 3 not in msg
    with pytest.raises(KeyError):
        msg["nope"]


def test_iteration_and_len_see_each_name_once_in_its_first_spelling():
    msg = Message([("Event", "X"), ("Output", "a"), ("output", "b"), ("Foo", "")])
    assert list(msg) == ["Event", "Output", "Foo"]
    assert len(msg) == 3
    assert dict(msg.items()) == {"Event": "X", "Output": "a", "Foo": ""}


def test_mapping_constructor_repeats_list_values():
    msg = Message({"Action": "Originate", "Variable": ["A=1", "B=2"]})
    assert msg.headers == [("Action", "Originate"), ("Variable", "A=1"), ("Variable", "B=2")]


def test_constructor_refuses_non_text():
    with pytest.raises(TypeError):
        Message([("Priority", 1)])  # type: ignore[list-item]


def test_equality_compares_headers_in_order():
    a = Message([("Event", "Hangup"), ("Cause", "16")])
    assert a == Message([("Event", "Hangup"), ("Cause", "16")])
    assert a != Message([("Cause", "16"), ("Event", "Hangup")])
    assert a != Message([("Event", "Hangup"), ("Cause", "17")])
    assert a != {"Event": "Hangup", "Cause": "16"}
    assert parse_rawman(b"Event: Hangup\r\nCause: 16\r\n\r\n")[0] == a


def test_kinds_and_conveniences():
    event = Message([("Event", "Newchannel"), ("ActionID", "a1")])
    assert event.is_event and not event.is_response and event.name == "Newchannel"
    assert event.action_id == "a1" and not event.ok
    reply = Message([("Response", "Goodbye")])
    assert reply.is_response and reply.ok and reply.name is None
    assert Message([("Response", "Follows")]).ok
    assert not Message([("Response", "Error")]).ok
    action = Message([("Action", "Ping")])
    assert action.is_action and action.name == "Ping"


@pytest.mark.parametrize("name", ["Secret", "secret", "KEY"])
def test_repr_never_shows_secrets(name):
    msg = Message([("Action", "Login"), ("Username", "hello"), (name, "world-pw")])
    assert "world-pw" not in repr(msg)
    assert "world-pw" not in msg._repr_html_()
    assert "hello" in repr(msg)


def test_repr_is_short_for_long_messages():
    msg = Message([(f"H{i}", str(i)) for i in range(30)])
    assert "+24 more" in repr(msg)


def test_events_default_empty_and_settable():
    reply = Message([("Response", "Success")])
    assert reply.events == []
    reply.events = [Message([("Event", "X")])]
    assert reply.events[0].name == "X"


# -- immutable headers, redacted copies ----------------------------------------------------
@pytest.mark.parametrize("msg", [
    Message([("Event", "Hangup"), ("Cause", "16")]),
    parse_rawman(b"Event: Hangup\r\nCause: 16\r\n\r\n")[0],
], ids=["built", "parsed"])
def test_headers_are_an_immutable_tuple(msg):
    headers = msg.headers
    assert isinstance(headers, tuple) and headers == (("Event", "Hangup"), ("Cause", "16"))
    with pytest.raises(AttributeError):
        headers.append(("Cause", "17"))  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        headers[0] = ("Event", "Newchannel")  # type: ignore[index]
    assert msg["cause"] == "16" and msg.getall("Cause") == ["16"] and len(msg) == 2
    # read as before: equal to a list of the same pairs, slices included
    assert headers == [("Event", "Hangup"), ("Cause", "16")] and headers[:1] == [("Event", "Hangup")]
    assert headers != [("Event", "Hangup")] and hash(headers) == hash(tuple(headers))


def test_redacted_masks_secret_and_key_like_the_repr():
    login = Message([("Action", "Login"), ("Username", "hello"), ("Secret", "pw-1"),
                     ("key", "pw-2")], body="text")
    login.received_at = 12.5
    login.events = [Message([("Event", "X"), ("Secret", "pw-3")])]
    copy = login.redacted()
    assert copy.headers == [("Action", "Login"), ("Username", "hello"), ("Secret", "********"),
                            ("key", "********")]
    assert copy.body == "text" and copy.received_at == 12.5
    assert copy.events[0]["Secret"] == "********" and copy.events[0].name == "X"
    assert repr(copy) == repr(login) and "pw-" not in repr(copy) + copy._repr_html_()
    assert login["Secret"] == "pw-1" and login.events[0]["Secret"] == "pw-3", "the original is kept"
    plain = Message([("Event", "Hangup")])
    assert plain.redacted() == plain and plain.redacted() is not plain


def test_secret_header_names_are_written_once():
    """message.SECRET_HEADERS is the one list: no module keeps its own {"secret", "key"}."""
    import ast
    import pathlib

    import amikit

    root = pathlib.Path(amikit.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            strings = [e.value.lower() for e in getattr(node, "elts", None) or ()
                       if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            if sorted(strings) == ["key", "secret"]:
                found.append(f"{path.relative_to(root)}:{node.lineno}")
    assert len(found) == 1 and found[0].startswith("message.py:"), found


def test_a_headers_repr_masks_secrets_so_error_messages_do_not_leak_them():
    login = Message([("Action", "Login"), ("Username", "hello"), ("Secret", "pw"), ("key", "k")])
    shown = f"reply does not start with a Response header: {login.headers[:4]}"
    assert "pw" not in shown and "'k'" not in shown and "hello" in shown
    assert login.headers[2] == ("Secret", "pw")  # the pairs themselves are untouched
