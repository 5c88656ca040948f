"""Bytes to a typed DataFrame for a million events, against the naive path.

    python benchmarks/bench_frames.py [--events 1000000]

Input: the busy capture of a real Asterisk (``amikit.sample_recording("busy")``, or
``--file``) repeated until it holds at least ``--events`` events. Both paths start from the same bytes:

* ``amikit.read_events(data)``: the columnar path (typed columns, no dict per message);
* naive: ``split("\\r\\n\\r\\n")``, ``split(": ", 1)`` into a dict per message, then
  ``pd.DataFrame(list_of_dicts)`` (untyped, repeated headers lost).

Reported: seconds, ``memory_usage(deep=True)``, and their ratios. Then ``df.ami.channels()``
and ``df.ami.calls()`` on the result, and ``plot_timeline`` with 10,000 channels.

Targets (issue 4): amikit <= 0.35x the naive time and <= 0.2x its memory; channels() and
calls() in seconds; plot_timeline of 10,000 channels in <= 3 s.
"""

from __future__ import annotations

import argparse
import gc
import pathlib
import sys
import time

import pandas as pd

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import amikit


def naive(data: bytes) -> pd.DataFrame:
    text = data.decode("utf-8")
    rows = [dict(line.split(": ", 1) for line in block.split("\r\n") if ": " in line)
            for block in text.split("\r\n\r\n") if block]
    return pd.DataFrame(rows)


def timed(fn, *args):
    gc.collect()
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--file", type=pathlib.Path, default=None,
                        help="a rawman stream (default: the busy sample shipped with amikit)")
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    one = args.file.read_bytes() if args.file else amikit.sample_recording("busy")
    per_copy = len(amikit.read_events(one))
    data = one * -(-args.events // per_copy)
    print(f"input: {len(data) / 1e6:.0f} MB")

    frame, amikit_s = timed(amikit.read_events, data)
    amikit_mb = frame.memory_usage(deep=True).sum() / 1e6
    print(f"amikit read_events: {len(frame):,} events in {amikit_s:.2f} s, {amikit_mb:,.0f} MB")
    plain, naive_s = timed(naive, data)
    naive_mb = plain.memory_usage(deep=True).sum() / 1e6
    print(f"naive dicts + DataFrame: {len(plain):,} rows in {naive_s:.2f} s, {naive_mb:,.0f} MB")
    del plain
    print(f"time ratio {amikit_s / naive_s:.2f}x, memory ratio {amikit_mb / naive_mb:.2f}x")

    channels, channels_s = timed(lambda: frame.ami.channels())
    print(f"channels(): {len(channels):,} channels in {channels_s:.2f} s")
    calls, calls_s = timed(lambda: frame.ami.calls())
    print(f"calls(): {len(calls):,} calls in {calls_s:.2f} s")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    copies = []
    for i in range(-(-10_000 // max(len(channels), 1))):  # distinct channels, shifted in time
        copy = channels.copy()
        for name in ("Uniqueid", "Linkedid"):
            copy[name] = copy[name].astype(str) + f"-{i}"
        for name in ("created", "answered", "hungup", "first_seen", "last_seen"):
            copy[name] = copy[name] + pd.Timedelta(seconds=600 * i)
        copies.append(copy)
    sample = pd.concat(copies, ignore_index=True).head(10_000)

    def draw():
        ax = amikit.plot_timeline(sample)
        ax.figure.savefig(pathlib.Path("/tmp") / "amikit_timeline_10k.png")

    _, plot_s = timed(draw)
    plt.close("all")
    print(f"plot_timeline: {len(sample):,} channels drawn and saved as PNG in {plot_s:.2f} s")


if __name__ == "__main__":
    main()
