"""Progress feedback for slow work, by ``tqdm.auto``: its widget bar in notebooks, its text bar in terminals.

amikit draws no bars of its own; this is the one place that chooses tqdm's options, so
every caller shows the same bar::

    with progress(total=1000, description="events") as advance:
        for chunk in work:
            advance(len(chunk))

Nothing is shown for work that ends within ``delay`` seconds (tqdm's ``delay``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

__all__ = ["progress"]


@contextmanager
def progress(total: int, description: str = "", *, delay: float = 1.0,
             stream: TextIO | None = None) -> Iterator[Callable[[int], None]]:
    """A function to call with each step's size; a tqdm bar appears once the work takes ``delay`` s.

    ``stream`` sends tqdm's text bar there (also inside a notebook); by default
    ``tqdm.auto`` picks the notebook widget or the terminal bar on standard error.

        >>> import io
        >>> out = io.StringIO()
        >>> with progress(3, "quick", stream=out) as advance:
        ...     advance(3)
        >>> out.getvalue()  # done within the delay: nothing shown
        ''
    """
    if stream is None:
        from tqdm.auto import tqdm
    else:  # text to the given stream, even in a notebook
        from tqdm import tqdm

    with tqdm(total=total, desc=description, delay=delay, file=stream) as bar:
        def advance(step: int = 1) -> None:
            bar.update(step)

        yield advance
