"""Finding a PBX for a notebook: a real Asterisk named by the environment, or the simulator.

Every teaching notebook starts the same way::

    import amikit
    pbx = amikit.find_pbx()        # says which one it found
    ami = pbx.client()             # an AMIClient, logged in at its first action

With ``AMIKIT_URL`` set (and ``AMIKIT_USER``, ``AMIKIT_SECRET``; ``amikit lab`` and the
Binder start script set them) it talks to that server, over HTTP (``http://host:8088``) or
AMI's TCP port (``tcp://host:5038``), ``AMIKIT_TCP_URL`` naming the same server's TCP port
beside an HTTP ``AMIKIT_URL``; otherwise it starts the embedded simulator, which
serves both (``pbx.client(tcp=True)`` for its TCP side). The secret is never typed into a
cell nor shown by a repr.

``amikit lab`` runs the ``jupyter lab`` command of :func:`jupyter_lab_command`.
"""

from __future__ import annotations

import atexit
import os
import pathlib
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from amikit.client import AMIClient
from amikit.errors import AMIError
from amikit.sim import Simulator

__all__ = ["FoundPBX", "find_pbx", "jupyter_lab_command"]


@dataclass
class FoundPBX:
    """Where a notebook's AMI is: base URL, user, and the simulator when amikit started one."""

    url: str
    username: str
    _secret: str = field(repr=False)
    simulator: Simulator | None = None
    spool: pathlib.Path | None = None
    tcp: str | None = None  # AMIKIT_TCP_URL: the same server's TCP port beside an HTTP url

    @classmethod
    def of(cls, simulator: Simulator, username: str = "hello") -> FoundPBX:
        """A running simulator as a notebook's PBX, logged in as ``username`` of its own
        manager.conf (the secret read from there, so a notebook never types one).

            >>> with Simulator(port=0) as sim, FoundPBX.of(sim).client() as ami:
            ...     ami.ping()["Ping"]
            'Pong'
        """
        user = simulator.config.users.get(username)
        if user is None:
            raise AMIError(f"the simulator's manager.conf has no user {username!r}")
        return cls(simulator.url, user.name, user.secret, simulator=simulator)

    @property
    def tcp_url(self) -> str | None:
        """``tcp://host:port`` of this PBX's AMI over TCP, when known: ``AMIKIT_URL`` itself
        when it is one, else ``AMIKIT_TCP_URL``, or the simulator's TCP port."""
        if self.url.lower().startswith("tcp://"):
            return self.url
        if self.tcp is not None:
            return self.tcp
        return self.simulator.tcp_url if self.simulator is not None else None

    def client(self, *, tcp: bool = False, **kwargs: Any) -> AMIClient:
        """A new :class:`AMIClient` for this PBX (its own session); ``tcp=True`` for one
        over AMI's TCP port (:attr:`tcp_url`) instead of :attr:`url`."""
        url = self.url
        if tcp:
            if self.tcp_url is None:
                raise AMIError(f"no TCP port known for {self.url}: set AMIKIT_URL to "
                               "tcp://HOST:5038 to talk to this Asterisk over TCP")
            url = self.tcp_url
        return AMIClient(url, self.username, self._secret, **kwargs)

    def login_form(self) -> dict[str, str]:
        """The Login action's parameters, for sending Login by hand (never print them)."""
        return {"action": "Login", "username": self.username, "secret": self._secret}

    def digest_auth(self) -> Any:
        """An ``httpx.DigestAuth`` for this user, for the digest paths by hand."""
        import httpx

        return httpx.DigestAuth(self.username, self._secret)

    @property
    def simulated(self) -> bool:
        return self.simulator is not None

    def __repr__(self) -> str:
        kind = "simulated Asterisk" if self.simulated else "Asterisk"
        return f"<PBX {kind} at {self.url} as {self.username!r}>"


def find_pbx(*, speed: float = 1.0, quiet: bool = False) -> FoundPBX:
    """The PBX named by ``AMIKIT_URL``, or a freshly started simulator (``speed`` for it).

    ``AMIKIT_SPOOL`` names the spool directory call files go to (with a real Asterisk on
    this machine, e.g. ``/var/spool/asterisk``); the simulator gets a temporary one.
    """
    url = os.environ.get("AMIKIT_URL")
    spool_env = os.environ.get("AMIKIT_SPOOL")
    if url:
        user, secret = os.environ.get("AMIKIT_USER"), os.environ.get("AMIKIT_SECRET")
        if not user or not secret:
            raise AMIError("AMIKIT_URL is set: set AMIKIT_USER and AMIKIT_SECRET too")
        pbx = FoundPBX(url.rstrip("/"), user, secret,
                       spool=pathlib.Path(spool_env) if spool_env else None,
                       tcp=os.environ.get("AMIKIT_TCP_URL") or None)
        if not quiet:
            print(f"Using the Asterisk at {pbx.url} (from AMIKIT_URL) as {user!r}.")
        return pbx
    spool = pathlib.Path(spool_env or tempfile.mkdtemp(prefix="amikit-spool-"))
    sim = Simulator(port=0, tcp_port=0, speed=speed, spool=spool).start()
    if not spool_env:  # a temporary spool of our own: gone, after the simulator, at exit
        atexit.register(_remove_after, sim, spool)
    pbx = FoundPBX(sim.url, "hello", "world", simulator=sim, spool=spool)
    if not quiet:
        print(f"No AMIKIT_URL set: started amikit's simulated Asterisk at {sim.url} and "
              f"{sim.tcp_url} (user 'hello', the book's example account; spool {spool}).")
    return pbx


def _remove_after(sim: Simulator, spool: pathlib.Path) -> None:
    sim.stop()
    shutil.rmtree(spool, ignore_errors=True)


#: How a JupyterLab command line says that running as root is fine.
_ALLOW_ROOT = ("--allow-root", "--ServerApp.allow_root=True", "--ServerApp.allow_root=true")


def _is_root() -> bool:
    geteuid = getattr(os, "geteuid", None)  # absent on Windows, where there is no root
    return geteuid is not None and geteuid() == 0


def jupyter_lab_command(jupyter: str, *, port: int, root_dir: str | os.PathLike[str],
                        open_browser: bool = True, extra: Sequence[str] = (),
                        stderr: TextIO | None = None) -> list[str]:
    """The ``jupyter lab`` command line of ``amikit lab``: bound to 127.0.0.1 on ``port``
    (0: a free one), serving ``root_dir``, then the ``extra`` options given after ``--``.

    JupyterLab refuses to run as root unless told ``--allow-root``; containers and
    workshop VMs often run everything as root, so as root this adds the option and says so
    on ``stderr`` (default ``sys.stderr``).
    """
    command = [jupyter, "lab", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
               f"--ServerApp.root_dir={os.fspath(root_dir)}"]
    if not open_browser:
        command.append("--no-browser")
    options = [a for a in extra if a != "--"]
    if _is_root() and not any(a in _ALLOW_ROOT for a in options):
        print("amikit lab: running as root (a container?): starting JupyterLab with "
              "--allow-root", file=stderr or sys.stderr, flush=True)
        command.append("--allow-root")
    return command + options
