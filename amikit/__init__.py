"""amikit: explore the Asterisk Manager Interface over HTTP, from Jupyter.

The public API; everything else may change.

    >>> import amikit
    >>> amikit.parse_rawman(b"Response: Success\\r\\nPing: Pong\\r\\n\\r\\n")[0]["ping"]
    'Pong'

The heavier parts (``read_events``, ``events_frame``, ``EventLog``, the ``plot_*`` functions
and the widgets) are imported on first use, so that the command line starts without
matplotlib; the ``df.ami`` accessor is registered on import.
"""

from typing import TYPE_CHECKING, Any

from amikit import accessor as _accessor  # registers df.ami on every DataFrame
from amikit import errors
from amikit.callfile import CallFile, spool_status
from amikit.client import AMIClient, AsyncAMIClient
from amikit.errors import AMIError
from amikit.lab import PBX, find_pbx
from amikit.message import Message
from amikit.protocol import (
    StreamReader,
    encode_action,
    encode_message,
    parse_manager_html,
    parse_mxml,
    parse_rawman,
    parse_recording,
)
from amikit.session import Gap
from amikit.sim import Simulator

__version__ = "0.1.0"
del _accessor

_LAZY = {"explore": "amikit.widgets", "diagnose": "amikit.widgets",
         "read_events": "amikit.frames", "events_frame": "amikit.frames",
         "EventLog": "amikit.frames", "plot_timeline": "amikit.plots",
         "plot_ladder": "amikit.plots", "plot_event_rate": "amikit.plots"}

if TYPE_CHECKING:  # pragma: no cover
    from amikit.frames import EventLog, events_frame, read_events
    from amikit.plots import plot_event_rate, plot_ladder, plot_timeline
    from amikit.widgets import diagnose, explore


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'amikit' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def sample_recording() -> bytes:
    """The real Asterisk 23.4.1 recording shipped with amikit (eleven labelled Originates)."""
    from importlib import resources

    return resources.files("amikit").joinpath("data/sample_originate.rawman").read_bytes()

__all__ = [
    "PBX",
    "AMIClient",
    "AMIError",
    "AsyncAMIClient",
    "CallFile",
    "EventLog",
    "Gap",
    "Message",
    "Simulator",
    "StreamReader",
    "__version__",
    "diagnose",
    "encode_action",
    "encode_message",
    "errors",
    "events_frame",
    "explore",
    "find_pbx",
    "parse_manager_html",
    "parse_mxml",
    "parse_rawman",
    "parse_recording",
    "plot_event_rate",
    "plot_ladder",
    "plot_timeline",
    "read_events",
    "sample_recording",
    "spool_status",
]
