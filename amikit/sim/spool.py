"""The simulator's outgoing spool: call files run as Asterisk's ``pbx_spool`` runs them.

``DIR/outgoing`` is watched; any regular file there is a call file (Asterisk ignores no
name). On Linux the watch is inotify, as in Asterisk's own build: a file moved in is taken
at once, one written in place when its writer closes it. Elsewhere a scan every 0.1 s
takes a file once it has stopped changing for one scan (Asterisk's polling builds).
Either way a file whose modification time lies in the future waits for it.

Each attempt appends ``StartRetry: <pid> <n> (<next retry>)``, a failed attempt that is not
the last ``EndRetry: <pid> <n> (<now>)``; an answered call is waited for to
its end (``Status: Completed``), the last failed attempt gives ``Status: Expired`` and a
file that cannot be read ``Status: Failed``. With ``Archive: yes`` the file moves to
``DIR/outgoing_done`` before the Status line is appended; otherwise it is deleted.
A call file produces the channel events of its call, and no OriginateResponse.

``speed`` shortens WaitTime and RetryTime like the PBX's other durations; the times
written into the file are the ones Asterisk would write.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import os
import pathlib
import struct
import time

from amikit.callfile import CallFile, CallFileError, strip_comment
from amikit.protocol import is_true
from amikit.sim.pbx import PBX
from amikit.sim.variables import split_callerid

__all__ = ["Spool"]

log = logging.getLogger("amikit.sim")

SCAN = 0.1
_IN_CLOSE_WRITE, _IN_MOVED_TO, _IN_NONBLOCK = 0x00000008, 0x00000080, 0o4000
_EVENT = struct.Struct("iIII")


class _Inotify:
    """The Linux inotify calls, through ctypes (None where they are not available)."""

    def __init__(self, directory: pathlib.Path) -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self.fd = libc.inotify_init1(_IN_NONBLOCK)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        if libc.inotify_add_watch(self.fd, os.fsencode(directory),
                                  _IN_CLOSE_WRITE | _IN_MOVED_TO) < 0:
            os.close(self.fd)
            raise OSError(ctypes.get_errno(), "inotify_add_watch")

    def names(self) -> list[str]:
        """Names closed after writing or moved in since the last call."""
        try:
            data = os.read(self.fd, 64 * 1024)
        except BlockingIOError:
            return []
        found, offset = [], 0
        while offset + _EVENT.size <= len(data):
            _, _, _, length = _EVENT.unpack_from(data, offset)
            raw = data[offset + _EVENT.size: offset + _EVENT.size + length]
            found.append(os.fsdecode(raw.rstrip(b"\0")))
            offset += _EVENT.size + length
        return found

    def close(self) -> None:
        os.close(self.fd)


def _inotify(directory: pathlib.Path) -> _Inotify | None:
    try:
        return _Inotify(directory)
    except (OSError, AttributeError):
        return None


class Spool:
    """Watches ``root/outgoing`` and places the calls it finds."""

    def __init__(self, root: str | os.PathLike[str], pbx: PBX) -> None:
        self.root = pathlib.Path(root)
        self.outgoing = self.root / "outgoing"
        self.done = self.root / "outgoing_done"
        self.outgoing.mkdir(parents=True, exist_ok=True)
        self.done.mkdir(parents=True, exist_ok=True)
        self.pbx = pbx
        self._last: dict[str, tuple[int, float]] = {}
        self._active: set[str] = set()
        self._watch = _inotify(self.outgoing)
        # with inotify, only files known to be complete are taken: those there at start, and
        # those closed after writing or moved in since
        self._complete = {p.name for p in self.outgoing.iterdir()} if self._watch else set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        if self._watch is not None:
            loop.add_reader(self._watch.fd, self._on_inotify)
        try:
            while True:
                self.scan()
                await asyncio.sleep(SCAN)
        finally:
            if self._watch is not None:
                loop.remove_reader(self._watch.fd)
                self._watch.close()

    def _on_inotify(self) -> None:
        assert self._watch is not None
        self._complete.update(self._watch.names())
        self.scan()

    def scan(self) -> None:
        """Start every call file that is complete and due."""
        now = time.time()
        seen = {}
        try:
            paths = list(self.outgoing.iterdir())
        except FileNotFoundError:  # the spool was removed under us (its owner is done with it)
            return
        for path in paths:
            if path.name in self._active or not path.is_file():
                continue
            stat = path.stat()
            signature = (stat.st_size, stat.st_mtime)
            seen[path.name] = signature
            if self._watch is not None:
                complete = path.name in self._complete
            else:
                complete = self._last.get(path.name) == signature  # unchanged for one scan
            if not complete or stat.st_mtime > now:
                continue  # still being written, or scheduled for later
            self._active.add(path.name)
            self._complete.discard(path.name)
            self.pbx.spawn(self._process(path))
        self._last = seen

    async def _process(self, path: pathlib.Path) -> None:
        try:
            await self._run_file(path)
        finally:
            self._active.discard(path.name)

    async def _run_file(self, path: pathlib.Path) -> None:
        text = path.read_text("utf-8", "replace")
        try:
            call = CallFile.parse(text)
        except CallFileError as exc:
            log.warning("call file %s cannot be used: %s", path.name, exc)
            self._finish(path, "Failed", _archive_asked(text))
            return
        pid = os.getpid()
        retries = call.max_retries or 0
        retry_time = call.retry_time or 300
        wait = call.wait_time or 45
        for attempt in range(1, retries + 2):
            now = int(time.time())
            _append(path, f"\nStartRetry: {pid} {attempt} ({now + retry_time})\n")
            os.utime(path, (now + retry_time, now + retry_time))
            status, chan = await self.pbx.dial.originate(
                call.channel, context=call.context, exten=call.extension,
                priority=call.priority or 1, app=call.application, data=call.data or "",
                timeout=wait, callerid=split_callerid(call.callerid or ""),
                account=call.account or "",
                variables=[*call.variables.items(), ("AST_OUTGOING_ATTEMPT", str(attempt))],
                ids=(None, None))
            if status == "ANSWER" and chan is not None:
                while not chan.dead:  # call files wait for the whole call
                    await asyncio.sleep(0.05)
                self._finish(path, "Completed", bool(call.archive))
                return
            if attempt <= retries:
                _append(path, f"\nEndRetry: {pid} {attempt} ({int(time.time())})\n")
                await self.pbx.sleep(retry_time)
        self._finish(path, "Expired", bool(call.archive))

    def _finish(self, path: pathlib.Path, status: str, archive: bool) -> None:
        if archive:
            target = self.done / path.name
            os.replace(path, target)
            _append(target, f"Status: {status}\n")
        else:
            path.unlink(missing_ok=True)
        log.info("call file %s: %s", path.name, status)


def _archive_asked(text: str) -> bool:
    """Whether a call file that cannot be used still asks to be archived (its last Archive line)."""
    asked = False
    for line in text.splitlines():
        key, colon, value = strip_comment(line).partition(":")
        if colon and key.strip().lower() == "archive":
            asked = is_true(value)
    return asked


def _append(path: pathlib.Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(text)
