"""The teaching notebooks: built deterministically, run top to bottom as shipped (Run All
leaves every exercise to the learner), and with each solution put in its exercise cell
against a PBX configured like the lab: Local channels, no phones, no extension 102, other
people's calls and call files around."""

from __future__ import annotations

import contextlib
import importlib.util
import pathlib
import re
import shutil
import threading
import uuid

import nbformat
import pytest
from nbclient import NotebookClient

from amikit import AMIClient, Simulator

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
LAB_CONF = ROOT / "tests" / "captures" / "conf"
NOT_DONE = "Not done yet"
#: What a cell should never show: lists of raw objects (a wait_event() left as a cell's
#: last line shows every event it dropped) instead of readable output.
RAW = re.compile(r"\[<Message |SpoolEntry\(|PosixPath\(")


def builder():
    spec = importlib.util.spec_from_file_location("build_notebooks",
                                                  ROOT / "tools" / "build_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tagged(notebook, tag: str) -> list:
    return [c for c in notebook.cells if tag in c.get("metadata", {}).get("tags", [])]


def outputs(notebook) -> list[tuple[int, str]]:
    """(cell index, text) of every stream and text/plain output."""
    found = []
    for index, cell in enumerate(notebook.cells):
        for out in cell.get("outputs", []):
            text = out.get("text") or out.get("data", {}).get("text/plain", "")
            found.append((index, "".join(text) if isinstance(text, list) else text))
    return found


def run(notebook, tmp_path: pathlib.Path, monkeypatch, env: dict[str, str]) -> None:
    for name in ("AMIKIT_URL", "AMIKIT_USER", "AMIKIT_SECRET", "AMIKIT_SPOOL",
                 "AMIKIT_PHONE", "AMIKIT_EXTEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path))
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the simulator's spool is cleaned up with it
    NotebookClient(notebook, timeout=90, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()


def test_the_builder_writes_the_committed_notebooks_byte_for_byte(tmp_path):
    build = builder()
    first, second = tmp_path / "first", tmp_path / "second"
    build.main(first)
    build.main(second)
    names = sorted(p.name for p in first.glob("*.ipynb"))
    assert names == [p.name for p in NOTEBOOKS]
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), "cell ids vary"
        assert (first / name).read_bytes() == (ROOT / "notebooks" / name).read_bytes(), \
            f"notebooks/{name} is not what tools/build_notebooks.py writes: run it"


def test_the_builder_writes_only_the_notebooks_asked_and_explains_itself(tmp_path, capsys):
    build = builder()
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as helped:
        build.cli(["--help", "--out", str(out)])
    assert helped.value.code == 0 and "--out" in capsys.readouterr().out
    assert not out.exists(), "--help wrote notebooks"
    assert build.cli(["07", "--out", str(out)]) == 0
    assert [p.name for p in out.iterdir()] == ["07-call-centre.ipynb"]
    assert (out / "07-call-centre.ipynb").read_bytes() == \
        (ROOT / "notebooks" / "07-call-centre.ipynb").read_bytes()
    with pytest.raises(SystemExit) as refused:
        build.cli(["0", "--out", str(out)])  # names every notebook: which one?
    assert refused.value.code == 2 and "more than one notebook" in capsys.readouterr().err


def test_07_idlest_check_counts_an_agent_who_answered_no_call(capsys):
    """Cara answered nothing, so she is missing from the calls' groupby: she is still the
    idlest, and the check must say so (it used to skip her: her idle time was NaN)."""
    import pandas as pd

    (cell,) = tagged(builder().build("07-call-centre"), "check")
    start = pd.Timestamp("2026-01-01 09:00")
    namespace = {
        "df": pd.DataFrame({"Timestamp": [start, start + pd.Timedelta(hours=1)]}),
        "calls": pd.DataFrame({"answered_by": ["Ann", "Ben", None],
                               "talk": pd.to_timedelta([600, 300, None], unit="s")}),
        "agents": pd.DataFrame({"MemberName": ["Ann", "Ben", "Cara"],
                                "paused": pd.to_timedelta([0, 900, 0], unit="s")}),
        "idlest": "Cara",
    }
    exec(cell.source, namespace)
    assert capsys.readouterr().out.strip() == "Well done."


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_exercises_leave_the_answer_to_the_learner(path):
    notebook = nbformat.read(path, as_version=4)
    assert notebook.cells[0].cell_type == "markdown" and "You will learn" in notebook.cells[0].source
    exercises, solutions, checks = (tagged(notebook, t) for t in ("exercise", "solution", "check"))
    assert len(exercises) == len(solutions) == len(checks) >= 1
    for cell in solutions:  # collapsed Markdown, which Run All does not execute
        assert cell.cell_type == "markdown" and cell.source.startswith("<details>")
        assert "```python" in cell.source
    for cell in exercises:
        assert cell.cell_type == "code" and cell.source.count("# your code here") == 1
    for cell in checks:
        assert cell.cell_type == "code" and NOT_DONE in cell.source


def test_texts_name_only_the_users_the_code_uses():
    """A manager user named in a notebook's text is one its code logs in as."""
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
        text = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
        for user in ("limited", "reporter"):
            if re.search(rf"`{user}`", text):
                assert f'"{user}"' in code, f"{path.name} names the {user} user; its code does not"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_as_shipped(path, tmp_path, monkeypatch):
    """Run All against the simulator: every teaching cell works, no exercise is filled in."""
    notebook = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), \
        "notebooks are committed without outputs"
    run(notebook, tmp_path, monkeypatch, {})
    texts = outputs(notebook)
    joined = "".join(text for _, text in texts)
    assert "world" not in joined, "a secret was printed"
    assert "Well done" not in joined, "Run All filled in an exercise"
    checks = [i for i, c in enumerate(notebook.cells) if "check" in c.metadata.get("tags", [])]
    for index in checks:
        assert any(i == index and NOT_DONE in text for i, text in texts)
    raw = [(i, text[:200]) for i, text in texts if RAW.search(text)]
    assert not raw, f"cells that print raw objects: {raw}"
    if path.stem.startswith("01"):  # the book's first page, over the simulator's TCP port
        assert "b'Asterisk Call Manager/12.0.0\\r\\n'" in joined and "skipped" not in joined
        assert joined.count("Thanks for all the fish.") >= 3  # raw Logoff twice, HTTP once
    if path.stem.startswith("08"):  # what was watched is the file; the replay refuses changes
        assert "calls, identical to the file's" in joined and "events, identical" in joined
        assert "Originate cannot change it" in joined


def answered(notebook) -> None:
    """Put each solution into the exercise cell before it, in place of its answer line."""
    cells = notebook.cells
    for index, cell in enumerate(cells):
        if "solution" not in cell.metadata.get("tags", []):
            continue
        exercise = cells[index - 1]
        assert "exercise" in exercise.metadata.get("tags", [])
        answer = re.search(r"```python\n(.*?)\n```", cell.source, re.S).group(1)
        lines = [answer if line.endswith("# your code here") else line
                 for line in exercise.source.splitlines()]
        exercise.source = "\n".join(lines)


@pytest.fixture(scope="module")
def lab_pbx(tmp_path_factory):
    """A simulator configured like the real lab Asterisk, with someone else's calls going on
    and someone else's call files already archived in its spool."""
    conf = tmp_path_factory.mktemp("lab-conf")
    for name in ("manager.conf", "http.conf", "extensions.conf"):
        shutil.copyfile(LAB_CONF / name, conf / name)
    (conf / "pjsip.conf").write_text("; the lab Asterisk has no phones\n")
    spool = tmp_path_factory.mktemp("lab-spool")
    (spool / "outgoing").mkdir()
    (spool / "outgoing_done").mkdir()
    for name in ("busy.call", "amikit-0001.call", "amikit-0002.call"):
        (spool / "outgoing_done" / name).write_text(
            "Channel: Local/101@sets\nContext: sets\nExtension: 103\nArchive: yes\n"
            "StartRetry: 1 1 (1795675451)\nStatus: Completed\n")
    stop = threading.Event()
    with (Simulator(port=0, speed=10, config=conf, spool=spool) as sim,
          AMIClient(sim.url, "hello", "world") as neighbour):

        def other_calls() -> None:
            turn = 0
            while not stop.wait(0.7):
                turn += 1
                with contextlib.suppress(Exception):
                    if turn % 2:  # a bridged pair, like notebook 03's
                        neighbour.originate(Channel="Local/202@sets", Context="sets",
                                            Exten="600", Priority=1, Async=True,
                                            ChannelId=f"other-{uuid.uuid4().hex[:8]}")
                    else:
                        neighbour.originate(Channel="Local/101@sets", Application="Wait",
                                            Data="1", Async=True)

        thread = threading.Thread(target=other_calls, daemon=True)
        thread.start()
        try:
            yield sim, spool
        finally:
            stop.set()
            thread.join(timeout=10)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_solutions_pass_on_a_pbx_like_the_lab(path, tmp_path, monkeypatch, lab_pbx):
    sim, spool = lab_pbx
    notebook = nbformat.read(path, as_version=4)
    answered(notebook)
    run(notebook, tmp_path, monkeypatch, {"AMIKIT_URL": sim.url, "AMIKIT_USER": "hello",
                                          "AMIKIT_SECRET": "world", "AMIKIT_SPOOL": str(spool)})
    texts = outputs(notebook)
    joined = "".join(text for _, text in texts)
    assert NOT_DONE not in joined
    assert joined.count("Well done") == len(tagged(notebook, "check"))
    assert "world" not in joined, "a secret was printed"
    assert (spool / "outgoing_done" / "busy.call").read_text().endswith("Status: Completed\n")
    if path.stem.startswith("01"):  # an HTTP-only PBX: the TCP cells say so and skip
        assert "No TCP port known" in joined and "skipped: no TCP port" in joined


def test_notebooks_readme_lists_every_notebook():
    readme = (ROOT / "notebooks" / "README.md").read_text()
    for path in NOTEBOOKS:
        assert path.name in readme
    assert len(NOTEBOOKS) == 8


def test_notebook_01_on_a_pbx_reached_over_tcp_only(tmp_path, monkeypatch):
    """``AMIKIT_URL=tcp://…`` (a real Asterisk with HTTP AMI off): the TCP cells and the
    exercise run, the HTTP cells say so and skip instead of failing."""
    conf = tmp_path / "lab-conf"
    conf.mkdir()
    for name in ("manager.conf", "http.conf", "extensions.conf"):
        shutil.copyfile(LAB_CONF / name, conf / name)
    (conf / "pjsip.conf").write_text("; the lab Asterisk has no phones\n")
    notebook = nbformat.read(ROOT / "notebooks" / "01-first-contact.ipynb", as_version=4)
    answered(notebook)
    with Simulator(port=0, tcp_port=0, speed=10, config=conf) as sim:
        run(notebook, tmp_path, monkeypatch, {"AMIKIT_URL": sim.tcp_url, "AMIKIT_USER": "hello",
                                              "AMIKIT_SECRET": "world"})
    joined = "".join(text for _, text in outputs(notebook))
    assert "world" not in joined, "a secret was printed"
    assert "b'Asterisk Call Manager/12.0.0\\r\\n'" in joined and "no TCP port" not in joined
    assert joined.count("skipped: HTTP AMI not known") == 4
    assert joined.count("Well done") == len(tagged(notebook, "check"))
