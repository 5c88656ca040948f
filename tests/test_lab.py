"""Finding a PBX, `amikit lab`, and the Binder start-up, as a newcomer meets them."""

from __future__ import annotations

import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

import amikit
from amikit.errors import AMIError

ROOT = pathlib.Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_find_pbx_starts_the_simulator(monkeypatch, capsys):
    for name in ("AMIKIT_URL", "AMIKIT_USER", "AMIKIT_SECRET", "AMIKIT_SPOOL"):
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
        monkeypatch.delenv("AMIKIT_SECRET")
        with pytest.raises(AMIError, match="AMIKIT_SECRET"):
            amikit.find_pbx()
    finally:
        pbx.simulator.stop()


def lab_status(port: int, token: str) -> int | None:
    """The status of JupyterLab's /api/status once it answers (None if it never does)."""
    for _ in range(160):
        try:
            return httpx.get(f"http://127.0.0.1:{port}/api/status", params={"token": token},
                             timeout=1).status_code
        except httpx.TransportError:
            time.sleep(0.25)
    return None


def jupyter_env(tmp_path: pathlib.Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR",
                 "MPLCONFIGDIR"):
        env[name] = str(tmp_path / name.lower())
    return env


def test_amikit_lab_starts_answers_and_stops(tmp_path):
    port = free_port()
    lab = subprocess.Popen(
        [sys.executable, "-m", "amikit.cli", "lab", "--no-browser", "--port", str(port), "--",
         "--ServerApp.token=amikit-test", "--LabApp.news_url=None", "--allow-root"],
        env=jupyter_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert lab_status(port, "amikit-test") == 200
        contents = httpx.get(f"http://127.0.0.1:{port}/api/contents",
                             params={"token": "amikit-test"}, timeout=5).json()
        assert {"01-first-contact.ipynb", "README.md"} <= {c["name"] for c in contents["content"]}
    finally:
        lab.send_signal(signal.SIGTERM)
        out, _ = lab.communicate(timeout=60)
    assert "amikit lab: simulated Asterisk at http://127.0.0.1:" in out
    assert lab.returncode is not None


def test_binder_start_gives_the_notebooks_a_pbx(tmp_path):
    port = free_port()
    env = {**os.environ, "AMIKIT_SIM_PORT": str(port), "TMPDIR": str(tmp_path)}
    probe = ("import amikit, os; pbx = amikit.find_pbx(); "
             "print(pbx.client().ping()['Ping'], os.environ['AMIKIT_SPOOL'])")
    try:
        result = subprocess.run([str(ROOT / "binder" / "start"), sys.executable, "-c", probe],
                                env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "Using the Asterisk at http://127.0.0.1:" in result.stdout
        assert "Pong" in result.stdout
    finally:
        subprocess.run(["pkill", "-f", f"amikit sim --port {port}"], check=False)


@pytest.mark.skipif(os.environ.get("AMIKIT_SKIP_BINDER") == "1", reason="AMIKIT_SKIP_BINDER=1")
def test_binder_on_a_clean_virtual_environment(tmp_path):
    """Install only from binder/ files into a new venv, start as Binder does, run every notebook."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bin_dir = venv / "bin"
    env = {**jupyter_env(tmp_path), "PATH": f"{bin_dir}:{os.environ['PATH']}",
           "VIRTUAL_ENV": str(venv), "AMIKIT_SIM_PORT": str(free_port()), "TMPDIR": str(tmp_path),
           "MPLBACKEND": "Agg"}
    env.pop("PYTHONPATH", None)
    for name in ("AMIKIT_URL", "AMIKIT_USER", "AMIKIT_SECRET", "AMIKIT_SPOOL"):
        env.pop(name, None)
    subprocess.run([str(bin_dir / "pip"), "install", "--quiet", "-r",
                    str(ROOT / "binder" / "requirements.txt")], check=True, env=env, cwd=ROOT)
    subprocess.run([str(ROOT / "binder" / "postBuild")], check=True, env=env, cwd=ROOT)
    out_dir = tmp_path / "executed"
    try:
        result = subprocess.run(
            [str(ROOT / "binder" / "start"), str(bin_dir / "jupyter"), "nbconvert", "--to",
             "notebook", "--execute", "--ExecutePreprocessor.timeout=120", "--output-dir",
             str(out_dir), *sorted(str(p) for p in (ROOT / "notebooks").glob("*.ipynb"))],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, result.stderr[-3000:]
        assert len(list(out_dir.glob("*.ipynb"))) == 6
    finally:
        subprocess.run(["pkill", "-f", f"amikit sim --port {env['AMIKIT_SIM_PORT']}"], check=False)


@pytest.mark.skipif(os.environ.get("AMIKIT_SKIP_BINDER") == "1", reason="AMIKIT_SKIP_BINDER=1")
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
    port = free_port()
    lab = subprocess.Popen(["amikit", "lab", "--no-browser", "--port", str(port), "--",
                            "--ServerApp.token=readme", "--allow-root"],
                           env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
    try:
        assert lab_status(port, "readme") == 200
    finally:
        lab.send_signal(signal.SIGTERM)
        lab.communicate(timeout=60)
    assert lab.returncode is not None
