"""Call files: build, check, parse, place atomically; the simulator runs them."""

from __future__ import annotations

import datetime as dt
import os
import threading
import time

import pytest

from amikit import AMIClient, CallFile, Simulator, callfile, spool_status
from amikit.errors import AMIError, CallFileError


def test_every_real_call_file_round_trips(captures):
    files = sorted((captures / "07_callfiles").glob("*/*.call"))
    assert len(files) >= 9
    for path in files:
        text = path.read_text()
        call = CallFile.parse(text)
        assert CallFile.parse(call.render()) == call
        body = text.split("\n\n")[0] + "\n"  # what was written, before Asterisk's lines
        assert {line.lower() for line in call.render().splitlines()} == {
            line.lower().replace("setvar:", "set:") for line in body.splitlines() if line}


def test_archived_copies_give_attempts_and_status(captures):
    done = captures / "07_callfiles" / "outgoing_done"
    ok = CallFile.parse((done / "cf1_exten.call").read_text())
    assert ok.status == "Completed" and len(ok.attempts) == 1
    assert ok.attempts[0].pid == 1870 and ok.attempts[0].ended is None
    assert ok.attempts[0].next_retry == dt.datetime.fromtimestamp(1795675849, dt.UTC)
    busy = CallFile.parse((done / "cf4_busy_retry.call").read_text())
    assert busy.status == "Expired" and [a.number for a in busy.attempts] == [1, 2]
    assert busy.attempts[0].ended == dt.datetime.fromtimestamp(1795675549, dt.UTC)
    assert busy.attempts[1].ended is None, "no EndRetry follows the last attempt"


def test_render_spellings_defaults_and_escapes():
    call = CallFile("PJSIP/SOFTPHONE_A", extension=103, callerid='"Desk" <200>', wait_time=20,
                    max_retries=2, retry_time=60, account="acct; 42",
                    variables={"FOO": "bar", "__INHERIT": "x", "CDR(userfield)": "u"},
                    codecs=["ulaw", "alaw"], early_media=True, archive=True, always_delete=False)
    text = call.render()
    assert "Context: default\nExtension: 103\nPriority: 1\n" in text
    assert "Set: FOO=bar\nSet: __INHERIT=x\nSet: CDR(userfield)=u\n" in text
    assert "early_media: yes\n" in text and "Codecs: ulaw,alaw\n" in text
    assert "Account: acct\\; 42\n" in text, "';' would start a comment"
    assert CallFile.parse(text) == call
    app = CallFile("Local/201@sets", application="Playback", data="hello-world")
    assert "Application: Playback\nData: hello-world\n" in app.render()


def test_parse_accepts_what_asterisk_accepts():
    text = ("# a comment\nCHANNEL: Local/1@sets ; trailing\ncontext: sets\nEXTENSION: 100\n"
            "priority: 2\nSetVar: A=1\nUnknownKey: ignored\nData: a\\;b\n")
    call = CallFile.parse(text)
    assert (call.channel, call.context, call.extension, call.priority) == ("Local/1@sets",
                                                                           "sets", "100", 2)
    assert call.variables == {"A": "1"}
    both = CallFile.parse("Channel: Local/1@x\nExtension: 1\nApplication: Wait\nData: 1\n")
    assert both.application == "Wait" and both.extension is None


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"channel": ""}, "channel"),
    ({"channel": "SOFTPHONE_A"}, "channel"),
    ({"channel": "PJSIP/"}, "channel"),
    ({"channel": "PJSIP/A"}, "extension"),
    ({"channel": "PJSIP/A", "extension": "1", "application": "Wait"}, "application"),
    ({"channel": "PJSIP/A", "application": "Wait", "context": "sets"}, "context"),
    ({"channel": "PJSIP/A", "extension": "1", "priority": "n"}, "priority"),
    ({"channel": "PJSIP/A", "extension": "1", "priority": 0}, "priority"),
    ({"channel": "PJSIP/A", "extension": "1", "wait_time": "soon"}, "wait_time"),
    ({"channel": "PJSIP/A", "extension": "1", "max_retries": -1}, "max_retries"),
    ({"channel": "PJSIP/A", "extension": "1", "retry_time": True}, "retry_time"),
    ({"channel": "PJSIP/A\nChannel: PJSIP/B", "extension": "1"}, "channel"),
    ({"channel": "PJSIP/A", "extension": "1", "callerid": "x\r"}, "callerid"),
    ({"channel": "PJSIP/A", "application": "Wait", "data": "a\0"}, "data"),
    ({"channel": "PJSIP/A", "application": "Wait", "data": "x #y"}, "data"),
    ({"channel": "PJSIP/A", "extension": "1", "variables": {"1BAD": "x"}}, "variables"),
    ({"channel": "PJSIP/A", "extension": "1", "variables": {"A B": "x"}}, "variables"),
    ({"channel": "PJSIP/A", "extension": "1", "variables": {"OK": "a\nb"}}, "variables[OK]"),
    ({"channel": "PJSIP/A", "extension": "1", "archive": "maybe"}, "archive"),
])
def test_validation_names_the_field(kwargs, field):
    channel = kwargs.pop("channel")
    with pytest.raises(CallFileError) as info:
        CallFile(channel, **kwargs)
    assert info.value.field == field
    assert isinstance(info.value, ValueError) and isinstance(info.value, AMIError)


