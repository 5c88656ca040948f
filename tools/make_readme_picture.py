"""Draw docs/timeline.png (the README's picture) from the recording amikit ships.

    python tools/make_readme_picture.py
"""

from __future__ import annotations

import pathlib

import matplotlib

matplotlib.use("Agg")

import amikit

OUT = pathlib.Path(__file__).resolve().parents[1] / "docs" / "timeline.png"


def main() -> None:
    frame = amikit.read_events(amikit.sample_recording())
    ax = amikit.plot_timeline(frame, title="Eleven Originates on a real Asterisk 23.4.1: "
                                           "answered, busy, congestion, no answer, bridges")
    ax.figure.savefig(OUT, dpi=80)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
