"""amikit: explore the Asterisk Manager Interface over HTTP, from Jupyter.

The public API; everything else may change.

    >>> import amikit
    >>> amikit.parse_rawman(b"Response: Success\\r\\nPing: Pong\\r\\n\\r\\n")[0]["ping"]
    'Pong'

``import amikit`` loads the protocol, the clients and call files only. The rest is imported
on first use: the simulator (``Simulator``, ``find_pbx``), pandas and the frames
(``read_events``, ``events_frame``, ``EventLog``), matplotlib (the ``plot_*`` functions)
and the widgets. So the command line and a plain client start quickly, and a script that
never builds a frame never imports pandas. The ``df.ami`` accessor still works on every
DataFrame after ``import amikit``: it is registered at once if pandas is already imported,
else the moment pandas is (see :mod:`amikit.accessor`).
"""

from typing import TYPE_CHECKING, Any

from amikit import accessor as _accessor
from amikit import errors
from amikit.callfile import CallFile, spool_status
from amikit.client import AMIClient, AsyncAMIClient
from amikit.errors import AMIError
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
from amikit.samples import sample_recording
from amikit.session import Gap

__version__ = "0.1.0"
_accessor.install()  # df.ami on every DataFrame, now or once pandas is imported
del _accessor

#: The names imported on first use, and the module each comes from.
_LAZY = {"Simulator": "amikit.sim", "FoundPBX": "amikit.lab", "find_pbx": "amikit.lab",
         "explore": "amikit.widgets", "diagnose": "amikit.widgets",
         "read_events": "amikit.frames", "events_frame": "amikit.frames",
         "EventLog": "amikit.frames", "plot_timeline": "amikit.plots",
         "plot_ladder": "amikit.plots", "plot_event_rate": "amikit.plots",
         "plot_queue": "amikit.queueplot"}

if TYPE_CHECKING:  # pragma: no cover
    from amikit.frames import EventLog, events_frame, read_events
    from amikit.lab import FoundPBX, find_pbx
    from amikit.plots import plot_event_rate, plot_ladder, plot_timeline
    from amikit.queueplot import plot_queue
    from amikit.sim import Simulator
    from amikit.widgets import explore
    from amikit.widgets.diagnose import diagnose


def __getattr__(name: str) -> Any:
    """Import a lazy name's module on first use (PEP 562), then keep the name here."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'amikit' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "AMIClient",
    "AMIError",
    "AsyncAMIClient",
    "CallFile",
    "EventLog",
    "FoundPBX",
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
    "plot_queue",
    "plot_timeline",
    "read_events",
    "sample_recording",
    "spool_status",
]
