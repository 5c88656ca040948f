"""How many polling sessions the simulator serves, how fast and how promptly.

    python benchmarks/bench_sim.py [--sessions 10 50 100] [--seconds 10] [--calls 20]
                                   [--transports http tcp]

For each session count: ``amikit sim`` runs in its own process; that many sessions log in
and long-poll WaitEvent (rawman) back to back, or (``tcp``) log in on the TCP port with
events on and read what is pushed, while another session originates ``--calls`` calls per
second (Local/101@sets into 103: about 50 events a call). Reported: events/s delivered to
each session, the latency from an event's ``Timestamp`` to its arrival at the client
(p50/p95, same machine and clock), and the simulator's resident memory. Then one session
alone against a flood of calls, for the events/s one session sustains, and a session that
stops polling, to show its queue is capped.

Targets (issue 3): 100 sessions served; latency p50 <= 5 ms and p95 <= 20 ms; one session
>= 5,000 events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import pathlib
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from amikit import AsyncAMIClient


def start_sim(speed: float, *extra: str) -> tuple[subprocess.Popen[str], str]:
    """``amikit sim`` in its own process (``extra``: more of its flags); its HTTP URL."""
    proc = subprocess.Popen([sys.executable, "-m", "amikit.cli", "sim", "--port", "0",
                             "--speed", str(speed), *extra], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    url = re.search(r"http://\S+", line)
    if not url:
        proc.kill()
        raise SystemExit(f"amikit sim did not start: {line!r}")
    return proc, url[0]


def tcp_url_of(proc: subprocess.Popen[str]) -> str:
    """The ``tcp://`` address a simulator started with ``--tcp-port`` prints."""
    assert proc.stdout is not None
    for line in proc.stdout:
        found = re.search(r"tcp://\S+?(?=:? )", line)
        if found:
            return found[0]
    raise SystemExit("amikit sim did not print its TCP address")


def rss_mb(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class RawPoller:
    """A deliberately thin HTTP client (one keep-alive socket, no parsing beyond what is
    counted), so that the figures are the simulator's and not the client library's."""

    def __init__(self, url: str) -> None:
        host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
        self.host, self.port = host, int(port)
        self.cookie = ""

    async def request(self, query: str, body: bytes | None = None) -> tuple[bytes, bytes]:
        method = "POST" if body is not None else "GET"
        head = (f"{method} /rawman{'?' + query if query else ''} HTTP/1.1\r\nHost: {self.host}\r\n"
                f"Cookie: mansession_id=\"{self.cookie}\"\r\n")
        if body is not None:
            head += ("Content-Type: application/x-www-form-urlencoded\r\n"
                     f"Content-Length: {len(body)}\r\n")
        self.writer.write((head + "\r\n").encode() + (body or b""))
        headers = await self.reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"Content-Length: (\d+)", headers)[1])
        return headers, await self.reader.readexactly(length)

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        headers, _ = await self.request("", b"action=Login&username=hello&secret=world")
        self.cookie = re.search(rb'mansession_id="([0-9a-f]+)"', headers)[1].decode()


async def poller(url: str, stop: asyncio.Event, counts: list[int], latencies: list[float]) -> None:
    client = RawPoller(url)
    await client.open()
    await client.request("action=WaitEvent&Timeout=0")
    counts.append(0)
    me = len(counts) - 1
    while not stop.is_set():
        _, body = await client.request("action=WaitEvent&Timeout=2")
        now = time.time()
        stamps = re.findall(rb"\r\nTimestamp: (\d+\.\d+)", body)
        counts[me] += len(stamps)
        latencies.extend(now - float(s) for s in stamps)
    client.writer.close()


