"""Rebuild amikit/data/header_names.tsv from the rawman captures of a real Asterisk.

mxml mangles header names (lower case, ``_`` for every other character); amikit turns
them back into the names Asterisk wrote, using this table. Run from the repository root,
with the folder of the captures (by default the repository's copy, whose large streams are
stored as ``.gz`` and read decompressed):

    python tools/build_header_names.py [tests/captures]

The table has one row per name: ``*`` and the name for the spelling most messages use, or
an event name and the name where that event spells it differently (CEL writes
``CallerIDnum`` and ``UniqueID`` where channel events write ``CallerIDNum``, ``Uniqueid``).
Names that only number things (``Category-000001``, ``Line-000000-000002``) are left out:
amikit restores them by rule.
"""

from __future__ import annotations

import collections
import gzip
import pathlib
import re
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from amikit.headernames import mangle
from amikit.protocol import parse_rawman

ROOT = pathlib.Path(__file__).resolve().parents[1]

NUMBERED = re.compile(r".*-\d{6}(-\d{6})?$")
# Headers of common events the captures happen not to hold (PeerStatus is the book's
# mxml example), as documented by `manager show event X`.
EXTRA = (  # noqa: SIM905 - easier to read and extend than a list literal
    "ChannelType Peer PeerStatus Address Port Time URI ContactStatus AOR EndpointName "
    "RoundtripUsec Username Domain Status Digit Direction DurationMs Module Shutdown Restart "
    "Hint StatusText Result IsExternal TransferExten TransferContext TransferTargetChannel "
    "MusicClass Mailbox Waiting New Old Urgent Response Message EventList ListItems"
).split()


def main(captures: pathlib.Path) -> None:
    by_name: collections.Counter[str] = collections.Counter()
    by_event: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for path in sorted(captures.rglob("*")):
        name = path.name.removesuffix(".gz")  # a capture stored compressed is read as itself
        if not path.is_file() or pathlib.PurePath(name).suffix not in {".bin", ".txt"} or "request" in name:
            continue
        if name.endswith(".c2s.bin"):
            continue
        data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
        if data.lstrip()[:1] == b"<":
            continue
        for msg in parse_rawman(data):
            kind = msg.get("Event") or "*"
            for name, _ in msg.headers:
                if re.fullmatch(r"[A-Za-z][A-Za-z0-9_\-]*", name) and not NUMBERED.match(name):
                    by_name[name] += 1
                    by_event[kind][name] += 1
    for name in EXTRA:
        by_name[name] += 0
    usual: dict[str, str] = {}
    for name, _count in by_name.most_common():
        usual.setdefault(mangle(name), name)
    rows = [("*", name) for name in sorted(usual.values(), key=str.lower)]
    for event in sorted(by_event):
        for name in sorted(by_event[event]):
            if event != "*" and usual[mangle(name)] != name:
                rows.append((event, name))
    out = ROOT / "amikit" / "data" / "header_names.tsv"
    with out.open("w", encoding="utf-8") as f:
        f.write("# AMI header names as Asterisk 23 writes them (see tools/build_header_names.py)\n")
        f.write("# event\tname  ('*': any message; an event name: that event's own spelling)\n")
        for event, name in rows:
            f.write(f"{event}\t{name}\n")
    print(f"{len(rows)} rows written to {out}")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests" / "captures")