def test_parse_without_channel():
    with pytest.raises(CallFileError, match="Channel"):
        CallFile.parse("Extension: 100\n")


def test_place_is_atomic_scheduled_and_clean(tmp_path):
    spool = tmp_path / "outgoing"
    spool.mkdir()
    call = CallFile("Local/101@sets", context="sets", extension="103")
    when = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    path = call.place(spool, when=when, name="book.call")
    assert path == spool / "book.call" and path.read_text() == call.render()
    assert abs(path.stat().st_mtime - when.timestamp()) < 1e-3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outgoing"], "no temp file left"
    [entry] = spool_status(tmp_path)
    assert entry.state == "scheduled" and entry.channel == "Local/101@sets"
    with pytest.raises(CallFileError, match="exists"):
        call.place(spool, name="book.call")


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"name": "../escape.call"}, "name"), ({"name": ".."}, "name"), ({"name": "a/b"}, "name"),
    ({"tmp_dir": "SPOOL"}, "tmp_dir"), ({"tmp_dir": "/nonexistent"}, "tmp_dir"),
    ({"tmp_dir": "/dev/shm"}, "tmp_dir"),
])
def test_place_refuses(tmp_path, kwargs, field):
    spool = tmp_path / "outgoing"
    spool.mkdir()
    if kwargs.get("tmp_dir") == "SPOOL":
        kwargs["tmp_dir"] = spool
    if kwargs.get("tmp_dir") == "/dev/shm" and (not os.path.isdir("/dev/shm") or
                                                os.stat("/dev/shm").st_dev == os.stat(spool).st_dev):
        pytest.skip("no second filesystem at /dev/shm")
    with pytest.raises(CallFileError) as info:
        CallFile("Local/1@sets", extension="1").place(spool, **kwargs)
    assert info.value.field == field
    assert list(spool.iterdir()) == [] and [p.name for p in tmp_path.iterdir()] == ["outgoing"]


def test_place_into_a_missing_directory(tmp_path):
    with pytest.raises(CallFileError, match="does not exist"):
        CallFile("Local/1@sets", extension="1").place(tmp_path / "nope")


def test_place_cleans_up_when_chown_fails(tmp_path):
    spool = tmp_path / "outgoing"
    spool.mkdir()
    with pytest.raises(CallFileError):
        CallFile("Local/1@sets", extension="1").place(spool, owner="no-such-user-amikit")
    assert list(spool.iterdir()) == [] and [p.name for p in tmp_path.iterdir()] == ["outgoing"]


def test_a_reader_never_sees_a_partial_file(tmp_path):
    """Thousands of placements while a reader polls the spool as Asterisk's polling does."""
    spool = tmp_path / "outgoing"
    spool.mkdir()
    calls = [CallFile("Local/101@sets", application="Playback", data="x" * (i % 700),
                      variables={f"V{j}": "y" * 30 for j in range(i % 12)}, archive=True)
             for i in range(60)]
    expected = {c.render() for c in calls}
    done = threading.Event()
    problems: list[str] = []
    reads = 0

    def reader() -> None:
        nonlocal reads
        while not done.is_set():
            for path in list(spool.iterdir()):
                try:
                    text = path.read_text()
                except FileNotFoundError:
                    continue
                reads += 1
                if text not in expected:
                    problems.append(f"{path.name}: {len(text)} bytes")
                path.unlink(missing_ok=True)  # like Asterisk, which removes what it ran

    thread = threading.Thread(target=reader)
    thread.start()
    for i in range(3000):
        calls[i % len(calls)].place(spool)
    time.sleep(0.2)
    done.set()
    thread.join()
    assert problems == [] and reads > 100
    assert [p.name for p in tmp_path.iterdir()] == ["outgoing"], "no temp files left"


