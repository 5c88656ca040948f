from __future__ import annotations

import inspect

from amikit import errors


def test_every_error_is_an_amierror_and_drawn_in_the_tree():
    doc = errors.__doc__ or ""
    for name, obj in inspect.getmembers(errors, inspect.isclass):
        if issubclass(obj, Exception) and obj.__module__ == errors.__name__:
            assert issubclass(obj, errors.AMIError), name
            assert name in doc, f"{name} missing from the tree in the docstring"


def test_value_errors_are_also_value_errors():
    assert issubclass(errors.InvalidAction, ValueError)
    assert issubclass(errors.InvalidSetting, ValueError)
    assert issubclass(errors.PermissionDenied, errors.ActionFailed)


def test_action_failed_includes_the_server_message():
    err = errors.ActionFailed("Hangup", "No such channel")
    assert "No such channel" in str(err) and err.message == "No such channel"
