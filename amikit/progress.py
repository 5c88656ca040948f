"""Progress feedback for slow work: a bar widget in notebooks, a plain line in terminals.

    with progress(total=1000, description="events") as advance:
        for chunk in work:
            advance(len(chunk))

Nothing is shown for work that ends within ``delay`` seconds.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

__all__ = ["progress"]


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


class _TextBar:
    def __init__(self, total: int, description: str, stream: TextIO) -> None:
        self.total, self.description, self.stream = total, description, stream

    def show(self, done: int) -> None:
        width = 30
        filled = int(width * min(done, self.total) / self.total) if self.total else width
        self.stream.write(f"\r{self.description} [{'#' * filled}{'.' * (width - filled)}] "
                          f"{done}/{self.total}")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


class _WidgetBar:
    def __init__(self, total: int, description: str) -> None:
        import ipywidgets as w
        from IPython.display import display

        self.bar = w.IntProgress(min=0, max=max(total, 1), description=description)
        self.label = w.Label()
        display(w.HBox([self.bar, self.label]))

    def show(self, done: int) -> None:
        self.bar.value = min(done, self.bar.max)
        self.label.value = f"{done}/{self.bar.max}"

    def close(self) -> None:
        self.bar.bar_style = "success"


@contextmanager
def progress(total: int, description: str = "", *, delay: float = 1.0,
             stream: TextIO | None = None) -> Iterator[Callable[[int], None]]:
    """A function to call with each step's size; shows a bar once the work takes ``delay`` s."""
    started = time.monotonic()
    done = 0
    bar: _TextBar | _WidgetBar | None = None

    def advance(step: int = 1) -> None:
        nonlocal done, bar
        done += step
        if bar is None and time.monotonic() - started >= delay:
            bar = (_WidgetBar(total, description) if stream is None and _in_notebook()
                   else _TextBar(total, description, stream or sys.stderr))
        if bar is not None:
            bar.show(done)

    try:
        yield advance
    finally:
        if bar is not None:
            bar.close()
