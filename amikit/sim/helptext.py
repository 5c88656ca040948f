"""The help texts of the simulated CLI: what Asterisk itself writes for ``manager show ...``.

This module owns the simulator's answers to ``manager show command X``,
``manager show event X``, ``manager show commands`` and ``manager show events``: the
lines a real Asterisk 23.4.1 wrote, recorded in the captures (``12_discovery``) and
shipped in ``amikit/sim/data`` (see its README), one ``Output:`` header per line. It knows
nothing of the client (no ``amikit.actions``, no ``amikit.client``): the simulator speaks
from Asterisk's recordings, never from what the client believes.

    >>> command_help("waitevent")[1]
    "  -= Info about Manager Command 'WaitEvent' =- "
    >>> event_help("HANGUP")[0]
    'Event: Hangup'
    >>> event_help("NoSuchEvent") is None
    True

An action that was not recorded gets :func:`command_help`'s fallback (described there).
All functions are pure and return a new list on every call; the files are read once.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

__all__ = ["command_help", "commands_listing", "event_help", "events_listing"]

# Asterisk's own words wherever a recorded action documents its ActionID (all four do, in
# the same two lines) and wherever its documentation has no text for a field.
ACTIONID_DOC = "    ActionID for this transaction. Will be returned."
NOT_AVAILABLE = "Not available"


@cache
def _lines(filename: str) -> tuple[str, ...]:
    # Bytes, not read_text(): universal newlines must not touch a recorded line, and
    # str.splitlines() would also split on characters a value may hold.
    data = resources.files("amikit.sim").joinpath(f"data/{filename}").read_bytes()
    return tuple(data.decode("utf-8").split("\n")[:-1])  # every line ends in \n


@cache
def _recorded(kind: str) -> dict[str, str]:
    """``{lower-case name: file name}`` of the recorded ``command_*`` or ``event_*`` texts."""
    prefix = f"{kind}_"
    found: dict[str, str] = {}
    for entry in resources.files("amikit.sim").joinpath("data").iterdir():
        if entry.name.startswith(prefix) and entry.name.endswith(".txt"):
            found[entry.name[len(prefix):-len(".txt")].lower()] = entry.name
    return found


def command_help(name: str, synopsis: str | None = None, privilege: str | None = None) -> list[str] | None:
    """The ``Output:`` lines of ``manager show command <name>``.

    For a recorded action (Originate, Redirect, Hangup, WaitEvent; ``name`` in any case, as
    Asterisk matches it) the lines Asterisk wrote, byte for byte. For any other action,
    when the caller knows it (``synopsis`` given), a fallback in the recorded layout that
    says only what the caller knows::

        ''                                                     the text opens with an empty line
        "  -= Info about Manager Command '<name>' =- "         two spaces before, one after
        ''
        '[Synopsis]'
        '<synopsis> '                                          one trailing space, as every
        ''                                                     synopsis of Asterisk has
        '[Syntax]'
        'Action: <name>'                                       no trailing space
        '[ActionID:] <value>'                                  optional: in brackets
        ''
        '[Arguments]'
        ''                                                     the section opens with an empty line
        'ActionID'
        '    ActionID for this transaction. Will be returned.'
        ''
        '[Privilege]'                                          only when ``privilege`` is given
        '<privilege>'                                          e.g. ``call,all`` or ``<none>``
        ''

    Every section is a title, its lines and one empty line, as recorded. Left out, because
    only Asterisk's documentation knows them: ``[Provided By]``, ``[Since]``,
    ``[Description]``, the other headers of ``[Syntax]`` and ``[Arguments]``, ``[See Also]``,
    ``[List Responses]`` and ``[Final Response]``. An empty ``synopsis`` is written as
    Asterisk's ``Not available``. ``name`` is written as given: pass the action's own
    spelling (Asterisk prints the registered name, not what was typed).

    None when the action was not recorded and no synopsis is given: the caller does not
    know the action, and this module cannot tell.

        >>> command_help("Ping", "Keepalive command.", "<none>")[:8]
        ['', "  -= Info about Manager Command 'Ping' =- ", '', '[Synopsis]', 'Keepalive command. ', '',
         '[Syntax]', 'Action: Ping']
        >>> command_help("Nope") is None
        True
    """
    filename = _recorded("command").get(name.strip().lower())
    if filename is not None:
        return list(_lines(filename))
    if synopsis is None:
        return None
    lines = ["", f"  -= Info about Manager Command '{name}' =- ", "",
             "[Synopsis]", f"{synopsis.strip()} " if synopsis.strip() else NOT_AVAILABLE, "",
             "[Syntax]", f"Action: {name}", "[ActionID:] <value>", "",
             "[Arguments]", "", "ActionID", ACTIONID_DOC, ""]
    if privilege is not None:
        lines += ["[Privilege]", privilege, ""]
    return lines


def event_help(name: str) -> list[str] | None:
    """The ``Output:`` lines of ``manager show event <name>`` (Newchannel, Hangup; any case).

    None for an event that was not recorded: what it documents is Asterisk's to say.
    """
    filename = _recorded("event").get(name.strip().lower())
    return None if filename is None else list(_lines(filename))


def commands_listing() -> list[str]:
    """The ``Output:`` lines of ``manager show commands``: the recording server's 89 actions."""
    return list(_lines("commands.txt"))


def events_listing() -> list[str]:
    """The ``Output:`` lines of ``manager show events``: the recording server's 171 events."""
    return list(_lines("events.txt"))
