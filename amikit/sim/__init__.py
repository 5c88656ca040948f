"""The embedded simulated Asterisk: the same HTTP AMI as a real Asterisk 23, over a small PBX.

    >>> from amikit import AMIClient, Simulator
    >>> with Simulator(port=0, speed=10) as sim:
    ...     with AMIClient(sim.url, "hello", "world") as ami:
    ...         ami.ping()["Ping"]
    'Pong'

``Simulator(port=0)`` picks a free port; ``sim.url`` is the base URL the client takes. The
server runs its asyncio loop in a background daemon thread, so the synchronous client
can use it from the same notebook kernel. It binds 127.0.0.1 unless told otherwise, and
refuses any other address while the default password (hello/world) is in use.

The default configuration (``amikit/sim/defaults``) is the lab configuration of the
captures: users ``hello/world`` (read and write all), ``limited/limitedpw`` (read call,
write originate), ``reporter/reportpw`` (read reporting,call, write reporting);
``timestampevents=yes``, ``httptimeout=60``; the ``sets`` dialplan; phones
``PJSIP/SOFTPHONE_A`` and ``PJSIP/SOFTPHONE_B`` that answer after a ring.
"""

from __future__ import annotations

import asyncio
import logging
import pathlib
import random
import threading
import warnings

from amikit.errors import AMIError
from amikit.sim.config import ConfigError, SimConfig, load_config
from amikit.sim.dialplan import Dialplan
from amikit.sim.events import EventBus
from amikit.sim.httpd import SESSION_INACTIVITY, SESSION_LIMIT, HTTPFront
from amikit.sim.manager import Manager
from amikit.sim.pbx import PBX
from amikit.sim.pbx_actions import PBXActions

__all__ = ["ConfigError", "Simulator"]

log = logging.getLogger("amikit.sim")

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Simulator:
    """A simulated Asterisk serving HTTP AMI (``/rawman``, ``/mxml``, ``/manager`` and the
    digest twins ``/arawman``, ``/amxml``, ``/amanager``).

    Args:
        host: address to bind (default: http.conf's bindaddr, 127.0.0.1).
        port: port to bind; 0 picks a free one (default: http.conf's bindport, 8088).
        config: a directory with your own manager.conf, http.conf, extensions.conf,
            pjsip.conf and sim.conf (each optional).
        speed: how much faster than real time the PBX's own durations run (Wait, Playback,
            ringing, Dial and Originate timeouts). Protocol timers stay real.
        seed: makes channel ids and timings reproducible.
        spool: a spool directory like /var/spool/asterisk: call files moved into
            ``spool/outgoing`` are run, and archived into ``spool/outgoing_done`` (see
            :mod:`amikit.sim.spool`).
        allow_remote: required to bind an address other than loopback.
        httptimeout: override manager.conf's httptimeout (seconds), e.g. for tests.
        session_inactivity: seconds an HTTP connection may idle before it is closed
            (http.conf's ``session_inactivity``, 30 s as in Asterisk).
        session_limit: concurrent HTTP connections; newer ones are closed at once.
    """

    def __init__(self, host: str | None = None, port: int | None = None, *,
                 config: str | pathlib.Path | None = None, speed: float = 1.0,
                 seed: int | None = None, spool: str | pathlib.Path | None = None,
                 allow_remote: bool = False, httptimeout: int | None = None,
                 session_inactivity: float = SESSION_INACTIVITY,
                 session_limit: int = SESSION_LIMIT) -> None:
        self.config: SimConfig = load_config(config)
        self.dialplan = Dialplan.parse(self.config.extensions, self.config.extensions_path)
        if httptimeout is not None:
            self.config.httptimeout = httptimeout
        self.host = host if host is not None else self.config.bindaddr
        self.port = port if port is not None else self.config.bindport
        if self.host not in LOOPBACK:
            if not allow_remote:
                raise AMIError(f"refusing to bind {self.host}: the simulator binds 127.0.0.1 "
                               "unless allow_remote=True (--allow-remote) is given")
            if self.config.default_password_in_use:
                raise AMIError(f"refusing to bind {self.host} while user hello has the default "
                               "password 'world': give your own manager.conf with --config")
            warnings.warn(f"the simulator listens on {self.host}, beyond this machine",
                          stacklevel=2)
        self.speed = speed
        self.seed = seed  # the PBX's channel ids and timings only: credentials use secrets
        self.session_inactivity = session_inactivity
        self.session_limit = session_limit
        self.spool = pathlib.Path(spool) if spool is not None else None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.manager: Manager | None = None
        self.pbx: PBX | None = None
        self.bus: EventBus | None = None

    @property
    def url(self) -> str:
        """The base URL to give :class:`amikit.AMIClient` (scheme, host, port, prefix)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.config.prefix}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __repr__(self) -> str:
        return f"<Simulator {self.url} {'running' if self.running else 'stopped'}>"

    # -- life cycle --------------------------------------------------------------------
    async def _build(self) -> None:
        rng = random.Random(self.seed)
        self.bus = EventBus(timestamps=self.config.timestampevents)
        self.pbx = PBX(self.config, self.bus, dialplan=self.dialplan, speed=self.speed,
                       seed=self.seed)
        self.manager = Manager(self.config, self.bus, rng, backend=PBXActions(self.pbx))
        missing = self.pbx.unsupported()
        if missing:
            log.info("these dialplan applications are not simulated; a call reaching one "
                     "hangs up: %s", "; ".join(missing))
        self.front = HTTPFront(self.manager, self.config.prefix, self.config.servername,
                               enabled=self.config.http_enabled and self.config.webenabled,
                               session_inactivity=self.session_inactivity,
                               session_limit=self.session_limit)
        self._server = await asyncio.start_server(self.front.serve, self.host, self.port,
                                                  reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        self.front.port = self.port
        self._reaper = asyncio.ensure_future(self._reap())
        self._spool_task = None
        if self.spool is not None:
            from amikit.sim.spool import Spool

            self._spool_task = asyncio.ensure_future(Spool(self.spool, self.pbx).run())

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            assert self.manager is not None
            self.manager.reap()

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._build())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._close())
            loop.close()

    async def _close(self) -> None:
        self._reaper.cancel()
        if self._spool_task is not None:
            self._spool_task.cancel()
        if self._server is not None:
            self._server.close()
            await self.front.close()
            await self._server.wait_closed()
        if self.pbx is not None:
            await self.pbx.shutdown()

    def start(self) -> Simulator:
        """Start serving in a background daemon thread; returns self."""
        if self.running:
            return self
        self._ready.clear()
        self._thread = threading.Thread(target=self._serve, name="amikit-sim", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            error, self._error = self._error, None
            if isinstance(error, OSError):
                raise AMIError(f"the simulator cannot listen on {self.host}:{self.port}: "
                               f"{error.strerror or error}") from error
            raise error
        log.info("amikit sim serving at %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread to end."""
        if self._loop is not None and self.running:
            self._loop.call_soon_threadsafe(self._loop.stop)
            assert self._thread is not None
            self._thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
