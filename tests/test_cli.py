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


def test_a_bad_url_is_refused_before_the_secret_is_asked_for(monkeypatch, capsys):
    monkeypatch.delenv("AMIKIT_SECRET", raising=False)

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    def ask(prompt: str) -> str:
        raise AssertionError(f"asked {prompt!r} for a URL that cannot be used")

    monkeypatch.setattr("sys.stdin", Terminal(""))
    monkeypatch.setattr("getpass.getpass", ask)
    assert main(["send", "tcp://127.0.0.1", "Ping", "--user", "hello"]) == 2
    assert "needs a host and a port" in capsys.readouterr().err
    assert main(["send", "tcp://127.0.0.1:5038", "Ping", "--user", "hello",
                 "--auth", "digest"]) == 2
    assert "'plain' or 'md5'" in capsys.readouterr().err


def test_bad_header_syntax(monkeypatch, capsys):
    monkeypatch.setenv("AMIKIT_SECRET", "x")
    assert main(["send", "http://127.0.0.1:8088", "Ping", "NoEquals", "--user", "u"]) == 2


@pytest.mark.parametrize("argv", [["version"]])
def test_version(argv, capsys):
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("amikit ")


def _run_cli(args, env_extra, seconds):
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, **env_extra}
    proc = subprocess.Popen([sys.executable, "-m", "amikit.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(seconds)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    return proc.returncode, out, err


def test_tail_and_record_against_the_simulator(tmp_path):
    from amikit import AMIClient, Simulator, read_events

    with Simulator(port=0, speed=20) as sim:
        env = {"AMIKIT_USER": "hello", "AMIKIT_SECRET": "world-is-secret"}
        import threading

        def make_calls():
            import time

            time.sleep(1.5)
            with AMIClient(sim.url, "hello", "world") as ami:
                for _ in range(3):
                    ami.originate(Channel="Local/900@sets", Application="Wait", Data="1",
                                  Async=True)
                    time.sleep(0.3)

        caller = threading.Thread(target=make_calls)
        caller.start()
        out_file = tmp_path / "session.jsonl"
        code, _, err = _run_cli(["record", sim.url, "-o", str(out_file)],
                                {**env, "AMIKIT_SECRET": "world"}, 4)
        caller.join()
        assert code == 0 and "events recorded" in err
        df = read_events(out_file)
        assert (df["Event"] == "Newchannel").sum() >= 6
        assert df["received_at"].notna().all()

        caller = threading.Thread(target=make_calls)
        caller.start()
        code, out, err = _run_cli(["tail", sim.url, "--name", "Newchannel"],
                                  {**env, "AMIKIT_SECRET": "world"}, 4)
        caller.join()
        assert code == 0
        assert out.count("Event: Newchannel") >= 6 and "Event: Hangup" not in out
        assert "world" not in out + err.replace("Hello world", "")


def until(condition, what: str, seconds: float = 20) -> None:
    import time

    def holds() -> bool:
        try:
            return bool(condition())
        except RuntimeError:  # a set the simulator's thread changed while it was read
            return False

    deadline = time.monotonic() + seconds
    while not holds():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {seconds} s")
        time.sleep(0.05)


def test_send_and_record_over_tcp(tmp_path, monkeypatch, capsys):
    import os
    import signal
    import subprocess
    import sys

    from amikit import AMIClient, Simulator, read_events

    monkeypatch.setenv("AMIKIT_USER", "hello")
    monkeypatch.setenv("AMIKIT_SECRET", "world")
    with Simulator(port=0, tcp_port=0, speed=20) as sim:
        for auth in ([], ["--auth", "md5"]):
            assert main(["send", sim.tcp_url, "Ping", *auth]) == 0
            out, err = capsys.readouterr()
            assert "Ping: Pong" in out and "world" not in out + err
        assert main(["send", sim.tcp_url, "CoreShowChannels"]) == 0
        assert "EventList: Complete" in capsys.readouterr().out
        assert main(["send", sim.tcp_url, "Ping", "--auth", "digest"]) == 2
        assert "'plain' or 'md5'" in capsys.readouterr().err

        # the calls are placed once the recorder is logged in, and it is stopped once it
        # wrote them: no guessing how long a loaded machine takes to start Python
        out_file = tmp_path / "tcp.jsonl"
        env = {**os.environ, "AMIKIT_USER": "hello", "AMIKIT_SECRET": "world"}
        proc = subprocess.Popen([sys.executable, "-m", "amikit.cli", "record", sim.tcp_url,
                                 "-o", str(out_file)], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            until(lambda: any(x.authenticated for x in list(sim.manager.streams)),
                  "the recorder logged in")
            with AMIClient(sim.tcp_url, "hello", "world") as ami:
                for _ in range(2):
                    ami.originate(Channel="Local/900@sets", Application="Wait", Data="1",
                                  Async=True)
            until(lambda: out_file.exists()
                  and out_file.read_text().count('"Newchannel"') >= 4, "the calls recorded")
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=20)
        assert proc.returncode == 0 and "events recorded" in err
        df = read_events(out_file)
        assert (df["Event"] == "Newchannel").sum() >= 4
        assert df["Event"].iloc[0] == "FullyBooted"  # pushed after the TCP Login


def test_sim_with_traffic_places_callers_in_the_queue():
    import subprocess
    import sys

    from amikit import AMIClient

    proc = subprocess.Popen(
        [sys.executable, "-m", "amikit.cli", "sim", "--port", "0", "--no-tcp", "--speed", "40",
         "--seed", "3", "--traffic", "support:60/min", "--patience", "5", "--pbx-timestamps"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().split(" at ")[-1].strip()
        lines = [proc.stdout.readline() for _ in range(3)]  # login, AMIKIT_URL, traffic
        assert "traffic: 60 calls a minute to queue support (Local/400@sets) until Ctrl-C" \
            in "".join(lines)
        with AMIClient(url, "hello", "world") as ami:
            assert next(ami.events(names=["QueueCallerJoin"]))["Queue"] == "support"
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
    assert proc.returncode == 0


def test_sim_refuses_a_bad_traffic_rate(capsys):
    assert main(["sim", "--port", "0", "--traffic", "support"]) == 2
    out, err = capsys.readouterr()
    assert "support:6/min" in err
    assert "simulated Asterisk" not in out  # refused before the simulator announced itself


def test_sim_says_minutes_and_patience_go_with_traffic():
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "amikit.cli", "sim", "--port", "0", "--no-tcp",
                             "--minutes", "5"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert "go with --traffic" in proc.stderr.readline()
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


@pytest.mark.parametrize("minutes", [[], ["--minutes", "0"]])
def test_sim_traffic_without_minutes_or_0_runs_until_stopped(minutes, capsys):
    import time

    from amikit.cli import _parser, _traffic
    from amikit.sim import Simulator

    args = _parser().parse_args(["sim", "--traffic", "support:120/min", "--patience", "0",
                                 *minutes])
    with Simulator(port=0, speed=40, seed=3) as sim:
        calls = _traffic(sim, args)
        assert "until Ctrl-C" in capsys.readouterr().out
        deadline = time.monotonic() + 20
        while calls.placed < 2:  # at 0 minutes the arrivals used to be over before any came
            assert not calls.done and time.monotonic() < deadline, calls
            time.sleep(0.05)
        calls.stop()
        assert calls.wait(30), calls


@pytest.mark.parametrize(("option", "message"), [
    (["--minutes", "-1"], "--minutes is 0 (until Ctrl-C) or more"),
    (["--patience", "-5"], "--patience is 0 (never give up) or more"),
])
def test_sim_refuses_negative_traffic_minutes_or_patience(option, message, capsys):
    assert main(["sim", "--port", "0", "--no-tcp", "--traffic", "support:6/min", *option]) == 2
    assert message in capsys.readouterr().err


def test_sim_help_says_what_minutes_0_means(capsys):
    with pytest.raises(SystemExit):
        main(["sim", "--help"])
    assert "0: until Ctrl-C" in " ".join(capsys.readouterr().out.split())


def test_replay_serves_a_recording_and_says_when_it_is_done(tmp_path):
    """``amikit replay FILE --speed X --port N``: a client receives the file's events and
    the command says what it plays and when it has finished."""
    import subprocess
    import sys

    from amikit import AMIClient, EventLog, parse_recording

    path = EventLog(parse_recording(amikit.sample_recording())).to_jsonl(tmp_path / "o.jsonl")
    proc = subprocess.Popen(
        [sys.executable, "-m", "amikit.cli", "replay", str(path), "--speed", "max", "--port", "0",
         "--no-tcp", "--timestamps", "original"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().split(" at ")[-1].strip()
        lines = [proc.stdout.readline() for _ in range(3)]  # login, AMIKIT_URL, what plays
        assert lines[1].strip() == f"export AMIKIT_URL={url}"
        assert "at unlimited speed; playback starts at the first login" in lines[2]
        with AMIClient(url, "hello", "world") as ami:
            seen: list = []
            while len(seen) < 611:
                batch = ami.wait_event(5)
                assert batch, f"the replay stopped after {len(seen)} events"
                seen += batch
        assert len(seen) == 611  # the client's own SuccessfulAuth, then the file's 610
        assert "replay finished: 610 events" in proc.stdout.readline()
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err


@pytest.mark.parametrize(("args", "message"), [
    (["replay"], "a FILE or --sample NAME"),
    (["replay", "x.rawman", "--sample", "busy"], "a FILE or --sample NAME"),
    (["replay", "--sample", "busy", "--speed", "0"], "above 0 or max"),
    (["replay", "--sample", "busy", "--from", "9999"], "the recording runs"),
    (["replay", "--sample", "busy", "--speed", "fast"], "above 0 or max"),
    (["replay", "/nonexistent/x.rawman"], "no recording at"),
    (["replay", "--sample", "busy", "--from", "later"], "not a time in the recording"),
])
def test_replay_refuses_what_it_cannot_play(args, message, capsys):
    assert main([*args, "--port", "0", "--no-tcp"]) == 2
    assert message in capsys.readouterr().err
