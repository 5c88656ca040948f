"""amikit: explore the Asterisk Manager Interface over HTTP, from Jupyter.

The public API; everything else may change.

    >>> import amikit
    >>> amikit.parse_rawman(b"Response: Success\\r\\nPing: Pong\\r\\n\\r\\n")[0]["ping"]
    'Pong'
"""

from amikit import errors
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
from amikit.session import Gap
from amikit.sim import Simulator

__version__ = "0.1.0"

__all__ = [
    "AMIClient",
    "AMIError",
    "AsyncAMIClient",
    "Gap",
    "Message",
    "Simulator",
    "StreamReader",
    "__version__",
    "encode_action",
    "encode_message",
    "errors",
    "parse_manager_html",
    "parse_mxml",
    "parse_rawman",
    "parse_recording",
]
