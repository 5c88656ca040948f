"""How fast amikit reads rawman text, against a naive split and panoramisk.

    pip install -e '.[bench]'
    python benchmarks/bench_parse.py [--repeat 10] [--file STREAM]

Every parser starts from the same bytes: the busy capture of a real Asterisk
(``amikit.sample_recording("busy")``, or ``--file``) repeated ``--repeat`` times.
Prints messages per second (best of ``--runs``) for:

* ``amikit parse_rawman``        - split into Message objects (headers built lazily)
* ``amikit parse + headers``     - the same, then every message's ``headers`` read
* ``naive split + dict``         - ``split("\\r\\n\\r\\n")`` then ``split(": ", 1)`` into dicts
  (loses repeated headers and order of duplicates, keeps no defects)
* ``panoramisk from_line``       - panoramisk's Message.from_line on each block

Targets (issue 2): parse_rawman no slower than the naive split; parse + headers at least
twice panoramisk.
"""

from __future__ import annotations

import argparse
import gc
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from amikit import parse_rawman, sample_recording


def amikit_parse(data: bytes) -> int:
    return len(parse_rawman(data))


def amikit_headers(data: bytes) -> int:
    messages = parse_rawman(data)
    for msg in messages:
        msg.headers  # noqa: B018 - reading them is the point
    return len(messages)


def naive(data: bytes) -> int:
    text = data.decode("utf-8")
    out = [dict(line.split(": ", 1) for line in block.split("\r\n") if ": " in line)
           for block in text.split("\r\n\r\n") if block]
    return len(out)


def panoramisk_from_line(data: bytes) -> int:
    from panoramisk.message import Message

    text = data.decode("utf-8")
    out = [Message.from_line(block) for block in text.split("\r\n\r\n") if block]
    return len(out)


def best_rate(fn, data: bytes, runs: int) -> tuple[float, int]:
    best = float("inf")
    count = 0
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        count = fn(data)
        best = min(best, time.perf_counter() - start)
    return count / best, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--file", type=pathlib.Path, default=None,
                        help="a rawman stream (default: the busy sample shipped with amikit)")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    one = args.file.read_bytes() if args.file else sample_recording("busy")
    data = one * args.repeat
    name = args.file.name if args.file else "sample_recording('busy')"
    print(f"input: {name} x{args.repeat} = {len(data) / 1e6:.1f} MB")
    contenders = [("amikit parse_rawman", amikit_parse), ("amikit parse + headers", amikit_headers),
                  ("naive split + dict", naive)]
    try:
        import panoramisk  # noqa: F401

        contenders.append(("panoramisk from_line", panoramisk_from_line))
    except ImportError:
        print("(panoramisk not installed: pip install -e '.[bench]')")
    rates = {}
    for name, fn in contenders:
        rate, count = best_rate(fn, data, args.runs)
        rates[name] = rate
        print(f"{name:24s} {rate:12,.0f} messages/s  ({count:,} messages)")
    ratio = rates["amikit parse_rawman"] / rates["naive split + dict"]
    print(f"parse_rawman / naive:            {ratio:.2f}x")
    if "panoramisk from_line" in rates:
        ratio = rates["amikit parse + headers"] / rates["panoramisk from_line"]
        print(f"parse + headers / panoramisk:    {ratio:.2f}x")


if __name__ == "__main__":
    main()
