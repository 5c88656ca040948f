"""Call files: build, check, parse, schedule and place them safely in Asterisk's spool.

A call file is a small text file; any regular file that appears in
``/var/spool/asterisk/outgoing`` is read as one (``pbx/pbx_spool.c``). Asterisk acts on it
the moment it is moved in, or closed after writing, so a file copied in can be read
half-written. :meth:`CallFile.place` therefore writes it elsewhere on the same filesystem,
flushes it to disk, sets its modification time (a future one schedules the call), and
renames it into the spool in one step.

Every function here that takes a spool takes either its root (``/var/spool/asterisk``, what
``find_pbx().spool`` is) or its ``outgoing`` directory.

    >>> cf = CallFile("PJSIP/SOFTPHONE_A", context="sets", extension="103")
    >>> print(cf.render(), end="")
    Channel: PJSIP/SOFTPHONE_A
    Context: sets
    Extension: 103
    Priority: 1
    >>> CallFile.parse(cf.render()) == cf
    True
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import errno
import functools
import math
import os
import pathlib
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from amikit.errors import CallFileError
from amikit.protocol import is_false, is_true

__all__ = ["Attempt", "CallFile", "CallFileError", "SpoolEntry", "spool_status", "strip_comment"]

#: Every character ``str.splitlines`` ends a line at: amikit's own parser and the
#: simulator's spool split with it, so any of these in a value would start a new line
#: (a new key) there. NUL ends the string in Asterisk's C.
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_BAD = tuple(_LINE_BREAKS) + ("\0",)
_VARIABLE = re.compile(r"_{0,2}[A-Za-z][A-Za-z0-9_]*(\([^()\0" + _LINE_BREAKS + r"]*\))?")
_SURROGATE = re.compile("[\ud800-\udfff]")
_RETRY = re.compile(r"(\d+) (\d+) \((\d+)\)")
#: Keys Asterisk's spool reader knows (lower case) and the attribute each fills.
_KEYS = {"channel": "channel", "callerid": "callerid", "waittime": "wait_time",
         "maxretries": "max_retries", "retrytime": "retry_time", "account": "account",
         "context": "context", "extension": "extension", "priority": "priority",
         "application": "application", "data": "data", "codecs": "codecs",
         "early_media": "early_media", "archive": "archive", "alwaysdelete": "always_delete"}
_INTERNAL = {"startretry", "endretry", "abortretry", "delayedretry", "retry", "status"}


@dataclass(frozen=True)
class Attempt:
    """One attempt Asterisk recorded in an archived call file."""

    number: int
    pid: int
    next_retry: dt.datetime  # StartRetry's time: when the next attempt would be due
    ended: dt.datetime | None = None  # EndRetry's time; None for the last attempt


def _check_text(field_name: str, value: str) -> str:
    """``value`` if it can be one call-file value, else :class:`CallFileError`.

        >>> _check_text("callerid", "Bob\u2028Archive: yes")
        Traceback (most recent call last):
        ...
        amikit.errors.CallFileError: callerid: '\u2028' (a line break) is not allowed in a call file value
    """
    for bad in _BAD:
        if bad in value:
            kind = "" if bad == "\0" else " (a line break)"
            raise CallFileError(f"{field_name}: {bad!r}{kind} is not allowed in a call file value",
                                field=field_name)
    if _SURROGATE.search(value):  # it could never be written as UTF-8
        raise CallFileError(f"{field_name}: a lone surrogate is not text and cannot be written "
                            f"to a call file: {value!r}", field=field_name)
    if re.search(r"(^|[ \t])#", value):
        raise CallFileError(f"{field_name}: '#' at the start or after a space begins a comment "
                            "in a call file; the rest of the value would be lost",
                            field=field_name)
    return value


def _number(field_name: str, value: Any, minimum: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise CallFileError(f"{field_name} must be a whole number, not {value!r}", field=field_name)
    text = str(value).strip()
    if not re.fullmatch(r"\d+", text) or int(text) < minimum:
        raise CallFileError(f"{field_name} must be a whole number ≥ {minimum}, not {value!r}",
                            field=field_name)
    return int(text)


def _flag(field_name: str, value: Any) -> bool | None:
    # Asterisk reads these flags with ast_true, so any other word would quietly mean no:
    # amikit asks for one of Asterisk's words for yes or no instead
    if value is None or isinstance(value, bool):
        return value
    if is_true(str(value)):
        return True
    if is_false(str(value)):
        return False
    raise CallFileError(f"{field_name} must be yes or no, not {value!r}", field=field_name)


@dataclass
class CallFile:
    """One call file, checked when it is made (errors are :class:`CallFileError`).

    Channel (``Tech/resource``) is required, with either ``extension`` (plus ``context``,
    default ``default``, and ``priority``, default 1) or ``application`` (plus ``data``),
    not both. ``variables`` become ``Set:`` lines, in order.
    """

    channel: str
    context: str | None = None
    extension: str | None = None
    priority: int | None = None
    application: str | None = None
    data: str | None = None
    callerid: str | None = None
    wait_time: int | None = None
    max_retries: int | None = None
    retry_time: int | None = None
    account: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    codecs: str | None = None
    early_media: bool | None = None
    archive: bool | None = None
    always_delete: bool | None = None
    #: read back from an archived copy: the attempts Asterisk made, and its final Status
    attempts: list[Attempt] = field(default_factory=list, compare=False)
    status: str | None = field(default=None, compare=False)

    def __init__(self, channel: str, *, context: str | None = None,
                 extension: str | int | None = None, priority: int | str | None = None,
                 application: str | None = None, data: str | None = None,
                 callerid: str | None = None, wait_time: int | None = None,
                 max_retries: int | None = None, retry_time: int | None = None,
                 account: str | None = None,
                 variables: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
                 codecs: str | Iterable[str] | None = None, early_media: bool | None = None,
                 archive: bool | None = None, always_delete: bool | None = None) -> None:
        if not isinstance(channel, str) or not channel.strip():
            raise CallFileError("channel is required (Tech/resource, e.g. PJSIP/SOFTPHONE_A)",
                                field="channel")
        tech, slash, resource = channel.partition("/")
        if not slash or not tech.strip() or not resource.strip():
            raise CallFileError(f"channel must be Tech/resource, not {channel!r}", field="channel")
        self.channel = _check_text("channel", channel)
        if (extension is None) == (application is None):
            raise CallFileError("give either an extension or an application, not "
                                + ("both" if extension is not None else "neither"),
                                field="extension" if extension is None else "application")
        self.extension = _check_text("extension", str(extension)) if extension is not None else None
        self.application = _check_text("application", application) if application else None
        if application is not None and not application.strip():
            raise CallFileError("application must not be empty", field="application")
        if self.extension is not None and not self.extension.strip():
            raise CallFileError("extension must not be empty", field="extension")
        if self.extension is not None:
            self.context = _check_text("context", context) if context else "default"
            self.priority = _number("priority", 1 if priority is None else priority, 1)
        else:
            if context is not None or priority is not None:
                raise CallFileError("context and priority go with an extension, not an "
                                    "application", field="context" if context else "priority")
            self.context, self.priority = None, None
        self.data = _check_text("data", data) if data is not None else None
        self.callerid = _check_text("callerid", callerid) if callerid is not None else None
        self.account = _check_text("account", account) if account is not None else None
        self.wait_time = _number("wait_time", wait_time, 1)
        self.max_retries = _number("max_retries", max_retries, 0)
        self.retry_time = _number("retry_time", retry_time, 1)
        if codecs is not None and not isinstance(codecs, str):
            codecs = ",".join(codecs)
        self.codecs = _check_text("codecs", codecs) if codecs is not None else None
        self.early_media = _flag("early_media", early_media)
        self.archive = _flag("archive", archive)
        self.always_delete = _flag("always_delete", always_delete)
        pairs = variables.items() if isinstance(variables, Mapping) else (variables or [])
        self.variables = {}
        for name, value in pairs:
            if not isinstance(name, str) or not _VARIABLE.fullmatch(name):
                raise CallFileError(f"variables: {name!r} is not a valid variable or function "
                                    "name", field="variables")
            self.variables[name] = _check_text(f"variables[{name}]", str(value))
        self.attempts = []
        self.status = None

    # -- text ------------------------------------------------------------------------
    def render(self) -> str:
        """The file's text, with the key spellings Asterisk's spool reader knows."""
        lines = [("Channel", self.channel)]
        if self.callerid is not None:
            lines.append(("CallerID", self.callerid))
        for key, value in (("WaitTime", self.wait_time), ("MaxRetries", self.max_retries),
                           ("RetryTime", self.retry_time), ("Account", self.account)):
            if value is not None:
                lines.append((key, str(value)))
        if self.extension is not None:
            lines += [("Context", str(self.context)), ("Extension", self.extension),
                      ("Priority", str(self.priority))]
        else:
            lines.append(("Application", str(self.application)))
            if self.data is not None:
                lines.append(("Data", self.data))
        lines += [("Set", f"{name}={value}") for name, value in self.variables.items()]
        if self.codecs is not None:
            lines.append(("Codecs", self.codecs))
        for key, flag in (("early_media", self.early_media), ("AlwaysDelete", self.always_delete),
                          ("Archive", self.archive)):
            if flag is not None:
                lines.append((key, "yes" if flag else "no"))
        # ";" starts a comment in a call file unless written "\;"
        return "".join(f"{key}: {value.replace(';', chr(92) + ';')}\n" for key, value in lines)

    @classmethod
    def parse(cls, text: str) -> CallFile:
        """Read a call file as Asterisk does (comments, any key case), archived lines included.

        Unknown keys are ignored, as Asterisk does (it logs a warning). The ``StartRetry``,
        ``EndRetry`` and ``Status`` lines Asterisk appends become ``attempts`` and ``status``.
        """
        values: dict[str, Any] = {}
        variables: list[tuple[str, str]] = []
        attempts: list[tuple[int, int, int, int | None]] = []
        status = None
        for raw in text.splitlines():
            if len(raw.encode("utf-8", "surrogateescape")) >= 1024:
                continue  # Asterisk skips lines this long
            line = strip_comment(raw)
            key, colon, value = line.partition(":")
            if not colon:
                continue
            key, value = key.strip().lower(), value.strip()
            if key in ("set", "setvar"):
                name, _, val = value.partition("=")
                variables.append((name.strip(), val))
            elif key in _KEYS:
                values[_KEYS[key]] = value
            elif key == "startretry":
                match = _RETRY.fullmatch(value)
                if match:
                    attempts.append((int(match[2]), int(match[1]), int(match[3]), None))
            elif key == "endretry" and attempts:
                match = _RETRY.fullmatch(value)
                if match:
                    number, pid, due, _ = attempts[-1]
                    attempts[-1] = (number, pid, due, int(match[3]))
            elif key == "status":
                status = value
        if "channel" not in values:
            raise CallFileError("the file has no Channel line", field="channel")
        extension = values.pop("extension", None)
        application = values.pop("application", None)
        if application is not None:  # Asterisk runs the application when both are given
            extension = None
            values.pop("context", None)
            values.pop("priority", None)
        cf = cls(values.pop("channel"), extension=extension, application=application,
                 variables=variables, **values)
        stamp = dt.UTC
        cf.attempts = [Attempt(n, pid, dt.datetime.fromtimestamp(due, stamp),
                               dt.datetime.fromtimestamp(end, stamp) if end is not None else None)
                       for n, pid, due, end in attempts]
        cf.status = status
        return cf

    # -- the spool -------------------------------------------------------------------
    def place(self, spool_dir: str | os.PathLike[str] = "/var/spool/asterisk/outgoing", *,
              when: dt.datetime | float | None = None, owner: str | int | None = None,
              tmp_dir: str | os.PathLike[str] | None = None,
              name: str | None = None) -> pathlib.Path:
        """Put the file into the spool's ``outgoing`` directory atomically.

        ``spool_dir`` is the spool's root (``/var/spool/asterisk``, ``find_pbx().spool``),
        whose ``outgoing`` directory is then used, or that ``outgoing`` directory itself.
        Written to a temporary file in ``tmp_dir`` (default: the parent of the outgoing
        directory, on the same filesystem and not watched), flushed and fsynced; its
        modification time set to ``when`` (a future time schedules the call); chowned to
        ``owner`` (a user name or uid, e.g. ``"asterisk"``) if given; then renamed into
        place in one step. Returns the final path. No temporary file is left behind, also
        on errors.

        Every failure is a :class:`CallFileError` naming its ``field``: a bad ``when``
        (a datetime or a finite number of epoch seconds), a name the filesystem refuses,
        an unwritable spool. A file of that name already in the spool is never replaced,
        also when another writer places the same name at the same moment: exactly one
        of them succeeds. ::

            >>> import tempfile
            >>> spool = pathlib.Path(tempfile.mkdtemp()) / "outgoing"; spool.mkdir()
            >>> cf = CallFile("Local/1@sets", extension="1")
            >>> cf.place(spool, name="a.call").name
            'a.call'
            >>> cf.place(spool, name="a.call")
            Traceback (most recent call last):
            ...
            amikit.errors.CallFileError: .../outgoing/a.call already exists
            >>> cf.place(spool, when="tomorrow")
            Traceback (most recent call last):
            ...
            amikit.errors.CallFileError: when must be a datetime or epoch seconds, not 'tomorrow'
            >>> shutil.rmtree(spool.parent)
        """
        mtime = _mtime(when)
        if name is not None and (not isinstance(name, str) or not name or name in (".", "..")
                                 or "/" in name or "\0" in name or os.sep in name):
            raise CallFileError(f"file name {name!r} would escape the spool directory",
                                field="name")
        text = self.render()
        try:  # the values are checked when made, but a field may have been set since
            content = text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise CallFileError(f"the call file cannot be written as UTF-8: {exc}",
                                field="variables") from None
        try:
            return self._place(spool_dir, content, mtime, owner, tmp_dir, name)
        except (OSError, UnicodeError) as exc:  # also the checks before any file is made
            field_name = "name" if isinstance(exc, UnicodeError) or (
                isinstance(exc, OSError) and exc.errno == errno.ENAMETOOLONG) else "spool_dir"
            raise CallFileError(f"could not place the call file: {exc}", field=field_name) from exc

    def _place(self, spool_dir: str | os.PathLike[str], content: bytes, mtime: float | None,
               owner: str | int | None, tmp_dir: str | os.PathLike[str] | None,
               name: str | None) -> pathlib.Path:
        spool = _outgoing(spool_dir)
        if not spool.is_dir():
            raise CallFileError(f"spool directory {spool} does not exist", field="spool_dir")
        tmp = pathlib.Path(tmp_dir) if tmp_dir is not None else spool.resolve().parent
        if not tmp.is_dir():
            raise CallFileError(f"temporary directory {tmp} does not exist", field="tmp_dir")
        if tmp.resolve() == spool.resolve():
            raise CallFileError("the temporary file must not be written inside the spool: "
                                "Asterisk would read it half-written", field="tmp_dir")
        if os.stat(tmp).st_dev != os.stat(spool).st_dev:
            raise CallFileError(f"{tmp} is on another filesystem than {spool}: the move would "
                                "be a copy, not an atomic rename", field="tmp_dir")
        final = spool / (name if name is not None else f"amikit-{uuid.uuid4().hex}.call")
        fd, temp_name = tempfile.mkstemp(prefix=".amikit-", suffix=".call.tmp", dir=tmp)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(content)
                f.flush()
                os.fsync(f.fileno())
            if mtime is not None:
                os.utime(temp_name, (mtime, mtime))
            if owner is not None:
                shutil.chown(temp_name, user=owner, group=owner)
            _move_without_replacing(temp_name, final)
        except BaseException as exc:  # also Ctrl-C: no half-made file is left behind
            with contextlib.suppress(OSError):  # the first error is the one to report
                os.unlink(temp_name)
            if isinstance(exc, FileExistsError):
                raise CallFileError(f"{final} already exists", field="name") from None
            if isinstance(exc, LookupError):  # no such user or group
                raise CallFileError(f"could not place the call file: {exc}", field="owner") \
                    from exc
            raise
        _fsync_directory(spool)
        return final


_AT_FDCWD, _RENAME_NOREPLACE = -100, 1


@functools.cache
def _renameat2() -> Any:
    """Linux's ``renameat2`` through ctypes, or None where the C library has none."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        function = libc.renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                         ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