def test_the_simulator_runs_call_files(tmp_path):
    with Simulator(port=0, speed=10, spool=tmp_path) as sim, \
            AMIClient(sim.url, "hello", "world") as ami:
        ami.wait_event(0)
        answered = CallFile("Local/101@sets", context="sets", extension="103",
                            archive=True).place(tmp_path / "outgoing", name="answered.call")
        CallFile("Local/486@sets", context="sets", extension="103", max_retries=1,
                 retry_time=5, archive=True).place(tmp_path / "outgoing", name="busy.call")
        CallFile("Local/900@sets", application="Wait", data="1").place(
            tmp_path / "outgoing", name="plain.call")
        later = time.time() + 2
        CallFile("Local/900@sets", context="sets", extension="900", archive=True).place(
            tmp_path / "outgoing", name="later.call", when=later)
        seen = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and len(list((tmp_path / "outgoing_done").glob("*"))) < 3:
            seen += ami.wait_event(1)
        seen += ami.wait_event(0)
    done = {p.name: CallFile.parse(p.read_text()) for p in (tmp_path / "outgoing_done").iterdir()}
    assert done["answered.call"].status == "Completed" and not answered.exists()
    assert done["busy.call"].status == "Expired" and len(done["busy.call"].attempts) == 2
    assert done["later.call"].status == "Completed"
    assert "plain.call" not in done and not (tmp_path / "outgoing" / "plain.call").exists()
    assert not any(e.name == "OriginateResponse" for e in seen), "call files send none"
    later_start = min(float(e["Timestamp"]) for e in seen if e.name == "Newchannel"
                      and e["Channel"].startswith("Local/900@sets") and e["Exten"] == "900"
                      and float(e["Timestamp"]) >= later - 1)
    assert later_start >= later - 0.05, "a future modification time waits"
    states = {e.state for e in spool_status(tmp_path)}
    assert states == {"archived"}


def test_the_simulator_waits_for_a_file_written_in_place_to_be_closed(tmp_path):
    from amikit.sim.spool import _inotify

    if _inotify(tmp_path) is None:
        pytest.skip("no inotify here: the simulator scans instead")
    text = CallFile("Local/900@sets", context="sets", extension="900", archive=True).render()
    with Simulator(port=0, speed=10, spool=tmp_path):
        path = tmp_path / "outgoing" / "slow.call"
        with path.open("w") as f:  # the book's warning: a copy written in place, slowly
            f.write(text[:20])
            f.flush()
            time.sleep(0.8)
            assert path.exists(), "not taken while still open"
            f.write(text[20:])
        done = tmp_path / "outgoing_done" / "slow.call"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (done.exists() and "Status:" in done.read_text()):
            time.sleep(0.1)
    assert CallFile.parse(done.read_text()).status == "Completed"


# -- one spool convention, honest states -------------------------------------------------
def test_place_takes_the_spool_root_or_its_outgoing_directory(tmp_path):
    (tmp_path / "outgoing").mkdir()
    call = CallFile("Local/101@sets", context="sets", extension="103")
    from_root = call.place(tmp_path, name="root.call")
    from_outgoing = call.place(tmp_path / "outgoing", name="outgoing.call")
    assert from_root == tmp_path / "outgoing" / "root.call"
    assert from_outgoing == tmp_path / "outgoing" / "outgoing.call"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outgoing"], "nothing beside it"
    # spool_status takes either as well
    for spool in (tmp_path, tmp_path / "outgoing"):
        assert sorted(e.path.name for e in spool_status(spool)) == ["outgoing.call", "root.call"]


def _spool_file(tmp_path, text: str, mtime: float):
    (tmp_path / "outgoing").mkdir(exist_ok=True)
    path = tmp_path / "outgoing" / f"f{len(list((tmp_path / 'outgoing').iterdir()))}.call"
    path.write_text(text)
    os.utime(path, (mtime, mtime))
    return path


def test_spool_status_tells_a_running_file_from_a_scheduled_one(tmp_path):
    now = time.time()
    body = "Channel: Local/1@sets\nExtension: 1\n"
    # pbx_spool.c: an attempt appends StartRetry and moves the time on to the next retry
    running = _spool_file(tmp_path, body + f"\nStartRetry: 7 1 ({int(now) + 300})\n", now + 300)
    waiting = _spool_file(tmp_path, body + f"\nStartRetry: 7 1 ({int(now) + 300})\n"
                          f"\nEndRetry: 7 1 ({int(now) - 5})\n", now + 300)
    later = _spool_file(tmp_path, body, now + 300)
    due = _spool_file(tmp_path, body, now - 1)
    states = {e.path: e.state for e in spool_status(tmp_path, now=now)}
    assert states == {running: "running", waiting: "scheduled", later: "scheduled", due: "pending"}


