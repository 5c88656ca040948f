"""Every error amikit raises, in one tree.

Catch :class:`AMIError` to catch them all::

    AMIError                      the root: everything amikit raises
    ├── InvalidAction             an action refused before sending (also a ValueError):
    │                             a header name that is not a token, CR/LF/NUL in a value,
    │                             a required header missing, a request too large
    ├── InvalidSetting            a client setting refused (also a ValueError): a URL that is
    │                             not http(s):// or tcp://host:port, an unknown auth or encoding
    ├── CallFileError             a call file that is not valid, or cannot be placed
    │                             (also a ValueError); ``field`` names what is wrong
    ├── ProtocolError             bytes from the server that are not valid AMI
    │                             (a reply without Response, an unfinished list, bad XML)
    ├── TransportError            HTTP-level trouble
    │   ├── ConnectionLost        the server cannot be reached (after back-off when polling)
    │   │   └── NoBanner          over TCP, no AMI banner came: the port is not AMI's
    │   └── HTTPStatusError       a status other than 200 (404: HTTP AMI is off or the URL is wrong)
    ├── AuthenticationError       Login or digest credentials refused
    ├── ActionFailed              the server answered ``Response: Error``; ``.message`` is its text
    │   └── PermissionDenied      "Permission denied" while the session was valid: the user
    │                             lacks the write class (never retried)
    ├── SessionExpired            the server session was lost and could not be re-established
    └── ClientBusy                a second WaitEvent on a session that already has one in flight
                                  (also a RuntimeError)

Example::

    >>> from amikit.errors import ActionFailed, AMIError
    >>> err = ActionFailed("Hangup", "No such channel")
    >>> isinstance(err, AMIError), str(err)
    (True, 'Hangup failed: No such channel')
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - imports for type hints only
    from amikit.message import Message

__all__ = [
    "AMIError",
    "ActionFailed",
    "AuthenticationError",
    "CallFileError",
    "ClientBusy",
    "ConnectionLost",
    "HTTPStatusError",
    "InvalidAction",
    "InvalidSetting",
    "NoBanner",
    "PermissionDenied",
    "ProtocolError",
    "SessionExpired",
    "TransportError",
]


class AMIError(Exception):
    """The root of every error amikit raises."""


class InvalidAction(AMIError, ValueError):
    """An action amikit refuses to send: bad header name, CR/LF/NUL in a value, missing header.

    ``header`` names the offending header when there is one.
    """

    def __init__(self, message: str, *, header: str | None = None) -> None:
        super().__init__(message)
        self.header = header


class InvalidSetting(AMIError, ValueError):
    """A client setting amikit refuses: a URL it cannot use, an unknown auth or encoding."""


class CallFileError(AMIError, ValueError):
    """A call file amikit refuses to build or place; ``field`` names the culprit."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ProtocolError(AMIError):
    """The server sent bytes that are not valid AMI in the expected encoding.

    ``messages`` holds what could be parsed before the problem, when anything could.
    """

    def __init__(self, message: str, *, messages: list[Message] | None = None) -> None:
        super().__init__(message)
        self.messages = messages or []


class TransportError(AMIError):
    """Trouble below AMI: the HTTP exchange itself failed."""


class ConnectionLost(TransportError):
    """The server could not be reached (refused, reset, timed out, DNS)."""


class NoBanner(ConnectionLost):
    """Over TCP, the server did not greet with AMI's banner (``Asterisk Call Manager/…``):
    it stayed silent, closed, or its first line was something else, so the port is
    probably not AMI's (manager.conf ``port``, 5038 by default; 8088 is HTTP's).

    ``first_line`` is what it sent instead, when it sent a line.

        >>> isinstance(NoBanner("no AMI banner"), ConnectionLost)
        True
    """

    def __init__(self, message: str, *, first_line: str | None = None) -> None:
        super().__init__(message)
        self.first_line = first_line


class HTTPStatusError(TransportError):
    """The server answered with an HTTP status other than 200.

    Asterisk answers every AMI-level result, errors included, with 200; another status
    means the URL does not lead to HTTP AMI (404) or the request itself was refused.
    """

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class AuthenticationError(AMIError):
    """The server refused the username and secret (Login or HTTP digest)."""


class ActionFailed(AMIError):
    """The server answered an action with ``Response: Error``.

    ``action`` is the action's name, ``message`` the server's own ``Message`` text and
    ``reply`` the whole reply :class:`~amikit.message.Message` when there is one.
    """

    def __init__(self, action: str, message: str, *, reply: Message | None = None) -> None:
        super().__init__(f"{action} failed: {message}")
        self.action = action
        self.message = message
        self.reply = reply


class PermissionDenied(ActionFailed):
    """``Permission denied`` from a valid session: the user lacks the action's write class.

    amikit does not log in again for this one (that would loop); grant the class in
    manager.conf (``write=``) or use another user.
    """


class SessionExpired(AMIError):
    """The server dropped the session and logging in again did not bring it back."""


class ClientBusy(AMIError, RuntimeError):
    """A WaitEvent is already in flight on this session; a second would kick it out.

    Asterisk keeps one waiter per session: the newer WaitEvent wins and the older returns
    an empty body. Open a second client (its own session) for a second poller.
    """