async def tcp_listener(tcp_url: str, stop: asyncio.Event, counts: list[int],
                       latencies: list[float]) -> None:
    """A TCP session with events on: no polling, it reads what the simulator pushes."""
    host, port = tcp_url.removeprefix("tcp://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"Action: Login\r\nUsername: hello\r\nSecret: world\r\n\r\n")
    await reader.readuntil(b"Authentication accepted\r\n\r\n")
    counts.append(0)
    me = len(counts) - 1
    pending = b""
    while not stop.is_set():
        try:
            data = await asyncio.wait_for(reader.read(65536), 0.5)
        except TimeoutError:
            continue
        now = time.time()
        pending += data
        cut = pending.rfind(b"\r\n") + 2  # a line split across reads waits for its end
        stamps = re.findall(rb"\r\nTimestamp: (\d+\.\d+)", pending[:cut])
        pending = pending[cut - 2:]
        counts[me] += len(stamps)
        latencies.extend(now - float(s) for s in stamps)
    writer.close()


async def caller(url: str, stop: asyncio.Event, per_second: float) -> int:
    placed = 0
    async with AsyncAMIClient(url, "hello", "world") as ami:
        interval = 1.0 / per_second
        next_at = time.monotonic()
        while not stop.is_set():
            await ami.originate(Channel="Local/101@sets", Context="sets", Exten="103",
                                Priority=1, Async=True)
            placed += 1
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    return placed


async def run(url: str, sessions: int, seconds: float, calls: float,
              tcp_url: str | None = None) -> dict[str, float]:
    """``sessions`` readers (WaitEvent pollers, or TCP listeners at ``tcp_url``) while calls
    are placed over HTTP; their events/s and latencies."""
    stop = asyncio.Event()
    counts: list[int] = []
    latencies: list[float] = []
    polls = [asyncio.create_task(tcp_listener(tcp_url, stop, counts, latencies) if tcp_url
                                 else poller(url, stop, counts, latencies))
             for _ in range(sessions)]
    while len(counts) < sessions:
        await asyncio.sleep(0.05)
    calling = asyncio.create_task(caller(url, stop, calls))
    await asyncio.sleep(seconds)
    stop.set()
    placed = await calling
    await asyncio.gather(*polls)
    latencies.sort()
    return {
        "calls": placed,
        "events_per_session_per_s": statistics.mean(counts) / seconds,
        "min_session_events": min(counts),
        "p50_ms": latencies[len(latencies) // 2] * 1000 if latencies else float("nan"),
        "p95_ms": latencies[int(len(latencies) * 0.95)] * 1000 if latencies else float("nan"),
    }


async def stalled(url: str, pid: int, seconds: float, calls: float) -> tuple[float, float]:
    async with AsyncAMIClient(url, "hello", "world") as idle:
        await idle.ping()  # logged in, then never polls
        before = rss_mb(pid)
        stop = asyncio.Event()
        calling = asyncio.create_task(caller(url, stop, calls))
        await asyncio.sleep(seconds)
        stop.set()
        await calling
        return before, rss_mb(pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[10, 50, 100])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--calls", type=float, default=20.0, help="calls per second")
    parser.add_argument("--flood", type=float, default=150.0,
                        help="calls per second for the one-session throughput run")
    parser.add_argument("--transports", nargs="+", choices=["http", "tcp"], default=["http", "tcp"],
                        help="HTTP WaitEvent pollers, TCP sessions with events pushed, or both")
    args = parser.parse_args()
    print(f"{'via':>4} {'sessions':>8} {'calls':>6} {'events/s/session':>17} {'p50 ms':>7} "
          f"{'p95 ms':>7} {'sim RSS MB':>10}")
    for transport in args.transports:
        for sessions in args.sessions:
            proc, url = start_sim(10, "--tcp-port", "0")
            try:
                tcp_url = tcp_url_of(proc) if transport == "tcp" else None
                result = asyncio.run(run(url, sessions, args.seconds, args.calls, tcp_url))
                print(f"{transport:>4} {sessions:>8} {result['calls']:>6.0f} "
                      f"{result['events_per_session_per_s']:>17,.0f} {result['p50_ms']:>7.2f} "
                      f"{result['p95_ms']:>7.2f} {rss_mb(proc.pid):>10.1f}", flush=True)
            finally:
                proc.terminate()
                proc.wait()
    proc, url = start_sim(speed=50)
    try:
        result = asyncio.run(run(url, 1, args.seconds, args.flood))
        print(f"one session, {args.flood:.0f} calls/s offered: "
              f"{result['events_per_session_per_s']:,.0f} events/s delivered, "
              f"p50 {result['p50_ms']:.2f} ms, p95 {result['p95_ms']:.2f} ms")
        before, after = asyncio.run(stalled(url, proc.pid, args.seconds, args.calls * 5))
        print(f"a session that stops polling: simulator RSS {before:.1f} MB -> {after:.1f} MB "
              f"(its queue is capped at 20,000 events, oldest dropped first)")
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
