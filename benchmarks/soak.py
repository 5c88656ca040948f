"""Soak the simulator: many polling sessions while calls are originated, for minutes or hours.

    python benchmarks/soak.py [--sessions 20] [--calls 5] [--minutes 1]   (--minutes 60: long run)

``amikit sim`` runs in its own process. ``--sessions`` sessions log in (rawman, cookie) and
long-poll WaitEvent back to back while one more session originates ``--calls`` calls per
second (Local/101@sets into 103). A ``UserEvent`` marks the start and the end of the measured
stretch; every session must receive the identical sequence of events between the two marks
(compared by a running SHA-256 of each event's bytes and a count), so any event lost,
duplicated or reordered for one session shows. The simulator's resident memory is sampled
at the start, after the warm-up (a fifth of the run, at most 60 s), every minute and at the
end: after the warm-up it should stay flat.

Exit status 0 when every session saw the same events, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from bench_sim import RawPoller, start_sim  # benchmarks/ is on sys.path when run as a script

from amikit import AsyncAMIClient

START, END = b"UserEvent: soak-start", b"UserEvent: soak-end"


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MiB: psutil if installed, else /proc/<pid>/statm."""
    try:
        import psutil  # type: ignore[import-untyped]
    except ImportError:
        pages = int(pathlib.Path(f"/proc/{pid}/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    return psutil.Process(pid).memory_info().rss / 2**20


class Poller(RawPoller):
    """One session on one keep-alive socket, hashing the events between the two marks."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.digest = hashlib.sha256()
        self.count = 0
        self.state = "before"  # before -> counting -> done

    def take(self, body: bytes) -> None:
        for block in body.split(b"\r\n\r\n"):
            if not block.startswith(b"Event: ") or block.startswith(b"Event: WaitEventComplete"):
                continue
            if self.state == "before":
                if START in block:
                    self.state = "counting"
                continue
            if self.state == "counting":
                if END in block:
                    self.state = "done"
                    return
                self.digest.update(block + b"\r\n\r\n")
                self.count += 1

    async def run(self) -> None:
        while self.state != "done":
            _, body = await self.request("action=WaitEvent&Timeout=2")
            self.take(body)
        self.writer.close()


async def caller(ami: AsyncAMIClient, stop: asyncio.Event, per_second: float) -> int:
    """Originate ``per_second`` calls a second until ``stop``; the number placed.

    The calling session reads (and drops) its own events once a second: a session that never
    polls keeps up to 20,000 events, which would show as memory growth that is not a leak.
    """
    placed = 0
    interval = 1.0 / per_second
    next_at = drained_at = time.monotonic()
    while not stop.is_set():
        await ami.originate(Channel="Local/101@sets", Context="sets", Exten="103",
                            Priority=1, Async=True)
        placed += 1
        if time.monotonic() - drained_at >= 1.0:
            await ami.action("WaitEvent", Timeout=0, check=False)
            drained_at = time.monotonic()
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    return placed


async def soak(url: str, pid: int, sessions: int, calls: float, minutes: float) -> int:
    seconds = minutes * 60
    warmup = min(60.0, seconds / 5)
    samples = [("start", rss_mb(pid))]
    pollers = [Poller(url) for _ in range(sessions)]
    await asyncio.gather(*(p.open() for p in pollers))
    tasks = [asyncio.create_task(p.run()) for p in pollers]
    stop = asyncio.Event()
    began = time.monotonic()
    async with AsyncAMIClient(url, "hello", "world") as marker:
        await marker.action("UserEvent", UserEvent="soak-start")
        calling = asyncio.create_task(caller(marker, stop, calls))
        await asyncio.sleep(warmup)
        samples.append(("after warm-up", rss_mb(pid)))
        next_sample = began + 60
        while time.monotonic() - began < seconds:
            await asyncio.sleep(min(1.0, max(0.0, began + seconds - time.monotonic())))
            if time.monotonic() >= next_sample and time.monotonic() - began < seconds - 1:
                samples.append((f"{(time.monotonic() - began) / 60:.0f} min", rss_mb(pid)))
                next_sample += 60
        stop.set()
        placed = await calling
        await asyncio.sleep(2)  # let the last calls' events reach the queues
        await marker.action("UserEvent", UserEvent="soak-end")
    await asyncio.wait_for(asyncio.gather(*tasks), 30)
    samples.append(("end", rss_mb(pid)))
    digests = {(p.digest.hexdigest(), p.count) for p in pollers}
    counts = sorted(p.count for p in pollers)
    print(f"sessions {sessions}, {calls:g} calls/s for {minutes:g} min: {placed} calls placed")
    print("events per session: " + (f"{counts[0]}" if counts[0] == counts[-1]
                                    else f"{counts[0]}..{counts[-1]}"))
    print("identical event sequence in every session: " + ("yes" if len(digests) == 1 else
                                                             f"NO ({len(digests)} different)"))
    print(f"events lost (fewest vs most received): {counts[-1] - counts[0]}")
    for label, value in samples:
        print(f"simulator RSS {label:>14}: {value:7.1f} MiB")
    warm = samples[1][1]
    print(f"RSS growth after warm-up: {samples[-1][1] - warm:+.1f} MiB")
    return 0 if len(digests) == 1 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20, help="polling sessions (default 20)")
    parser.add_argument("--calls", type=float, default=5.0, help="calls originated a second (5)")
    parser.add_argument("--minutes", type=float, default=1.0, help="how long (default 1; 60 long)")
    parser.add_argument("--speed", type=float, default=1.0, help="the simulator's --speed")
    args = parser.parse_args()
    proc, url = start_sim(args.speed)
    try:
        return asyncio.run(soak(url, proc.pid, args.sessions, args.calls, args.minutes))
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    raise SystemExit(main())
