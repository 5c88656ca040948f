"""Replay's start-up time on a very large recording, its throughput at unlimited speed, and
its memory (issue 15).

    python benchmarks/bench_replay.py [--events 1000000] [--file /tmp/amikit-1M.rawman]
                                      [--transports http tcp] [--keep]

Builds (once; kept with ``--keep``) a rawman recording of ``--events`` events: the shipped
busy recording (7,542 real events, 4 min 56 s) repeated, each copy's Timestamps moved on by
the recording's span, so the file is one long afternoon. Then, for each transport:

* ``start-up``: from ``Simulator(replay=FILE, speed=inf).start()`` to the first recorded
  event read by a client that logged in (the file is never read whole);
* ``throughput``: events published per second at unlimited speed while one client reads
  them all, and the events that client received per second (they must be equal in number);
* ``memory``: the process's peak resident size so far (it includes the earlier transports'
  runs: run one with ``--transports`` for its own), beside the file's size.

``--transports none`` measures the replay alone: ``play()`` with no session, so the events
are read, taken into the state and published to nobody (the client above runs in the same
process and shares its interpreter lock, so it roughly halves what the replay can do).
"""

from __future__ import annotations

import argparse
import pathlib
import re
import resource
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import amikit
from amikit import AMIClient, Simulator
from amikit.message import is_stream_event
from amikit.protocol import parse_recording

_STAMP = re.compile(rb"(?m)^Timestamp: ([0-9]+\.[0-9]+)")
# epoch seconds before a dot: Timestamps, Uniqueids and Linkedids of the lab's recordings
_EPOCH = re.compile(rb"\b(1795[0-9]{6})\.")


def build(path: pathlib.Path, events: int) -> int:
    """Write a recording of at least ``events`` events; returns how many it holds. Each copy
    of the busy recording is moved on in time by its span, and so are its ids (Uniqueid,
    Linkedid: epoch seconds too), so that every copy's channels are new ones."""
    data = amikit.sample_recording("busy")
    per_copy = sum(1 for m in parse_recording(data) if is_stream_event(m))
    stamps = [float(s) for s in _STAMP.findall(data)]
    span = int(max(stamps) - min(stamps)) + 2
    copies = -(-events // per_copy)
    with path.open("wb") as f:
        for n in range(copies):
            shift = n * span
            f.write(_EPOCH.sub(lambda m, shift=shift: b"%d." % (int(m[1]) + shift), data))
    return copies * per_copy


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def alone(path: pathlib.Path, total: int) -> None:
    started = time.perf_counter()
    with Simulator(port=0, replay=path, speed=float("inf")) as sim:
        sim.replay.play()
        sim.replay.wait()
        seconds = time.perf_counter() - started
        print(f"none  throughput at unlimited speed, no reader: {sim.replay.published:,} events in "
              f"{seconds:.1f} s = {sim.replay.published / seconds:,.0f} events/s; peak RSS "
              f"{peak_rss_mb():,.0f} MB for a {path.stat().st_size / 2**20:,.0f} MB file", flush=True)


def run(path: pathlib.Path, total: int, transport: str) -> None:
    if transport == "none":
        alone(path, total)
        return
    started = time.perf_counter()
    sim = Simulator(port=0, tcp_port=0 if transport == "tcp" else None, replay=path,
                    speed=float("inf")).start()
    url = sim.tcp_url if transport == "tcp" else sim.url
    try:
        with AMIClient(url, "hello", "world") as ami:
            # the client's own live events come first: SuccessfulAuth (and over TCP the
            # FullyBooted of the Login reply); every later one is recorded
            own = 2 if transport == "tcp" else 1
            read, first_at = 0, None
            while first_at is None:
                read += len(ami.wait_event(1))
                if read > own:
                    first_at = time.perf_counter() - started
            print(f"{transport:>4}  start-up (Simulator() to the first recorded event read): "
                  f"{first_at:6.2f} s", flush=True)
            clock = time.perf_counter()
            while True:
                finished = sim.replay.finished
                if finished and transport == "tcp":
                    ami.ping()  # events queued before it are written before its reply
                batch = ami.wait_event(1)
                read += len(batch)
                if finished and not batch:
                    break
            received = read - own
            seconds = time.perf_counter() - clock
            replay = sim.replay
            if received != replay.published:
                print(f"{transport:>4}  MISMATCH: {received:,} read, {replay.published:,} published",
                      flush=True)
            print(f"{transport:>4}  throughput at unlimited speed: {replay.published:,} events in "
                  f"{seconds:.1f} s = {replay.published / seconds:,.0f} events/s published, "
                  f"{received:,} read by the client ({received / seconds:,.0f}/s); "
                  f"dropped {sim.dropped_events}", flush=True)
            print(f"{transport:>4}  memory: peak RSS of the process so far {peak_rss_mb():,.0f} MB "
                  f"for a {path.stat().st_size / 2**20:,.0f} MB file of {replay.published:,} "
                  "events", flush=True)
    finally:
        sim.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--file", type=pathlib.Path, default=pathlib.Path("/tmp/amikit-1M.rawman"))
    parser.add_argument("--transports", nargs="+", choices=["none", "http", "tcp"],
                        default=["none", "http", "tcp"])
    parser.add_argument("--keep", action="store_true",
                        help="keep the file this run builds (an existing --file is never removed)")
    args = parser.parse_args()
    built = not args.file.exists()
    if built:
        began = time.perf_counter()
        total = build(args.file, args.events)
        print(f"built {args.file}: {total:,} events, {args.file.stat().st_size / 2**20:,.0f} MB "
              f"in {time.perf_counter() - began:.1f} s", flush=True)
    else:
        total = 0  # unknown until played: the figures say what was published
        print(f"using the existing {args.file}", flush=True)
    try:
        for transport in args.transports:
            run(args.file, total, transport)
    finally:
        if built and not args.keep:  # only what this run made: never a file of yours
            args.file.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