def _move_without_replacing(source: str, target: pathlib.Path) -> None:
    """Move ``source`` to ``target`` in one step, or FileExistsError if ``target`` exists.

    A check for the name before a rename would let two writers of one name both
    "succeed" and lose one call; this asks the kernel to refuse instead, so exactly one
    wins. ``renameat2(RENAME_NOREPLACE)`` is a rename (Asterisk and the simulator see
    the file moved in, complete); where it is missing, a hard link does the same (the
    file appears whole, or not at all) and the temporary name is removed after. ::

        >>> import tempfile
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> (d / "a").write_text("1"), (d / "b").write_text("2")
        (1, 1)
        >>> _move_without_replacing(str(d / "a"), d / "b")
        Traceback (most recent call last):
        ...
        FileExistsError: [Errno 17] File exists: '.../b'
        >>> _move_without_replacing(str(d / "a"), d / "c"); sorted(p.name for p in d.iterdir())
        ['b', 'c']
        >>> shutil.rmtree(d)
    """
    renameat2 = _renameat2()
    if renameat2 is not None:
        if renameat2(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target),
                     _RENAME_NOREPLACE) == 0:
            return
        err = ctypes.get_errno()
        # EINVAL: a filesystem without RENAME_NOREPLACE; ENOSYS: an old kernel
        if err not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise OSError(err, os.strerror(err), str(target))
    os.link(source, target)
    with contextlib.suppress(OSError):  # placed already; a stray temporary name is harmless
        os.unlink(source)


