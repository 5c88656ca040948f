"""How long amikit's parsers take on very large or hostile inputs (issue 12, defect 10).

    python benchmarks/bench_stream.py [--mb 30] [--follows-mb 10] [--html-kb 100]

Prints seconds for:

* ``StreamReader, N MB in 4 kB pieces`` - one message of N MB fed as TCP would deliver it
* ``… N MB Follows``                    - a legacy ``Response: Follows`` reply of N MB (its
  text with blank lines, or all header-like lines), whole and in 4 kB pieces
* ``parse_manager_html, "<a " * N``    - an HTML page that is one unfinished tag

Each should grow linearly with its size; the tests check behaviour, this script the time.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from amikit import StreamReader, parse_rawman
from amikit.errors import AMIError
from amikit.mxml import parse_manager_html


def _timed(label: str, run) -> None:
    start = time.perf_counter()
    try:
        outcome = run()
    except AMIError as exc:
        outcome = f"AMIError: {str(exc)[:60]}"
    print(f"{label:<42} {time.perf_counter() - start:8.2f} s   {outcome}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=30, help="size of the streamed message")
    parser.add_argument("--follows-mb", type=float, default=10, help="size of the Follows reply")
    parser.add_argument("--html-kb", type=float, default=100, help="size of the HTML page")
    args = parser.parse_args()

    line = b"Output: " + b"x" * 70 + b"\r\n"
    big = b"Event: Big\r\n" + line * int(args.mb * 1e6 / len(line)) + b"\r\n"

    def stream() -> str:
        reader = StreamReader()
        got = []
        for i in range(0, len(big), 4096):
            got += reader.feed(big[i:i + 4096])
        got += reader.close()
        return f"{len(got)} message(s)"

    _timed(f"StreamReader, {args.mb:g} MB in 4 kB pieces", stream)

    for label, text in (("text", b"x" * 70 + b"\r\n\r\n"), ("header-like", b"ActionID: 1\r\n")):
        follows = (b"Response: Follows\r\nPrivilege: Command\r\n"
                   + text * int(args.follows_mb * 1e6 / len(text)) + b"--END COMMAND--\r\n\r\n")
        _timed(f"parse_rawman, {args.follows_mb:g} MB Follows ({label})",
               lambda follows=follows: f"{len(parse_rawman(follows))} message(s)")

        def pieces(follows: bytes = follows) -> str:
            reader = StreamReader()
            got = [m for i in range(0, len(follows), 4096) for m in reader.feed(follows[i:i + 4096])]
            return f"{len(got + reader.close())} message(s)"

        _timed(f"StreamReader, {args.follows_mb:g} MB Follows ({label}), 4 kB", pieces)

    page = "<a " * int(args.html_kb * 1000 / 3)
    _timed(f'parse_manager_html, "<a " * {len(page) // 3}',
           lambda: f"{len(parse_manager_html(page))} message(s)")


if __name__ == "__main__":
    main()
