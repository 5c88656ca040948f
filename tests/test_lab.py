"""Finding a PBX, `amikit lab`, and the Binder start-up, as a newcomer meets them.

Every server here takes port 0 and says which port it got; every wait is a readiness
check with a deadline; every process started is ended by its own id (or process group).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import TypeVar

import httpx
import pytest

import amikit
from amikit import lab as amikit_lab
from amikit.errors import AMIError

ROOT = pathlib.Path(__file__).resolve().parents[1]
T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], seconds: float, what: str) -> T:
    """``probe()``'s first non-None value, polled until a deadline (then the test fails)."""
    deadline = time.monotonic() + seconds
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {seconds} s")
        time.sleep(0.1)


def test_find_pbx_starts_the_simulator(monkeypatch, capsys):
    for name in ("AMIKIT_URL", "AMIKIT_USER", "AMIKIT_SECRET", "AMIKIT_SPOOL", "AMIKIT_TCP_URL"):
        monkeypatch.delenv(name, raising=False)
    pbx = amikit.find_pbx(speed=5)
    try:
        assert pbx.simulated and "simulated Asterisk" in capsys.readouterr().out
        assert "world" not in repr(pbx) and (pbx.spool / "outgoing").is_dir()
        with pbx.client() as ami:
            assert ami.ping()["Ping"] == "Pong"
        monkeypatch.setenv("AMIKIT_URL", pbx.url)
        monkeypatch.setenv("AMIKIT_USER", "hello")
        monkeypatch.setenv("AMIKIT_SECRET", "world")
        real = amikit.find_pbx()
        assert not real.simulated and f"Using the Asterisk at {pbx.url}" in capsys.readouterr().out
        assert real.client().ping().ok
        assert real.tcp_url is None
        monkeypatch.setenv("AMIKIT_TCP_URL", pbx.tcp_url)  # as amikit lab and binder/start set it
        beside = amikit.find_pbx(quiet=True)
        assert beside.url == pbx.url and beside.tcp_url == pbx.tcp_url
        with beside.client(tcp=True) as tcp:
            assert tcp.ping().ok
        monkeypatch.delenv("AMIKIT_TCP_URL")
        with pbx.client(tcp=True) as tcp:  # the simulator serves AMI over TCP too
            assert tcp.ping().ok and tcp.banner.startswith("Asterisk Call Manager")
        monkeypatch.setenv("AMIKIT_URL", pbx.tcp_url)
        over_tcp = amikit.find_pbx(quiet=True)
        assert over_tcp.tcp_url == pbx.tcp_url
        with over_tcp.client() as ami:
            assert ami.transport_kind == "tcp" and ami.ping()["Ping"] == "Pong"
        monkeypatch.delenv("AMIKIT_SECRET")
        with pytest.raises(AMIError, match="AMIKIT_SECRET"):
            amikit.find_pbx()
    finally:
        pbx.simulator.stop()


@pytest.mark.parametrize("root", [True, False], ids=["as-root", "as-user"])
def test_jupyter_lab_command_allows_root_only_as_root(monkeypatch, root):
    monkeypatch.setattr(amikit_lab, "_is_root", lambda: root)
    said = io.StringIO()
    command = amikit_lab.jupyter_lab_command("jupyter", port=0, root_dir="/nb", open_browser=False,
                                             extra=["--", "--ServerApp.token=t"], stderr=said)
    assert command[:2] == ["jupyter", "lab"] and "--ServerApp.ip=127.0.0.1" in command
    assert {"--ServerApp.port=0", "--ServerApp.root_dir=/nb", "--no-browser",
            "--ServerApp.token=t"} <= set(command) and "--" not in command
    assert ("--allow-root" in command) is root
    assert ("running as root" in said.getvalue()) is root
    again = amikit_lab.jupyter_lab_command("jupyter", port=0, root_dir="/nb",
                                           extra=["--allow-root"], stderr=said)
    assert again.count("--allow-root") == 1 and "--no-browser" not in again


def jupyter_env(tmp_path: pathlib.Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR",
                 "MPLCONFIGDIR"):
        env[name] = str(tmp_path / name.lower())
    env["TMPDIR"] = str(tmp_path)  # the lab's spool folder goes where pytest cleans up
    for name in ("AMIKIT_URL", "AMIKIT_USER", "AMIKIT_SECRET", "AMIKIT_SPOOL"):
        env.pop(name, None)
    return env


def lab_port(env: dict[str, str], process: subprocess.Popen, log: pathlib.Path,
             token: str) -> int:
    """The port JupyterLab took (from its runtime file), once /api/status answers 200."""
    runtime = pathlib.Path(env["JUPYTER_RUNTIME_DIR"])

    def ready() -> int | None:
        if process.poll() is not None:
            pytest.fail(f"amikit lab ended with {process.returncode}:\n{log.read_text()[-3000:]}")
        for info in runtime.glob("jpserver-*.json"):
            with contextlib.suppress(ValueError, OSError):
                port = json.loads(info.read_text())["port"]
                with contextlib.suppress(httpx.TransportError):
                    status = httpx.get(f"http://127.0.0.1:{port}/api/status",
                                       params={"token": token}, timeout=2).status_code
                    if status == 200:
                        return port
        return None

    return wait_for(ready, 90, "JupyterLab answering /api/status")


