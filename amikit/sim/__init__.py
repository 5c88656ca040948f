"""The embedded simulated Asterisk: the same HTTP and TCP AMI as a real Asterisk 23, over a small PBX.

    >>> from amikit import AMIClient, Simulator
    >>> with Simulator(port=0, speed=10) as sim:
    ...     with AMIClient(sim.url, "hello", "world") as ami:
    ...         ami.ping()["Ping"]
    'Pong'

``Simulator(port=0)`` picks a free port; ``sim.url`` is the base URL the client takes.
``Simulator(port=0, tcp_port=0)`` also serves AMI over TCP (as on port 5038) at ``sim.tcp_url``.
The
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
import os
import pathlib
import random
import threading
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

from amikit.errors import AMIError
from amikit.sim.config import ConfigError, SimConfig, load_config
from amikit.sim.dialplan import Dialplan
from amikit.sim.events import EventBus
from amikit.sim.httpd import SESSION_INACTIVITY, SESSION_LIMIT, HTTPFront
from amikit.sim.manager import Manager
from amikit.sim.pbx import PBX
from amikit.sim.pbx_actions import PBXActions
from amikit.sim.replay import Replay, ReplayError, TimeLike, Timestamps
from amikit.sim.replay_actions import ReplayActions
from amikit.sim.tcpfront import TCPFront

if TYPE_CHECKING:
    from amikit.sim.traffic import PatienceDistribution, Traffic

__all__ = ["MANAGER_CONF", "ConfigError", "Simulator"]

log = logging.getLogger("amikit.sim")

LOOPBACK = ("127.0.0.1", "localhost", "::1")
MANAGER_CONF = "manager.conf"  # tcp_port: the port (and enabled) of manager.conf


def check_bind(host: str, allow_remote: bool, config: SimConfig) -> None:
    """The simulator's rule for any address it listens on: loopback, or ``allow_remote`` and
    a password of your own; a warning either way when it reaches beyond this machine."""
    if host in LOOPBACK:
        return
    if not allow_remote:
        raise AMIError(f"refusing to bind {host}: the simulator binds 127.0.0.1 "
                       "unless allow_remote=True (--allow-remote) is given")
    if config.default_password_in_use:
        raise AMIError(f"refusing to bind {host} while user hello has the default "
                       "password 'world': give your own manager.conf with --config")
    warnings.warn(f"the simulator listens on {host}, beyond this machine", stacklevel=3)


class Simulator:
    """A simulated Asterisk serving HTTP AMI (``/rawman``, ``/mxml``, ``/manager`` and the
    digest twins ``/arawman``, ``/amxml``, ``/amanager``) and, when asked, TCP AMI.

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
        tcp_port: also serve AMI over TCP on this port (0 picks a free one; ``"manager.conf"``
            takes manager.conf's ``port``, 5038); None (the default) serves HTTP only, so many
            simulators can run at once. manager.conf's ``enabled = no`` turns TCP off, and its
            ``authtimeout`` and ``authlimit`` apply.
        tcp_host: the TCP address (default: ``host`` if given, else manager.conf's
            bindaddr, 127.0.0.1), under the same rule as ``host``.
        tcp_optional: when the TCP port is taken, log it and serve HTTP only instead of
            failing (``amikit sim`` without ``--tcp-port``).
        replay: a recording to play back instead of simulating a PBX (a path, or the bytes
            of one: rawman, mxml, JSON Lines or a TCP session, gzip-compressed or not). Its
            events reach every logged-in session ``speed`` times faster than recorded, from
            the first login on; ``sim.replay`` (:class:`~amikit.sim.replay.Replay`) pauses,
            seeks and changes the speed; the read-only actions describe the recorded PBX at
            the replay position and the others answer that the server is replaying. See
            :mod:`amikit.sim.replay`.
        replay_from, replay_to: play only this part (seconds from the recording's start, a
            time of day ``"HH:MM:SS"`` or an ISO date and time, UTC).
        loop: start the replay again from ``replay_from`` when it ends.
        timestamps: a replayed event's ``Timestamp``: ``"shifted"`` (the recording moved to
            the moment playback began, gaps as recorded), ``"original"`` or ``"wall"`` (the
            moment it is published).
        pbx_timestamps: give events a ``Timestamp`` in PBX time: the clock starts at the
            real time the simulator starts and runs ``speed`` times faster, so the events of
            an hour played at ``speed=60`` span an hour, as the durations AMI reports in them
            (HoldTime, TalkTime, DIALEDTIME) already do. Replies and CDRs keep real time.
    """

    def __init__(self, host: str | None = None, port: int | None = None, *,
                 config: str | pathlib.Path | None = None, speed: float = 1.0,
                 seed: int | None = None, spool: str | pathlib.Path | None = None,
                 allow_remote: bool = False, httptimeout: int | None = None,
                 session_inactivity: float = SESSION_INACTIVITY,
                 session_limit: int = SESSION_LIMIT, pbx_timestamps: bool = False,
                 tcp_port: int | str | None = None, tcp_host: str | None = None,
                 tcp_optional: bool = False,
                 replay: str | os.PathLike[str] | bytes | None = None,
                 replay_from: TimeLike | None = None, replay_to: TimeLike | None = None,
                 loop: bool = False, timestamps: Timestamps = "shifted") -> None:
        self.config: SimConfig = load_config(config)
        self.dialplan = Dialplan.parse(self.config.extensions, self.config.extensions_path)
        if httptimeout is not None:
            self.config.httptimeout = httptimeout
        self.host = host if host is not None else self.config.bindaddr
        self.port = port if port is not None else self.config.bindport
        check_bind(self.host, allow_remote, self.config)
        self.speed = speed
        self.seed = seed  # the PBX's channel ids and timings only: credentials use secrets
        self.session_inactivity = session_inactivity
        self.session_limit = session_limit
        self.pbx_timestamps = pbx_timestamps
        self.tcp_host = tcp_host or host or self.config.tcp_bindaddr
        self.tcp_port = self.config.tcp_port if tcp_port == MANAGER_CONF else tcp_port
        if not self.config.manager_enabled and self.tcp_port is not None:
            # manager.conf enabled = no: no AMI on TCP either; said, as a taken port is
            log.warning("TCP AMI is off: manager.conf says enabled = no (tcp_port %s ignored)",
                        self.tcp_port)
            self.tcp_port = None
        if self.tcp_port is not None:
            check_bind(self.tcp_host, allow_remote, self.config)
        self.tcp_optional = tcp_optional
        self._tcp_server: asyncio.base_events.Server | None = None
        self.spool = pathlib.Path(spool) if spool is not None else None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.manager: Manager | None = None
        self.pbx: PBX | None = None
        self.bus: EventBus | None = None
        self.replay: Replay | None = None
        if replay is not None:
            if spool is not None:
                raise ReplayError("a replaying simulator runs no call files: give spool or replay")
            if pbx_timestamps:
                raise ReplayError("pbx_timestamps is for a simulated PBX; a replay's Timestamps "
                                  "follow its timestamps= setting")
            # the file's head and tail are read now: a bad file or setting fails here, not in
            # the server's thread, and sim.replay is there to hold before the server starts
            self.replay = Replay(replay, speed=speed, start=replay_from, end=replay_to,
                                 loop=loop, timestamps=timestamps)

    @property
    def url(self) -> str:
        """The base URL to give :class:`amikit.AMIClient` (scheme, host, port, prefix)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.config.prefix}"

    @property
    def tcp_url(self) -> str | None:
        """``tcp://HOST:PORT`` of TCP AMI, or None when it is not served."""
        if self.tcp_port is None:
            return None
        host = f"[{self.tcp_host}]" if ":" in self.tcp_host else self.tcp_host
        return f"tcp://{host}:{self.tcp_port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def dropped_events(self) -> int:
        """Events the simulator dropped unread: each session keeps at most
        :data:`~amikit.sim.manager.QUEUE_LIMIT` (20,000) events waiting for its next poll
        and drops the oldest beyond that. Nonzero means some session's frame lacks events.

            >>> from amikit import AMIClient
            >>> with Simulator(port=0) as sim, AMIClient(sim.url, "hello", "world") as ami:
            ...     sim.dropped_events
            0
        """
        return self.manager.dropped_events if self.manager is not None else 0

    def __repr__(self) -> str:
        kind = f" replaying {self.replay.recording.name}" if self.replay is not None else ""
        return f"<Simulator{kind} {self.url} {'running' if self.running else 'stopped'}>"

    # -- life cycle --------------------------------------------------------------------
    async def _build(self) -> None:
        rng = random.Random(self.seed)
        self.bus = EventBus(timestamps=self.config.timestampevents, clock=self._clock())
        if self.replay is not None:
            self.manager = Manager(self.config, self.bus, rng,
                                   backend=ReplayActions(self.replay.current_state))
            self.manager.on_subscribe.append(self.replay.on_login)
        else:
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
        try:
            await self._listen_tcp()
        except BaseException:
            self._server.close()  # the HTTP socket too, so a failed start leaves nothing bound
            raise
        if self.replay is not None:  # once the ports are bound: a failed start leaves no task
            self.replay.attach(asyncio.get_running_loop(), self.bus)
        self._reaper = asyncio.ensure_future(self._reap())
        self._spool_task = None
        if self.spool is not None:
            from amikit.sim.spool import Spool

            self._spool_task = asyncio.ensure_future(Spool(self.spool, self.pbx).run())

    def _clock(self) -> Callable[[], float]:
        """The events' clock: real time, or PBX time from now on (``pbx_timestamps``)."""
        if not self.pbx_timestamps or self.speed == 1:
            return time.time
        start, speed = time.time(), self.speed
        return lambda: start + (time.time() - start) * speed

    async def _listen_tcp(self) -> None:
        assert self.manager is not None
        self.tcp_front = TCPFront(self.manager, authtimeout=self.config.authtimeout,
                                  authlimit=self.config.authlimit)
        if self.tcp_port is None:
            return
        try:
            self._tcp_server = await asyncio.start_server(
                self.tcp_front.serve, self.tcp_host, self.tcp_port, reuse_address=True)
        except OSError as exc:
            where = f"{self.tcp_host}:{self.tcp_port}"
            if not self.tcp_optional:
                raise AMIError(f"the simulator cannot listen for TCP AMI on {where}: "
                               f"{exc.strerror or exc}") from exc
            log.warning("TCP AMI is off: %s is taken (%s); serving HTTP only",
                        where, exc.strerror or exc)
            self.tcp_port = None
            return
        self.tcp_port = self.tcp_front.port = self._tcp_server.sockets[0].getsockname()[1]

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
        if self.replay is not None:
            await self.replay.detach()
        if self._spool_task is not None:
            self._spool_task.cancel()
        if self._server is not None:
            self._server.close()
            await self.front.close()
            await self._server.wait_closed()
        if self._tcp_server is not None:
            self._tcp_server.close()
            await self.tcp_front.close()
            await self._tcp_server.wait_closed()
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
        log.info("amikit sim serving at %s%s", self.url,
                 f" and {self.tcp_url}" if self.tcp_url else "")
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread to end."""
        if self._loop is not None and self.running:
            self._loop.call_soon_threadsafe(self._loop.stop)
            assert self._thread is not None
            self._thread.join(timeout=10)
        self._thread = None

    def traffic(self, queue: str | None = "support", calls_per_minute: float = 6.0, *,
                patience: float | None = 60.0,
                patience_distribution: PatienceDistribution = "exponential",
                minutes: float | None = 60.0, seed: int | None = None,
                exten: str | None = None, context: str | None = None) -> Traffic:
        """Callers arriving at random at ``queue`` (or at ``exten`` in ``context``), on the
        running simulator's own loop; returns at once with a handle to ``.wait()`` on or
        ``.stop()`` (see :mod:`amikit.sim.traffic` for the model).

        Args:
            queue: the queue whose extension callers dial (the one running ``Queue(queue…)``).
            calls_per_minute: the mean arrival rate (a Poisson process).
            patience: seconds a caller waits unanswered in a queue before hanging up (None:
                it never gives up).
            patience_distribution: ``"exponential"`` (drawn with mean ``patience``) or
                ``"fixed"``.
            minutes: how long callers keep arriving (None: until ``.stop()``).
            seed: makes the arrivals and patience reproducible (default: the simulator's).
            exten, context: call this extension instead of the queue's.

        All times are PBX time: at ``speed=60`` an hour of callers arrives in a minute. A
        rate, patience or ``minutes`` out of range raises
        :class:`~amikit.sim.traffic.TrafficError` (an AMIError and a ValueError).

            >>> with Simulator(port=0, speed=100, seed=1) as sim:
            ...     calls = sim.traffic("support", calls_per_minute=6, minutes=1)
            ...     calls.wait(30), calls.placed
            (True, 6)
        """
        from amikit.sim.traffic import Traffic, arrivals, find_target

        if self.replay is not None:
            raise AMIError("a replaying simulator places no calls of its own: it plays the "
                           "recording's")
        if not self.running or self._loop is None or self.pbx is None:
            raise AMIError("start the simulator before its traffic (sim.start(), or with)")
        where, number = find_target(self.dialplan, queue, exten=exten, context=context)
        plan = arrivals(calls_per_minute, minutes, patience=patience,
                        patience_distribution=patience_distribution,
                        seed=self.seed if seed is None else seed)
        return Traffic(self.pbx, self._loop, plan, channel=f"Local/{number}@{where}")

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