def test_a_call_under_way_in_the_simulator_is_running(tmp_path):
    with Simulator(port=0, speed=10, spool=tmp_path):
        path = CallFile("Local/900@sets", application="Wait", data="30").place(tmp_path,
                                                                              name="long.call")
        states = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "running" not in states:
            states = [e.state for e in spool_status(tmp_path) if e.path == path]
            time.sleep(0.05)
        assert "running" in states and "StartRetry" in path.read_text()


def test_an_interrupt_while_cleaning_up_is_not_swallowed(tmp_path, monkeypatch):
    (tmp_path / "outgoing").mkdir()

    def rename(*_):
        raise OSError("disk gone")

    def unlink(*_):
        raise KeyboardInterrupt

    monkeypatch.setattr(callfile, "_move_without_replacing", rename)
    monkeypatch.setattr(os, "unlink", unlink)
    with pytest.raises(KeyboardInterrupt):
        CallFile("Local/1@sets", extension="1").place(tmp_path)


def test_one_comment_rule_for_call_files_and_config_files():
    from amikit.callfile import strip_comment
    from amikit.sim.config import read_conf

    [section] = read_conf("[a]\nkey = x\\;y #not-a-comment ; comment\n")
    assert section.get("key") == "x;y #not-a-comment"
    assert strip_comment("Data: x\\;y #comment ; more") == "Data: x;y "
    assert CallFile.parse("Channel: Local/1@x\nApplication: Wait\nData: a\\;b #c\n").data == "a;b"


