"""Recordings of a real Asterisk 23.4.1 shipped with amikit, to explore without a PBX.

    >>> import amikit
    >>> df = amikit.read_events(amikit.sample_recording())
    >>> len(df), len(df.ami.calls())
    (610, 11)
    >>> sorted(SAMPLES)
    ['busy', 'originate']

Both were recorded from a real Asterisk 23.4.1 with the lab configuration (users
``hello/world``, the ``sets`` dialplan): every ``/rawman`` WaitEvent body of one session,
in order, byte for byte (replies, ``WaitEventComplete`` markers and all), with
``timestampevents=yes``.
"""

from __future__ import annotations

import gzip
from importlib import resources

__all__ = ["SAMPLES", "sample_recording"]

#: The recordings by name → their file in ``amikit/data`` (described in :func:`sample_recording`).
SAMPLES: dict[str, str] = {"originate": "sample_originate.rawman", "busy": "sample_busy.rawman.gz"}


def sample_recording(name: str = "originate") -> bytes:
    """The bytes of a real Asterisk 23.4.1 recording shipped with amikit.

    ``name`` picks the recording:

    * ``"originate"`` (the default): eleven labelled Originates, one after another (6 s,
      610 events): answered, Dial with a bridge, busy, bad context, no-answer timeout,
      congestion, a Local channel, variables + UserEvent, a queue, a conference and a
      synchronous Originate.
    * ``"busy"``: about five minutes of a busy PBX (4 min 56 s, 7,542 events): 108
      Originated calls of a mixed load, one every 1 to 4 s; 101 answered (Dial bridges,
      Dial + Playback, variables + UserEvent, a queue with agents, ConfBridge
      conferences) and 7 busy. Other clients' logins, failed logins and one call of
      theirs interleave, as on any shared PBX.

    Each is every ``/rawman`` WaitEvent body of one session, in order, exactly as
    received. The result is always the plain rawman bytes, ready for
    :func:`amikit.read_events` or :func:`amikit.parse_rawman`; ``"busy"`` is stored
    gzip-compressed in the package and decompressed here (3.2 MB).

    >>> sample_recording("nope")
    Traceback (most recent call last):
    ...
    ValueError: no sample recording named 'nope'; the samples are 'busy', 'originate'
    """
    if name not in SAMPLES:
        known = ", ".join(repr(known) for known in sorted(SAMPLES))
        raise ValueError(f"no sample recording named {name!r}; the samples are {known}")
    data = resources.files("amikit").joinpath("data", SAMPLES[name]).read_bytes()
    return gzip.decompress(data) if SAMPLES[name].endswith(".gz") else data
