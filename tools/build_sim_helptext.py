"""Rebuild amikit/sim/data's help texts from the 12_discovery captures of a real Asterisk.

The simulator answers ``manager show command X`` (and ``manager show event X``,
``manager show commands``, ``manager show events``) with the lines a real Asterisk 23.4.1
wrote; this script takes them out of the recorded ``/rawman`` bodies. Run from the
repository root, with the folder of the recordings (by default the repository's copy):

    python tools/build_sim_helptext.py [tests/captures/12_discovery]

One file per recording: ``command_<Action>.txt``, ``event_<Event>.txt``, ``commands.txt``,
``events.txt``. Each holds the values of the reply's ``Output:`` headers, one per line, each
line ended by ``\\n``, with every other byte as Asterisk sent it (leading and trailing
spaces, empty lines, a tab). The rawman body is the source because the mxml encoding
trims the values.
"""

from __future__ import annotations

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "amikit" / "sim" / "data"
LABEL = re.compile(r"\d+_manager_show_(?:(command|event)_(\w+)|(commands|events))\.rawman\.body\.bin")
PREFIX = b"Output: "


def output_lines(body: bytes) -> list[bytes]:
    """The values of the ``Output:`` headers of a rawman body's first (only) message."""
    message = body.split(b"\r\n\r\n", 1)[0]
    return [line[len(PREFIX):] for line in message.split(b"\r\n") if line.startswith(PREFIX)]


def target_name(source: str) -> str | None:
    """The data file a recorded body becomes, or None for a body that is not a help text."""
    match = LABEL.fullmatch(source)
    if match is None:
        return None
    kind, name, listing = match.groups()
    return f"{listing}.txt" if listing else f"{kind}_{name}.txt"


def main(discovery: pathlib.Path) -> None:
    for path in sorted(discovery.glob("*.rawman.body.bin")):
        name = target_name(path.name)
        if name is None:
            continue
        lines = output_lines(path.read_bytes())
        # Bytes in, bytes out: no newline translation, nothing stripped.
        (OUT / name).write_bytes(b"".join(line + b"\n" for line in lines))
        print(f"{path.name} -> {name} ({len(lines)} lines)")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests" / "captures" / "12_discovery")
