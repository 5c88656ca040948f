"""diagnose(): why am I getting no events? Answers in words."""

from __future__ import annotations

import contextlib
import html
import re
import time
from dataclasses import dataclass, field

from amikit.client import AMIClient
from amikit.errors import AMIError

__all__ = ["Diagnosis", "diagnose"]

_EVENT_CLASSES = {"call": "channel events (Newchannel, Hangup, Dial…)",
                  "dialplan": "Newexten and VarSet", "cdr": "Cdr", "user": "UserEvent",
                  "security": "logins and refusals"}


@dataclass
class Diagnosis:
    """What was found, as lines of text; shows as text and as HTML."""

    findings: list[str] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)
    events_seen: int = 0
    read_classes: list[str] | None = None

    @property
    def text(self) -> str:
        lines = ["Why no events? What amikit found:"]
        lines += [f"  - {f}" for f in self.findings]
        if self.advice:
            lines.append("What to change:")
            lines += [f"  - {a}" for a in self.advice]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text

    __repr__ = __str__

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{html.escape(f)}</li>" for f in self.findings)
        advice = "".join(f"<li>{html.escape(a)}</li>" for a in self.advice)
        return (f"<b>Why no events?</b><ul>{items}</ul>"
                + (f"<b>What to change</b><ul>{advice}</ul>" if advice else ""))


def diagnose(client: AMIClient, *, wait: float = 3.0) -> Diagnosis:
    """Check, with a session of its own, whether events reach this user, and say why not."""
    user = client.username
    result = Diagnosis()
    probe = client.clone()  # a fresh session, so this one's filters and waiters do not matter
    try:
        probe.login()
    except AMIError as error:
        probe.close()
        result.findings.append(f"Cannot log in as {user!r}: {error}")
        return result
    try:
        try:
            lines = probe.command(f"manager show user {user}")
            read = next((ln.split(":", 1)[1].strip() for ln in lines
                         if re.match(r"\s*read perm", ln)), None)
            if read is not None:
                result.read_classes = [c.strip() for c in read.split(",") if c.strip()]
                result.findings.append(f"User {user!r} may read: {read}.")
        except AMIError:
            result.findings.append(
                f"The read classes of {user!r} are unknown: 'manager show user' needs "
                "the command class, which this user lacks.")
        if result.read_classes is not None:
            missing = [c for c in _EVENT_CLASSES if c not in result.read_classes
                       and "all" not in result.read_classes]
            if missing:
                result.advice.append(
                    f"Add {', '.join(missing)} to 'read =' in [{user}] of manager.conf "
                    f"for {'; '.join(_EVENT_CLASSES[c] for c in missing)}, then 'manager reload'.")
        probe.wait_event(0)
        try:
            probe.action("UserEvent", UserEvent="AmikitDiagnose")
            result.findings.append("Sent a UserEvent to see it come back.")
        except AMIError:
            pass
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and not result.events_seen:
            result.events_seen += len(probe.wait_event(1))
        if result.events_seen:
            result.findings.append(f"WaitEvent on a fresh session returned {result.events_seen} "
                                   "event(s): events do reach this user.")
            result.advice.append("If your own session sees none, check an 'Events' mask or "
                                 "'Filter' it set, and that only one WaitEvent polls per session.")
        else:
            result.findings.append(f"WaitEvent on a fresh session returned nothing in {wait:.0f} s.")
            result.advice.append("Make something happen (a call), and check 'read =' and any "
                                 "'eventfilter' lines of this user in manager.conf.")
    finally:
        with contextlib.suppress(AMIError):
            probe.logoff()
        probe.close()
    return result
