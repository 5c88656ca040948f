from __future__ import annotations

import functools
import io
import json
from importlib import resources

import pytest

import amikit.cli
from amikit.cli import main
from tests.conftest import Script, recorded


def test_decode_sample_events_by_name(capsys):
    assert main(["decode", "--sample", "--name", "OriginateResponse"]) == 0
    out = capsys.readouterr().out
    sample = resources.files("amikit").joinpath("data/sample_originate.rawman").read_bytes()
    assert out.count("Event: OriginateResponse\n") == sample.count(b"Event: OriginateResponse\r\n")
    assert "Reason: 4" in out


def test_decode_file_as_json_masks_secrets(tmp_path, capsys):
    path = tmp_path / "rec.txt"
    path.write_bytes(b"Action: Login\r\nUsername: hello\r\nSecret: world\r\n\r\n"
                     b"Event: Hangup\r\nCause: 16\r\n\r\n")
    assert main(["decode", str(path), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["headers"][2] == ["Secret", "********"]
    assert lines[1]["headers"] == [["Event", "Hangup"], ["Cause", "16"]]


def test_decode_reads_mxml_from_stdin(monkeypatch, capsys, captures):
    data = (captures / "01_login/mxml/006_ping.body.bin").read_bytes()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert main(["decode", "-"]) == 0
    assert "Ping: Pong" in capsys.readouterr().out


def test_decode_reports_a_missing_file(capsys):
    assert main(["decode", "/nonexistent/file"]) == 2
    assert "amikit:" in capsys.readouterr().err


def test_send_prints_the_reply_and_never_the_secret(monkeypatch, capsys):
    script = Script([recorded("01_login/rawman/005_login"), recorded("01_login/rawman/006_ping"),
                     recorded("01_login/rawman/013_logoff")])
    monkeypatch.setattr(amikit.cli, "AMIClient",
                        functools.partial(amikit.cli.AMIClient, transport=script.transport))
    monkeypatch.setenv("AMIKIT_SECRET", "world-secret")
    assert main(["send", "http://127.0.0.1:8088", "Ping", "ActionID=ping-1", "--user", "hello"]) == 0
    out, err = capsys.readouterr()
    assert "Ping: Pong" in out and "world-secret" not in out + err
    assert script.params(1)["ActionID"] == "ping-1"


def test_send_without_a_secret_and_no_terminal(monkeypatch, capsys):
    monkeypatch.delenv("AMIKIT_SECRET", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["send", "http://127.0.0.1:8088", "Ping", "--user", "hello"]) == 2
    assert "AMIKIT_SECRET" in capsys.readouterr().err


def test_bad_header_syntax(monkeypatch, capsys):
    monkeypatch.setenv("AMIKIT_SECRET", "x")
    assert main(["send", "http://127.0.0.1:8088", "Ping", "NoEquals", "--user", "u"]) == 2


@pytest.mark.parametrize("argv", [["version"]])
def test_version(argv, capsys):
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("amikit ")