def _literal_strings(tree):
    import ast

    for node in ast.walk(tree):
        if isinstance(node, ast.Set | ast.List | ast.Tuple) and node.elts and all(
                isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
            yield node.lineno, {e.value.lower() for e in node.elts}


def test_asterisks_yes_words_and_comment_rule_are_written_once():
    """amikit.protocol.is_true/is_false and callfile.strip_comment are the only copies."""
    import ast
    import pathlib
    import re

    import amikit

    root = pathlib.Path(amikit.__file__).parent
    words, comment_rules = [], []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        for line, strings in _literal_strings(tree):
            if {"yes", "on", "true"} <= strings or {"no", "off", "false"} <= strings:
                words.append(f"{path.relative_to(root)}:{line}")
        words += [f"{path.relative_to(root)}: regex" for _ in re.finditer(r"yes\|true\|", text)]
        comment_rules += [f"{path.relative_to(root)}:{node.name}" for node in ast.walk(tree)
                          if isinstance(node, ast.FunctionDef) and "strip_comment" in node.name]
    assert [w.split(":")[0] for w in words] == ["protocol.py", "protocol.py"], words
    assert comment_rules == ["callfile.py:strip_comment"]


# -- issue 12: injection, errors that are not AMIError, the same-name race -------------------
#: every character str.splitlines ends a line at, which amikit's parser and the simulator's
#: spool would read as a new line
LINE_BREAKS = ["\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


def test_the_refused_characters_are_exactly_what_splitlines_splits_on():
    assert all(len(f"a{c}b".splitlines()) == 2 for c in LINE_BREAKS)
    others = [chr(i) for i in range(0x3000) if chr(i) not in LINE_BREAKS]
    assert all(len(f"a{c}b".splitlines()) == 1 for c in others)


@pytest.mark.parametrize("brk", LINE_BREAKS)
@pytest.mark.parametrize("field", ["callerid", "data", "account", "codecs", "channel",
                                   "variables[V]"])
def test_no_line_break_of_any_kind_reaches_a_call_file(brk, field):
    kwargs: dict = {"application": "Wait", "data": "1"}
    channel = "PJSIP/A"
    value = f"Bob{brk}Archive: yes"
    if field == "channel":
        channel = f"PJSIP/A{brk}Archive: yes"
    elif field == "variables[V]":
        kwargs["variables"] = {"V": value}
    else:
        kwargs[field] = value
    with pytest.raises(CallFileError) as info:
        CallFile(channel, **kwargs)
    assert info.value.field == field and "not allowed" in str(info.value)


def test_the_injected_archive_line_of_the_report_is_refused():
    with pytest.raises(CallFileError, match="line break"):
        CallFile("PJSIP/A", extension="1", callerid="Bob\u2028Archive: yes")


@pytest.mark.parametrize("name", ["CDR(a\0b)", "CDR(a\u2028b)", "CDR(a\x85b)", "A\0", "CDR(a\x0bb)"])
def test_variable_names_refuse_nul_and_line_breaks(name):
    with pytest.raises(CallFileError) as info:
        CallFile("PJSIP/A", extension="1", variables={name: "1"})
    assert info.value.field == "variables"


@pytest.mark.parametrize("field", ["callerid", "data", "variables[V]"])
def test_lone_surrogates_are_refused_when_made(field):
    kwargs: dict = {"application": "Wait"}
    if field == "variables[V]":
        kwargs["variables"] = {"V": "a\udcff"}
    else:
        kwargs[field] = "a\udcff"
    with pytest.raises(CallFileError, match="surrogate") as info:
        CallFile("PJSIP/A", **kwargs)
    assert info.value.field == field


def test_a_surrogate_set_after_making_is_refused_by_place(tmp_path):
    (tmp_path / "outgoing").mkdir()
    call = CallFile("PJSIP/A", extension="1")
    call.callerid = "a\udcff"
    with pytest.raises(CallFileError, match="UTF-8"):
        call.place(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["outgoing"]


@pytest.mark.parametrize("when", ["tomorrow", float("nan"), float("inf"), 1e300, -1e300, True,
                                  [1], dt.datetime.max.replace(tzinfo=dt.UTC)])
def test_a_bad_when_is_a_call_file_error(tmp_path, when):
    (tmp_path / "outgoing").mkdir()
    with pytest.raises(CallFileError, match="when must be") as info:
        CallFile("PJSIP/A", extension="1").place(tmp_path, when=when)
    assert info.value.field == "when"
    assert [p.name for p in tmp_path.iterdir()] == ["outgoing"]


@pytest.mark.parametrize("name", ["x" * 300, "a\ud800.call", 7])
def test_a_name_the_filesystem_refuses_is_a_call_file_error(tmp_path, name):
    (tmp_path / "outgoing").mkdir()
    with pytest.raises(CallFileError) as info:
        CallFile("PJSIP/A", extension="1").place(tmp_path, name=name)
    assert info.value.field == "name"
    assert [p.name for p in tmp_path.iterdir()] == ["outgoing"]
    assert list((tmp_path / "outgoing").iterdir()) == []


@pytest.mark.parametrize("step", ["mkstemp", "move"])
def test_a_read_only_spool_is_a_call_file_error(tmp_path, monkeypatch, step):
    """A read-only spool, through a stand-in for the kernel: chmod would not stop root, and
    tests run as root in containers and CI."""
    (tmp_path / "outgoing").mkdir()

    def refuse(*_: object, **__: object) -> None:
        raise OSError(30, "Read-only file system")

    if step == "mkstemp":
        monkeypatch.setattr(callfile.tempfile, "mkstemp", refuse)
    else:
        monkeypatch.setattr(callfile, "_move_without_replacing", refuse)
    with pytest.raises(CallFileError, match="Read-only") as info:
        CallFile("PJSIP/A", extension="1").place(tmp_path)
    assert info.value.field == "spool_dir"
    assert [p.name for p in tmp_path.iterdir()] == ["outgoing"]


def _race(calls: list[CallFile], spool, name: str) -> tuple[list[int], list[CallFileError]]:
    """Place every call under one name at the same moment, each from its own thread."""
    start = threading.Barrier(len(calls))
    won: list[int] = []
    lost: list[CallFileError] = []

    def place(i: int) -> None:
        start.wait()
        try:
            calls[i].place(spool, name=name)
            won.append(i)
        except CallFileError as exc:
            lost.append(exc)

    threads = [threading.Thread(target=place, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return won, lost


@pytest.mark.parametrize("primitive", ["renameat2", "link"])
def test_of_writers_racing_for_one_name_exactly_one_wins(tmp_path, monkeypatch, primitive):
    if primitive == "link":
        monkeypatch.setattr(callfile, "_renameat2", lambda: None)
    elif callfile._renameat2() is None:
        pytest.skip("no renameat2 in this C library")
    spool = tmp_path / "outgoing"
    spool.mkdir()
    for trial in range(20):
        calls = [CallFile("PJSIP/A", extension=str(i), callerid=f"writer {i}") for i in range(8)]
        won, lost = _race(calls, spool, f"same-{trial}.call")
        assert len(won) == 1 and len(lost) == len(calls) - 1
        assert all("already exists" in str(e) and e.field == "name" for e in lost)
        assert (spool / f"same-{trial}.call").read_text() == calls[won[0]].render()
    assert [p.name for p in tmp_path.iterdir()] == ["outgoing"], "no temp files left"
