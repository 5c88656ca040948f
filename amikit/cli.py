"""The ``amikit`` command line.

    amikit decode FILE            print a recorded AMI body or stream (rawman, mxml, HTML, TCP)
    amikit send URL ACTION [Header=value ...]
                                  send one action and print the reply
    amikit sim [--host H] [--port P] [--config DIR] [--speed X] [--seed N] [--spool DIR]
               [--tcp-port N | --no-tcp]
               [--traffic QUEUE:N/min [--patience S] [--minutes M]] [--pbx-timestamps]
                                  serve a simulated Asterisk until Ctrl-C
    amikit replay FILE | --sample busy [--speed X|max] [--from T] [--to T] [--loop]
               [--timestamps shifted|original|wall] [--host H] [--port P] [--tcp-port N | --no-tcp]
                                  serve a recording's events as live AMI traffic until Ctrl-C
    amikit tail URL [--name Event ...]   print events as they come
    amikit record URL -o FILE           record events to JSON Lines (.jsonl) or Parquet
    amikit lab [--no-browser] [--port P]   the simulator and JupyterLab on the notebooks
    amikit version

URL is the server's HTTP base URL (``http://127.0.0.1:8088``) or AMI's TCP port
(``tcp://127.0.0.1:5038``, which needs no http.conf). Credentials for ``send``, ``tail`` and
``record`` come from ``--user`` / ``AMIKIT_USER`` and ``AMIKIT_SECRET`` (or a prompt that
does not echo); a secret is never printed.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import pathlib
import sys
from collections.abc import Callable, Iterable, Sequence
from importlib import resources
from typing import TYPE_CHECKING

from amikit import __version__
from amikit.client import AMIClient
from amikit.errors import AMIError
from amikit.message import Message, is_stream_event
from amikit.protocol import parse_recording
from amikit.samples import SAMPLES, sample_recording
from amikit.session import AUTHS, SessionCore

if TYPE_CHECKING:
    from amikit.sim import Simulator
    from amikit.sim.traffic import Traffic

__all__ = ["main"]

SAMPLE = "sample_originate.rawman"


def _print_messages(messages: Iterable[Message], as_json: bool, out=None) -> int:
    out = out or sys.stdout
    count = 0
    for msg in messages:
        shown = msg.redacted().headers
        if as_json:
            out.write(json.dumps({"headers": shown, "defects": msg.defects},
                                 ensure_ascii=False) + "\n")
        else:
            out.write("".join(f"{n}: {v}\n" for n, v in shown))
            for defect in msg.defects:
                out.write(f"# defect: {defect}\n")
            out.write("\n")
        count += 1
    return count


def _decode(args: argparse.Namespace) -> int:
    if args.sample:
        data = resources.files("amikit").joinpath("data", SAMPLE).read_bytes()
    elif args.file in (None, "-"):
        data = sys.stdin.buffer.read()
    else:
        with open(args.file, "rb") as f:
            data = f.read()
    messages = parse_recording(data)
    if args.events:
        messages = [m for m in messages if is_stream_event(m)]
    if args.name:
        wanted = {n.lower() for n in args.name}
        messages = [m for m in messages if (m.name or "").lower() in wanted]
    count = _print_messages(messages, args.json)
    if not args.json:
        print(f"# {count} messages", file=sys.stderr)
    return 0


def _header_pairs(items: Sequence[str]) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        name, eq, value = item.partition("=")
        if not eq:
            raise AMIError(f"headers are Name=value, got {item!r}")
        pairs.append((name, value))
    return pairs


def _credentials(args: argparse.Namespace) -> tuple[str, str]:
    user = args.user or os.environ.get("AMIKIT_USER")
    if not user:
        raise AMIError("give --user or set AMIKIT_USER")
    try:  # a URL or option the client refuses is said before the secret is asked for
        SessionCore(args.url, user, "", encoding=args.encoding, auth=args.auth)
    except ValueError as exc:
        raise AMIError(str(exc)) from None
    secret = os.environ.get("AMIKIT_SECRET")
    if not secret:
        if not sys.stdin.isatty():
            raise AMIError("set AMIKIT_SECRET (there is no terminal to ask for the secret on)")
        secret = getpass.getpass(f"secret for {user}: ")
    return user, secret


def _client(args: argparse.Namespace) -> AMIClient:
    """The client the command line asks for: URL, credentials, encoding and auth."""
    user, secret = _credentials(args)
    try:
        return AMIClient(args.url, user, secret, encoding=args.encoding, auth=args.auth)
    except ValueError as exc:  # a URL or option the client refuses: a usage error
        raise AMIError(str(exc)) from None


def _tail(args: argparse.Namespace) -> int:
    client = _client(args)
    _stop_on_sigterm()
    with client as ami:
        try:
            for event in ami.events(names=args.name):
                _print_messages([event], args.json)
                sys.stdout.flush()
        except KeyboardInterrupt:
            pass
    return 0


def _record(args: argparse.Namespace) -> int:
    from amikit.frames import EventLog

    client = _client(args)
    out = args.output
    parquet = out.endswith(".parquet")
    log = EventLog(max_events=args.max_events)
    _stop_on_sigterm()
    count = 0
    with client as ami, \
            open(os.devnull if parquet else out, "w", encoding="utf-8",
                 errors="surrogateescape") as f:
        try:
            for event in ami.events(names=args.name):
                count += 1
                if parquet:
                    log.append(event)
                else:  # written as it comes, so a hard stop keeps what was recorded
                    f.write(json.dumps({"headers": event.headers,
                                        "received_at": event.received_at},
                                       ensure_ascii=False) + "\n")
                    f.flush()
        except KeyboardInterrupt:
            pass
    if parquet:
        log.to_parquet(out)
    print(f"amikit: {count} events recorded to {out}", file=sys.stderr)
    return 0


def _send(args: argparse.Namespace) -> int:
    client = _client(args)
    headers: dict[str, str | list[str]] = {}
    for name, value in _header_pairs(args.headers):
        previous = headers.get(name)
        if previous is None:
            headers[name] = value
        else:  # a repeated header (Variable=A=1 Variable=B=2)
            headers[name] = [*([previous] if isinstance(previous, str) else previous), value]
    with client as ami:
        reply = ami.action(args.action, check=False, **headers)
    _print_messages([reply, *reply.events], args.json)
    return 0 if reply.get("Response", "").lower() != "error" else 1


def _stop_on_sigterm() -> None:
    import signal

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def _sim_logging(command: str = "amikit sim") -> None:
    import logging

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(f"{command}: %(message)s"))
    logging.getLogger("amikit").addHandler(handler)


def _announce(sim: Simulator, what: str, command: str = "amikit sim") -> None:
    """The lines every serving command starts with (binder/start reads the exports)."""
    login = "hello / world (as in the book)" if sim.config.default_password_in_use else \
        "the users of your manager.conf"
    print(f"{command}: {what} at {sim.url}", flush=True)
    print(f"  login: {login}; Ctrl-C stops it", flush=True)
    if sim.tcp_url is not None:  # before AMIKIT_URL: binder/start reads both once that is out
        print(f"  export AMIKIT_TCP_URL={sim.tcp_url}", flush=True)
    print(f"  export AMIKIT_URL={sim.url}", flush=True)


def _serve(sim: Simulator, tick: Callable[[], None] | None = None) -> int:
    """Serve until Ctrl-C or SIGTERM, calling ``tick`` twice a second."""
    import time

    if sim.tcp_url:
        print(f"  AMI over TCP at {sim.tcp_url}: nc {sim.tcp_host} {sim.tcp_port}", flush=True)
    _stop_on_sigterm()
    try:
        while sim.running:
            time.sleep(0.5)
            if tick is not None:
                tick()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


def _sim(args: argparse.Namespace) -> int:
    from amikit.sim import Simulator

    if args.traffic:  # a bad --traffic is refused before the simulator says it is there
        _traffic_settings(args)
    elif args.minutes is not None or args.patience is not None:
        print("amikit sim: --minutes and --patience go with --traffic; ignored", file=sys.stderr)
    _sim_logging()
    sim = Simulator(args.host, args.port, config=args.config, speed=args.speed, seed=args.seed,
                    **_tcp_options(args),
                    spool=args.spool, allow_remote=args.allow_remote,
                    pbx_timestamps=args.pbx_timestamps).start()
    _announce(sim, "a simulated Asterisk 23")
    if args.traffic:
        try:
            _traffic(sim, args)
        except AMIError:
            sim.stop()
            raise
    return _serve(sim)


def _replay(args: argparse.Namespace) -> int:
    from amikit.sim import Simulator
    from amikit.sim.replay import parse_speed, when

    if (args.file is None) == (args.sample is None):
        raise AMIError("amikit replay takes a FILE or --sample NAME (one of them)")
    source = sample_recording(args.sample) if args.sample else args.file
    speed = parse_speed(args.speed)
    _sim_logging("amikit replay")
    sim = Simulator(args.host, args.port, config=args.config, allow_remote=args.allow_remote,
                    **_tcp_options(args), replay=source, speed=speed, replay_from=args.start,
                    replay_to=args.end, loop=args.loop, timestamps=args.timestamps).start()
    replay = sim.replay
    assert replay is not None
    name = f"sample {args.sample!r}" if args.sample else args.file
    _announce(sim, f"replaying {name}", "amikit replay")
    pace = "unlimited speed" if speed == float("inf") else f"{speed:g}x"
    end = replay.end_time or replay.recording.last_time
    span = ("whole, in order, as fast as it is read (it has no times)" if replay.start_time is None
            else f"from {when(replay.start_time)} to {when(end) if end is not None else 'its end'}")
    print(f"  {span} at {pace}{', looping' if args.loop else ''}; playback starts at the "
          "first login", flush=True)
    said = False

    def tick() -> None:
        nonlocal said
        if replay.finished and not said:
            said = True
            how = "stopped early (said above)" if replay.error else "finished"
            print(f"  replay {how}: {replay.published} events; still serving the final state "
                  "until Ctrl-C", flush=True)

    return _serve(sim, tick)


DEFAULT_PATIENCE = 60.0  # seconds, --patience's default


def _traffic_settings(args: argparse.Namespace) -> tuple[str, float, float | None, float | None]:
    """``--traffic``, ``--minutes`` and ``--patience`` checked: (queue, calls a minute,
    minutes or None for until Ctrl-C, patience or None for never giving up)."""
    from amikit.sim.traffic import parse_rate

    queue, rate = parse_rate(args.traffic)
    if args.minutes is not None and not args.minutes >= 0:
        raise AMIError(f"--minutes is 0 (until Ctrl-C) or more, not {args.minutes:g}")
    patience = DEFAULT_PATIENCE if args.patience is None else args.patience
    if not patience >= 0:
        raise AMIError(f"--patience is 0 (never give up) or more seconds, not {patience:g}")
    return queue, rate, args.minutes or None, patience or None


def _traffic(sim: Simulator, args: argparse.Namespace) -> Traffic:
    """Start the callers of ``--traffic`` (see :mod:`amikit.sim.traffic`); ``--minutes``
    absent or 0 means until the simulator stops."""
    queue, rate, minutes, patience = _traffic_settings(args)
    calls = sim.traffic(queue, rate, patience=patience, minutes=minutes,
                        patience_distribution=args.patience_distribution)
    waits = "never give up" if patience is None else (
        f"give up after {patience:g} s" if args.patience_distribution == "fixed"
        else f"give up after {patience:g} s on average")
    span = "until Ctrl-C" if minutes is None else f"for {minutes:g} minutes"
    print(f"  traffic: {rate:g} calls a minute to queue {queue} ({calls.channel}) {span}; "
          f"callers {waits}", flush=True)
    return calls


def _tcp_options(args: argparse.Namespace) -> dict[str, object]:
    """``--tcp-port N`` must get its port; without it, manager.conf's port (5038) is served
    if it is free, and a taken one is reported and left out (HTTP only)."""
    from amikit.sim import MANAGER_CONF

    if args.no_tcp:
        return {"tcp_port": None}
    if args.tcp_port is not None:
        return {"tcp_port": args.tcp_port}
    return {"tcp_port": MANAGER_CONF, "tcp_optional": True}


def _notebooks_dir() -> pathlib.Path:
    here = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
    return here if here.is_dir() else pathlib.Path.cwd() / "notebooks"


def _lab(args: argparse.Namespace) -> int:
    import shutil
    import subprocess
    import tempfile

    from amikit.sim import Simulator

    jupyter = shutil.which("jupyter")
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        jupyter = None
    if jupyter is None:
        raise AMIError("JupyterLab is not installed: pip install -e '.[lab]'")
    notebooks = _notebooks_dir()
    if not notebooks.is_dir():
        raise AMIError(f"no notebooks folder at {notebooks}: run amikit lab from the repository")
    spool = pathlib.Path(tempfile.mkdtemp(prefix="amikit-spool-"))
    sim = Simulator(port=0, tcp_port=0, spool=spool).start()
    env = {**os.environ, "AMIKIT_URL": sim.url, "AMIKIT_USER": "hello", "AMIKIT_SECRET": "world",
           "AMIKIT_SPOOL": str(spool)}
    if sim.tcp_url is not None:
        env["AMIKIT_TCP_URL"] = sim.tcp_url
    print(f"amikit lab: simulated Asterisk at {sim.url} and {sim.tcp_url} (hello / world), "
          f"spool {spool}", flush=True)
    from amikit.lab import jupyter_lab_command

    command = jupyter_lab_command(jupyter, port=args.port, root_dir=notebooks,
                                  open_browser=not args.no_browser, extra=args.jupyter_args)
    _stop_on_sigterm()
    lab = subprocess.Popen(command, env=env)
    try:
        return lab.wait()
    except KeyboardInterrupt:
        lab.terminate()
        lab.wait(timeout=30)
        return 0
    finally:
        sim.stop()
        shutil.rmtree(spool, ignore_errors=True)  # the temporary spool is ours alone


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="amikit", description="Explore the Asterisk Manager Interface (over HTTP or TCP).")
    sub = parser.add_subparsers(dest="command", required=True)

    decode = sub.add_parser("decode", help="print a recorded AMI body or stream")
    decode.add_argument("file", nargs="?", help="a file (rawman, mxml, /manager HTML or a TCP "
                        "session); - or nothing for standard input")
    decode.add_argument("--sample", action="store_true",
                        help="decode the sample recording shipped with amikit")
    decode.add_argument("--events", action="store_true", help="events only")
    decode.add_argument("--name", action="append", help="only events of this name (repeatable)")
    decode.add_argument("--json", action="store_true", help="one JSON object per message")
    decode.set_defaults(run=_decode)

    send = sub.add_parser("send", help="send one action and print the reply")
    send.add_argument("url", help=_URL_HELP)
    send.add_argument("action", help="the action's name, e.g. Ping")
    send.add_argument("headers", nargs="*", help="headers as Name=value")
    _connection_options(send)
    send.add_argument("--json", action="store_true", help="one JSON object per message")
    send.set_defaults(run=_send)

    for name, helps, run in (("tail", "print events as they come", _tail),
                             ("record", "record events to JSON Lines or Parquet until stopped",
                              _record)):
        cmd = sub.add_parser(name, help=helps)
        cmd.add_argument("url", help=_URL_HELP)
        _connection_options(cmd)
        cmd.add_argument("--name", action="append", help="only events of this name (repeatable)")
        if name == "tail":
            cmd.add_argument("--json", action="store_true", help="one JSON object per event")
        else:
            cmd.add_argument("-o", "--output", required=True,
                             help="FILE.jsonl (written as events come) or FILE.parquet")
            cmd.add_argument("--max-events", type=int, default=None,
                             help="keep at most this many events for Parquet (oldest dropped)")
        cmd.set_defaults(run=run)

    sim = sub.add_parser("sim", help="serve a simulated Asterisk (HTTP and TCP AMI) until Ctrl-C")
    sim.add_argument("--speed", type=float, default=1.0,
                     help="run the PBX's own durations X times faster (default 1)")
    sim.add_argument("--seed", type=int, help="make ids and timings reproducible")
    sim.add_argument("--spool", help="spool directory like /var/spool/asterisk (call files)")
    _server_options(sim)
    sim.add_argument("--traffic", metavar="QUEUE:N/min",
                     help="callers arriving at random (Poisson) at the queue's extension, N a "
                     "minute (or QUEUE:N/h), e.g. support:6/min")
    sim.add_argument("--patience", type=float, default=None, metavar="S",
                     help="with --traffic: seconds a caller waits unanswered in the queue before "
                     "hanging up, an exponential draw with this mean (default 60; 0 = never)")
    sim.add_argument("--patience-distribution", choices=["exponential", "fixed"],
                     default="exponential", help="with --traffic: how patience is drawn")
    sim.add_argument("--minutes", type=float, default=None, metavar="M",
                     help="with --traffic: stop the arrivals after M minutes of PBX time "
                     "(default, or 0: until Ctrl-C)")
    sim.add_argument("--pbx-timestamps", action="store_true",
                     help="events' Timestamp in PBX time (runs --speed times faster), so an "
                     "hour played at --speed 60 spans an hour")
    sim.set_defaults(run=_sim)

    replay = sub.add_parser("replay", help="serve a recording's events as live AMI traffic "
                            "(HTTP and TCP) until Ctrl-C",
                            description="Replay a recording through the simulator's AMI: every "
                            "client that logs in receives its events as if they happened now.")
    replay.add_argument("file", nargs="?", help="a recording: rawman or mxml stream, amikit JSON "
                        "Lines, a TCP session (*.s2c.bin); gzip-compressed or not")
    replay.add_argument("--sample", choices=sorted(SAMPLES), help="replay a recording shipped "
                        "with amikit instead of FILE (busy: five minutes of a busy PBX)")
    replay.add_argument("--speed", default="1", metavar="X",
                        help="X times faster than recorded (default 1; 5x is 5; max = no waiting)")
    replay.add_argument("--from", dest="start", metavar="T", help="start at T: seconds from "
                        "the recording's start, HH:MM:SS (UTC) or an ISO date and time")
    replay.add_argument("--to", dest="end", metavar="T", help="stop at T (as --from)")
    replay.add_argument("--loop", action="store_true", help="start again when it ends")
    replay.add_argument("--timestamps", choices=["shifted", "original", "wall"], default="shifted",
                        help="events' Timestamp: moved to the moment playback began, gaps as "
                        "recorded (shifted, the default); as recorded (original); or the moment "
                        "each is sent (wall)")
    _server_options(replay)
    replay.set_defaults(run=_replay)

    lab = sub.add_parser("lab", help="start the simulator and JupyterLab on the notebooks")
    lab.add_argument("--no-browser", action="store_true", help="do not open a browser")
    lab.add_argument("--port", type=int, default=8888, help="JupyterLab's port (default 8888)")
    lab.add_argument("jupyter_args", nargs=argparse.REMAINDER,
                     help="after --: more options for jupyter lab")
    lab.set_defaults(run=_lab)

    version = sub.add_parser("version", help="print amikit's version")
    version.set_defaults(run=lambda args: print(f"amikit {__version__}") or 0)
    return parser


_URL_HELP = ("the server's HTTP base URL, e.g. http://127.0.0.1:8088, or AMI's TCP port, "
             "e.g. tcp://127.0.0.1:5038")


def _server_options(parser: argparse.ArgumentParser) -> None:
    """Where a serving command listens, and under which configuration."""
    parser.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default 8088; 0 = any free)")
    tcp = parser.add_mutually_exclusive_group()
    tcp.add_argument("--tcp-port", type=int, default=None, metavar="N",
                     help="serve AMI over TCP on port N (0 = any free; default: manager.conf's "
                          "port, 5038, when it is free, else HTTP only)")
    tcp.add_argument("--no-tcp", action="store_true", help="serve HTTP AMI only")
    parser.add_argument("--config", help="directory with manager.conf, http.conf, extensions.conf, "
                        "pjsip.conf, sim.conf (each optional)")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow binding an address other than loopback")


def _connection_options(parser: argparse.ArgumentParser) -> None:
    """The options every command that talks to a server takes."""
    parser.add_argument("--user", help="manager.conf user (default: $AMIKIT_USER)")
    parser.add_argument("--encoding", choices=["rawman", "mxml"], default="rawman",
                        help="HTTP only (TCP is always rawman)")
    parser.add_argument("--auth", choices=list(dict.fromkeys(a for ways in AUTHS.values()
                                                             for a in ways)), default=None,
                        help="HTTP: cookie (default) or digest; TCP: plain (default, Login with "
                        "Secret) or md5 (Challenge, then Login with the MD5 Key)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except AMIError as exc:
        print(f"amikit: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `amikit tail … | head`: the reader has had enough
        # stdout's buffer would fail again at exit; point it at nothing (as the Python docs do)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        print(f"amikit: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