def _mtime(when: object) -> float | None:
    """``when`` as epoch seconds for ``os.utime``, or :class:`CallFileError`.

        >>> _mtime(None), _mtime(0), _mtime(dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
        (None, 0.0, 1893456000.0)
        >>> _mtime(float("nan"))
        Traceback (most recent call last):
        ...
        amikit.errors.CallFileError: when must be a datetime or epoch seconds, not nan
    """
    if when is None:
        return None
    try:
        if isinstance(when, dt.datetime):
            seconds = when.timestamp()
        elif isinstance(when, int | float) and not isinstance(when, bool):
            seconds = float(when)
        else:
            raise TypeError(when)
        # a time a datetime can show is one every filesystem call takes
        if not math.isfinite(seconds):
            raise ValueError(seconds)
        dt.datetime.fromtimestamp(seconds, dt.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise CallFileError(f"when must be a datetime or epoch seconds, not {when!r}",
                            field="when") from None
    return seconds


def _outgoing(spool: str | os.PathLike[str]) -> pathlib.Path:
    """The outgoing directory of ``spool``: the spool root's ``outgoing``, or ``spool`` itself."""
    path = pathlib.Path(spool)
    below = path / "outgoing"
    return below if path.name != "outgoing" and below.is_dir() else path


def _fsync_directory(path: pathlib.Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def strip_comment(line: str, *, hash_comments: bool = True) -> str:
    r"""A line without its comment, by Asterisk's rules; ``\;`` stands for a plain ``;``.

    ``;`` starts a comment (config files and call files alike). In a call file
    (``pbx_spool.c``) so does ``#`` at the start or after a blank; in a config file
    (``hash_comments=False``) ``#`` is text. Nothing is trimmed.

        >>> strip_comment("Set: A=1\\;2 ; the rest")
        'Set: A=1;2 '
        >>> strip_comment("CallerID: x #1"), strip_comment("Noop(x #1)", hash_comments=False)
        ('CallerID: x ', 'Noop(x #1)')
    """
    out = []
    previous = " "
    i = 0
    while i < len(line):
        char = line[i]
        if char == "\\" and line[i + 1:i + 2] == ";":
            out.append(";")
            i += 2
            previous = ";"
            continue
        if char == ";" or (hash_comments and char == "#" and previous in " \t"):
            break
        out.append(char)
        previous = char
        i += 1
    return "".join(out)


@dataclass(frozen=True)
class SpoolEntry:
    """A call file in the spool and its state.

    * ``pending``: in ``outgoing``, due (Asterisk takes it now, or at its next scan);
    * ``scheduled``: in ``outgoing``, due at ``due`` (its modification time), in the future;
    * ``running``: in ``outgoing``, an attempt under way: Asterisk appended ``StartRetry``
      for it and moved the modification time on to when a retry would be due;
    * ``archived``: in ``outgoing_done``, finished, with the ``status`` Asterisk appended.
    """

    path: pathlib.Path
    state: str
    due: dt.datetime
    status: str | None
    attempts: int
    channel: str | None


def spool_status(spool_root: str | os.PathLike[str], *,
                 now: float | None = None) -> list[SpoolEntry]:
    """The call files under ``spool_root`` (like ``/var/spool/asterisk``, or its ``outgoing``).

    ``outgoing`` files are running (an attempt started and not ended), else pending or
    scheduled by their modification time; ``outgoing_done`` ones are archived, with the
    Status Asterisk appended (see :class:`SpoolEntry`).
    """
    root = pathlib.Path(spool_root)
    if root.name == "outgoing" and not (root / "outgoing").is_dir():  # given its outgoing
        root = root.parent
    clock = now if now is not None else dt.datetime.now(dt.UTC).timestamp()
    entries = []
    for folder, archived in (("outgoing", False), ("outgoing_done", True)):
        for path in sorted((root / folder).glob("*")) if (root / folder).is_dir() else []:
            if not path.is_file() or path.name.startswith(".amikit-"):
                continue
            mtime = path.stat().st_mtime
            try:
                parsed: CallFile | None = CallFile.parse(path.read_text("utf-8", "replace"))
            except CallFileError:
                parsed = None
            state = "archived" if archived else _state(parsed, mtime, clock)
            entries.append(SpoolEntry(
                path, state, dt.datetime.fromtimestamp(mtime, dt.UTC),
                parsed.status if parsed else ("Failed" if archived else None),
                len(parsed.attempts) if parsed else 0, parsed.channel if parsed else None))
    return entries


def _state(parsed: CallFile | None, mtime: float, now: float) -> str:
    # An attempt moves the file's time on to when a retry would be due (pbx_spool.c), so a
    # future time alone does not mean "scheduled": a StartRetry not followed by its
    # EndRetry is an attempt under way.
    if parsed is not None and parsed.attempts and parsed.attempts[-1].ended is None \
            and mtime > now:
        return "running"
    return "scheduled" if mtime > now else "pending"