def stop(process: subprocess.Popen) -> int:
    """SIGTERM to a process we started, then its exit status (killed after 60 s)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
        raise


def test_amikit_lab_starts_answers_and_stops(tmp_path):
    """As the README says, with no --allow-root: as root (a container) it must still start."""
    env = jupyter_env(tmp_path)
    log = tmp_path / "lab.log"
    with log.open("w") as out:
        lab = subprocess.Popen(
            [sys.executable, "-m", "amikit.cli", "lab", "--no-browser", "--port", "0", "--",
             "--ServerApp.token=amikit-test", "--LabApp.news_url=None"],
            env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        try:
            port = lab_port(env, lab, log, "amikit-test")
            contents = httpx.get(f"http://127.0.0.1:{port}/api/contents",
                                 params={"token": "amikit-test"}, timeout=5).json()
            names = {c["name"] for c in contents["content"]}
            assert {"01-first-contact.ipynb", "README.md"} <= names
        finally:
            status = stop(lab)
    text = log.read_text()
    assert status == 0, text[-3000:]
    assert re.search(r"amikit lab: simulated Asterisk at http://127\.0\.0\.1:\d+ and "
                     r"tcp://127\.0\.0\.1:\d+ ", text), text[-3000:]  # both fronts, both told
    if os.geteuid() == 0:
        assert "amikit lab: running as root" in text and "--allow-root" in text
    with pytest.raises(httpx.TransportError):  # JupyterLab ended with it
        httpx.get(f"http://127.0.0.1:{port}/api/status", timeout=2)


def end_group(leader: subprocess.Popen) -> None:
    """End the process group we started (binder/start leaves `amikit sim` running in it)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(leader.pid, signal.SIGTERM)
    if leader.poll() is None:
        leader.wait(timeout=30)

    def gone() -> bool | None:
        try:
            os.killpg(leader.pid, 0)
        except ProcessLookupError:
            return True
        return None

    wait_for(gone, 30, "the processes binder/start left")


def test_binder_start_gives_the_notebooks_a_pbx(tmp_path):
    env = {**os.environ, "AMIKIT_SIM_PORT": "0", "TMPDIR": str(tmp_path)}
    probe = ("import amikit, os; pbx = amikit.find_pbx(); "
             "print(pbx.client().ping()['Ping'], os.environ['AMIKIT_SPOOL'])")
    start = subprocess.Popen([str(ROOT / "binder" / "start"), sys.executable, "-c", probe],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
    try:
        out, err = start.communicate(timeout=60)
    finally:
        end_group(start)
    assert start.returncode == 0, err
    assert "Using the Asterisk at http://127.0.0.1:" in out
    assert "Pong" in out and str(tmp_path) in out


@pytest.mark.skipif(os.environ.get("AMIKIT_SKIP_BINDER") == "1", reason="AMIKIT_SKIP_BINDER=1")
@pytest.mark.needs_index
def test_binder_on_a_clean_virtual_environment(tmp_path):
    """Install only from binder/ files into a new venv, start as Binder does, run every notebook."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bin_dir = venv / "bin"
    env = {**jupyter_env(tmp_path), "PATH": f"{bin_dir}:{os.environ['PATH']}",
           "VIRTUAL_ENV": str(venv), "AMIKIT_SIM_PORT": "0", "MPLBACKEND": "Agg"}
    env.pop("PYTHONPATH", None)
    subprocess.run([str(bin_dir / "pip"), "install", "--quiet", "-r",
                    str(ROOT / "binder" / "requirements.txt")], check=True, env=env, cwd=ROOT)
    subprocess.run([str(ROOT / "binder" / "postBuild")], check=True, env=env, cwd=ROOT)
    out_dir = tmp_path / "executed"
    start = subprocess.Popen(
        [str(ROOT / "binder" / "start"), str(bin_dir / "jupyter"), "nbconvert", "--to",
         "notebook", "--execute", "--ExecutePreprocessor.timeout=120", "--output-dir",
         str(out_dir), *sorted(str(p) for p in (ROOT / "notebooks").glob("*.ipynb"))],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        _, err = start.communicate(timeout=900)
    finally:
        end_group(start)
    assert start.returncode == 0, err[-3000:]
    assert len(list(out_dir.glob("*.ipynb"))) == len(list((ROOT / "notebooks").glob("*.ipynb")))


@pytest.mark.skipif(os.environ.get("AMIKIT_SKIP_BINDER") == "1", reason="AMIKIT_SKIP_BINDER=1")
@pytest.mark.needs_index
def test_the_readme_first_command_in_a_fresh_environment(tmp_path):
    """`pip install -e '.[lab]' && amikit lab`, as the README says, in a new virtual env."""
    readme = (ROOT / "README.md").read_text()
    assert "pip install -e '.[lab]' && amikit lab" in readme
    assert "pip install -e '.[dev]' && pytest" in readme
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {**jupyter_env(tmp_path), "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
           "VIRTUAL_ENV": str(venv)}
    env.pop("PYTHONPATH", None)
    subprocess.run(["pip", "install", "--quiet", "-e", ".[lab]"], check=True, env=env, cwd=ROOT)
    log = tmp_path / "lab.log"
    with log.open("w") as out:
        lab = subprocess.Popen(["amikit", "lab", "--no-browser", "--port", "0", "--",
                                "--ServerApp.token=readme"],
                               env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, text=True)
        try:
            lab_port(env, lab, log, "readme")
        finally:
            status = stop(lab)
    assert status == 0, log.read_text()[-3000:]


def test_find_pbx_removes_its_temporary_spool_when_python_ends(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMIKIT_")}
    probe = "import amikit; pbx = amikit.find_pbx(quiet=True); print(pbx.spool)"
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                          timeout=60, check=True)
    spool = pathlib.Path(done.stdout.strip())
    assert spool.name.startswith("amikit-spool-") and not spool.exists()
