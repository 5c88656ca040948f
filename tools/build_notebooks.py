"""Write notebooks/*.ipynb from the cells below (outputs empty, solutions collapsed).

    python tools/build_notebooks.py                        # every notebook
    python tools/build_notebooks.py 07-call-centre 02      # these (a name, or its start)
    python tools/build_notebooks.py --out DIR              # elsewhere than notebooks/

Edit the notebooks here, not in Jupyter, so that what is committed stays output-free and
the same every time: each cell's id comes from its notebook's name and its index, so a
rebuild of unchanged cells changes no byte.

Exercises come in three cells: the learner's code cell (tagged ``exercise``; its line
ending in ``# your code here`` is the answer's place), the solution as a collapsed
Markdown block (tagged ``solution``: Run All cannot execute it), and a check cell (tagged
``check``) that says "Not done yet" until the answer is there, then checks it.
``tests/test_notebooks.py`` runs each notebook as shipped, and once with every solution
put in its exercise cell.

Every notebook runs against the simulator and against a real Asterisk configured like the
lab (Local channels, no phones): it follows only its own calls (by the ``ChannelId`` it
gives them, which becomes their ``Linkedid``) and its own call files (by name).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
from collections.abc import Sequence

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

OUT = pathlib.Path(__file__).resolve().parents[1] / "notebooks"
START = '''import amikit

pbx = amikit.find_pbx(speed=10)   # AMIKIT_URL if set, else the simulated Asterisk
ami = pbx.client()'''
#: The line of an exercise cell that its solution replaces.
ANSWER = "# your code here"


def md(text: str) -> nbformat.NotebookNode:
    return new_markdown_cell(text.strip())


def code(text: str) -> nbformat.NotebookNode:
    return new_code_cell(text.strip())


def exercise(text: str) -> nbformat.NotebookNode:
    """The learner's cell: one line ends in ``# your code here``."""
    assert text.count(ANSWER) == 1, text
    cell = new_code_cell(text.strip())
    cell.metadata["tags"] = ["exercise"]
    return cell


def solution(text: str) -> nbformat.NotebookNode:
    """The answer as a collapsed Markdown block: readable on a click, never run by Run All."""
    cell = new_markdown_cell(
        "<details>\n<summary>Solution (click to open)</summary>\n\n"
        f"```python\n{text.strip()}\n```\n\n</details>")
    cell.metadata["tags"] = ["solution"]
    return cell


def check(name: str, test: str, done: str = "Well done.") -> nbformat.NotebookNode:
    """Checks the learner's ``name``; "Not done yet" while it is still None."""
    cell = new_code_cell(
        f"if {name} is None:\n"
        "    print(\"Not done yet: write your answer in the cell above and run it, "
        "then run this cell again.\")\n"
        "else:\n"
        + "".join(f"    {line}\n" for line in test.strip().splitlines())
        + f"    print({done!r})")
    cell.metadata["tags"] = ["check"]
    return cell


NOTEBOOKS = {
    "01-first-contact": [
        md("""
# 1 · First contact: Login, Ping, Logoff

**You will learn** how AMI looks on the wire: first as the book meets it, a TCP
connection to port 5038 where you type `Action: Login` by hand and events arrive unasked;
then over HTTP, with its three encodings (`rawman`, `mxml`, the HTML `/manager` page),
the `mansession_id` cookie, HTTP digest, and what an error looks like; and what the two
transports do differently. This follows the quick start of the book's AMI chapter.

The first cell finds a PBX: the Asterisk named by `AMIKIT_URL`, or amikit's simulated one.
"""),
        code(START),
        md("""
## The book's first page: a raw TCP socket to 5038

The book starts with `telnet localhost 5038`. Here is the same with Python's `socket`
module: each cell sends exactly the bytes you would type into telnet or `nc`, and prints
every byte the server sent back. AMI over TCP is lines ending in CRLF (`\\r\\n`); an empty
line ends a message, in both directions.

`receive()` reads with a timeout, so a cell never hangs when the server stays silent. The
simulator serves TCP beside HTTP; a real Asterisk is reached over TCP when `AMIKIT_URL` is
`tcp://host:5038` (otherwise these cells say so and skip).
"""),
        code('''
import re
import socket
import time
import uuid
from urllib.parse import urlsplit


def receive(sock: socket.socket, seconds: float, until: bytes | None = None) -> bytes:
    """Every byte the server sends within `seconds`; stops early when the server closes
    the connection or when the bytes so far match the regular expression `until`."""
    data = b""
    deadline = time.monotonic() + seconds
    while until is None or not re.search(until, data):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        if not chunk:          # the server closed the connection
            break
        data += chunk
    sock.settimeout(5)         # what is left of this wait must not bound the next send
    return data


def show(data: bytes) -> None:
    """Print every byte received (a byte that is not UTF-8 as a \\\\x escape)."""
    print(f"--- {len(data)} bytes ---")
    print(data.decode("utf-8", errors="backslashreplace"))


if pbx.tcp_url is None:
    print(f"No TCP port known for {pbx.url}: set AMIKIT_URL to tcp://HOST:5038 to follow "
          "the TCP cells; they skip.")
else:
    where = urlsplit(pbx.tcp_url)
    tcp_address = (where.hostname, where.port or 5038)
    print("TCP AMI at", tcp_address)
'''),
        md("""
Connect, and the server speaks first: one line, the banner (the version is that of the
AMI protocol, not of Asterisk). Then type the Login action: three lines and an empty one.
Without `Events: off`, events are on from here: a real Asterisk sends `FullyBooted` right
after the reply, as in this recorded Asterisk 23 session
(`tests/captures/10_tcp_5038/04_events_originate_list_logoff`):

```text
Asterisk Call Manager/12.0.0
Action: Login
ActionID: l1
Username: hello
Secret: ...

Response: Success
ActionID: l1
Message: Authentication accepted

Event: FullyBooted
Privilege: system,all
Uptime: 2707
LastReload: 2707
Status: Fully Booted
```
"""),
        code('''
if pbx.tcp_url is None:
    print("skipped: no TCP port")
else:
    sock = socket.create_connection(tcp_address, timeout=5)
    banner = receive(sock, 5, until=rb"\\r\\n")
    print(repr(banner))                               # the banner, CRLF and all

    form = pbx.login_form()                           # never print it: it holds the secret
    typed = ["Action: Login", f"Username: {form['username']}", f"Secret: {form['secret']}"]
    sock.sendall(("\\r\\n".join(typed) + "\\r\\n\\r\\n").encode())
    print("typed:", typed[:2], "+ the secret + an empty line")
    show(receive(sock, 5, until=rb"\\r\\n\\r\\n"))         # the reply (and what came with it)
'''),
        md("""
Now send nothing on this connection. Another session (`ami`, this notebook's client)
places a short call (a `Local` channel to extension 900, which answers, sends a
`UserEvent` and hangs up after a second), and the events of that call arrive on the
socket unasked, as they scroll by in the book's telnet window. On a shared PBX, other
people's calls show up too. Nothing is dropped: every byte read is printed.
"""),
        code('''
if pbx.tcp_url is None:
    print("skipped: no TCP port")
else:
    call_id = f"nb01-{uuid.uuid4().hex[:8]}"          # our call's Uniqueid and Linkedid
    ami.originate(Channel="Local/900@sets", Application="Wait", Data="1", Async=True,
                  ChannelId=call_id)
    pushed = receive(sock, 2)                         # whatever comes within 2 seconds
    show(pushed)
    names = [m.name for m in amikit.parse_rawman(pushed) if m.name]
    print(len(names), "events, none asked for:", ", ".join(dict.fromkeys(names)))
'''),
        md("""
`Logoff` ends the session: Asterisk answers `Goodbye` and closes the connection, so
`receive()` returns as soon as the server hangs up.
"""),
        code('''
if pbx.tcp_url is None:
    print("skipped: no TCP port")
else:
    sock.sendall(b"Action: Logoff\\r\\n\\r\\n")
    show(receive(sock, 5))                            # until the server closes
    sock.close()
'''),
        md("""
## The same with amikit over TCP

`AMIClient("tcp://127.0.0.1:5038", user, secret)` (here `pbx.client(tcp=True)`) does all
of that for you: it reads the banner (`.banner`), logs in, reads the connection all the
time in a background thread, matches each reply to its action by ActionID, and keeps the
pushed events in a buffer until you ask with `wait_event()` or `events()`, the same
methods as over HTTP.
"""),
        code('''
if pbx.tcp_url is None:
    print("skipped: no TCP port")
else:
    with pbx.client(tcp=True) as tcp:
        print(tcp.banner)
        print(tcp.ping())
        call_id = f"nb01-{uuid.uuid4().hex[:8]}"
        tcp.originate(Channel="Local/900@sets", Application="Wait", Data="1", Async=True,
                      ChannelId=call_id)
        ours, deadline = [], time.monotonic() + 15
        while sum(e.name == "Hangup" for e in ours) < 2 and time.monotonic() < deadline:
            ours += [e for e in tcp.wait_event(timeout=1) if e.get("Linkedid") == call_id]
        for event in ours:
            if event.name in ("Newchannel", "Newstate", "UserEvent", "Hangup"):
                print(f"{event.name:12} {event['Channel']:30} {event.get('ChannelStateDesc', '')}")
    # leaving the with block sent Logoff and closed the connection
'''),
        md("""
## By hand: three HTTP requests

The book logs in with `curl` and a cookie jar. Here is the same with `httpx`: the Login
action, then `Ping` with the cookie the server set, then `Logoff`. (The login parameters
come from `pbx.login_form()`, so no password is typed here.) When `AMIKIT_URL` is
`tcp://host:5038`, no HTTP address is known: the HTTP cells say so and skip.
"""),
        code('''
import httpx

if not pbx.url.startswith("http"):
    print(f"skipped: HTTP AMI not known ({pbx.url} is TCP): set AMIKIT_URL to "
          "http://HOST:8088 to follow the HTTP cells; they skip.")
else:
    http = httpx.Client()
    login = http.post(pbx.url + "/rawman", data=pbx.login_form())
    print(login.text)
    print("cookie:", login.headers["set-cookie"])
'''),
        md("""
The reply is plain AMI text: `Name: value` lines ending in CRLF, a blank line at the end.
The cookie `mansession_id` (eight hex digits in quotes) *is* the session: send it back and
you are logged in; lose it, or stay silent longer than `httptimeout` (60 s here), and
the server quietly gives you a new, unauthenticated one.
"""),
        code('''
if not pbx.url.startswith("http"):
    print("skipped: HTTP AMI not known")
else:
    ping = http.get(pbx.url + "/rawman", params={"action": "Ping", "ActionID": "ping-1"})
    print(ping.text)
    print(http.get(pbx.url + "/rawman", params={"action": "Logoff"}).text)
    print(http.get(pbx.url + "/rawman", params={"action": "Ping"}).text)   # after Logoff
'''),
        md("""
## The same with amikit, in each encoding

`amikit.parse_rawman`, `parse_mxml` and `parse_manager_html` read the three encodings into
`Message` objects; the client does it for you.
"""),
        code('''
if not pbx.url.startswith("http"):
    print("skipped: HTTP AMI not known")
else:
    with pbx.client() as rawman, pbx.client(encoding="mxml") as mxml:
        print(rawman.ping())
        print(mxml.ping())

    page = httpx.Client()
    page.post(pbx.url + "/manager", data=pbx.login_form())
    html = page.get(pbx.url + "/manager", params={"action": "Ping"}).text
    print(html[:120], "...")
    print(amikit.parse_manager_html(html)[0])
'''),
        md("""
In `mxml` Asterisk lower-cases header names and replaces `-` by `_` (`Cause-txt` arrives
as `cause_txt`); amikit gives you Asterisk's own spelling back.

## HTTP digest: no Login action at all

Prefix the encoding with `a` (`/arawman`, `/amxml`): the server answers 401 with a
challenge, the client answers it, and no cookie is involved.
"""),
        code('''
if not pbx.url.startswith("http"):
    print("skipped: HTTP AMI not known")
else:
    challenge = httpx.get(pbx.url + "/arawman", params={"action": "Ping"})
    print(challenge.status_code, challenge.headers["www-authenticate"])
    with pbx.client(auth="digest") as digest:
        print(digest.ping())
'''),
        md("""
## What an error looks like

Every AMI result is HTTP 200; errors are `Response: Error` with a `Message`. amikit raises
`amikit.errors.ActionFailed` (the server's message in its text) unless you pass
`check=False`.
"""),
        code('''
print(ami.action("FooBarBaz", check=False))
try:
    ami.hangup("PJSIP/nobody-00000000")
except amikit.errors.ActionFailed as error:
    print("refused:", error)
'''),
        md("""
## HTTP and TCP side by side

Both reach the same manager: the same users, actions, replies and events. What differs is
how the bytes travel.

| | HTTP (`http://host:8088/rawman`) | TCP (`tcp://host:5038`) |
|---|---|---|
| events | **poll**: they wait in the session's queue until you send `WaitEvent` | **push**: written to your connection as they happen, between your replies |
| the session | a cookie (`mansession_id`) carried by each request, many connections; it expires after `httptimeout` of silence | the connection itself: it ends when the connection closes (`Logoff` answers `Goodbye`, then the server hangs up) |
| events after Login | on by default, and queued until polled | on by default and sent at once (`FullyBooted` first); `Events: off` on Login, or the `Events` action, stops them |
| which reply is which | each request gets its own HTTP response | everything comes on one stream: your reply is the message that carries your `ActionID` |
| first bytes | an HTTP status line and headers | the banner `Asterisk Call Manager/12.0.0` |
| turned on by | `webenabled = yes` in manager.conf and http.conf `enabled = yes` (off in a stock Asterisk) | manager.conf `enabled = yes` only |

The cell below logs in over both, places a call from a third session, waits a second, then
sends the same `Ping` over both. Over HTTP the reply is the whole body, and the call's
events are still waiting for a `WaitEvent`; over TCP they have already arrived, before the
reply, which is found by its `ActionID`.
"""),
        code('''
if pbx.tcp_url is None or not pbx.url.startswith("http"):
    print("skipped: this needs both an HTTP URL and a TCP port "
          f"(have {pbx.url} and {pbx.tcp_url})")
else:
    web = httpx.Client()
    web.post(pbx.url + "/rawman", data=pbx.login_form())          # HTTP: a cookie session
    line = socket.create_connection(tcp_address, timeout=5)       # TCP: this connection
    form = pbx.login_form()
    line.sendall(f"Action: Login\\r\\nUsername: {form['username']}\\r\\n"
                 f"Secret: {form['secret']}\\r\\nActionID: login-1\\r\\n\\r\\n".encode())
    before = receive(line, 5, until=rb"ActionID: login-1\\r\\n(.+\\r\\n)*\\r\\n")

    call_id = f"nb01-{uuid.uuid4().hex[:8]}"
    ami.originate(Channel="Local/900@sets", Application="Wait", Data="1", Async=True,
                  ChannelId=call_id)
    time.sleep(1)

    print("HTTP reply to Ping:")
    print(web.get(pbx.url + "/rawman", params={"action": "Ping", "ActionID": "same-ping"}).text)
    line.sendall(b"Action: Ping\\r\\nActionID: same-ping\\r\\n\\r\\n")
    pushed = before + receive(line, 5, until=rb"ActionID: same-ping\\r\\n(.+\\r\\n)*\\r\\n")
    messages = amikit.parse_rawman(pushed)
    reply = next(i for i, m in enumerate(messages) if m.get("ActionID") == "same-ping")
    print(f"TCP: {len(messages)} messages on the connection; the reply to Ping is number "
          f"{reply + 1}, after {sum(1 for m in messages[:reply] if m.name)} events:")
    print(messages[reply])

    waited = amikit.parse_rawman(
        web.get(pbx.url + "/rawman", params={"action": "WaitEvent", "Timeout": "1"}).text)
    print("HTTP: WaitEvent now hands over",
          sum(1 for m in waited if m.name not in ("", None, "WaitEventComplete")), "events")
    web.get(pbx.url + "/rawman", params={"action": "Logoff"})
    line.sendall(b"Action: Logoff\\r\\n\\r\\n")
    pushed += receive(line, 5)                                    # until the server closes
    line.close()
    print()
    print("every byte the TCP connection received:")
    show(pushed)
'''),
        md("""
## Exercise

Ask the server which Asterisk it is: send the `Command` action with
`core show version` (amikit: `ami.command(...)` returns the output lines) and keep the
first line in `version`.
"""),
        exercise("version = None  # your code here"),
        solution('version = ami.command("core show version")[0]\nprint(version)'),
        check("version", 'assert version.startswith("Asterisk"), version'),
    ],
    "02-events": [
        md("""
# 2 · Events: WaitEvent, and events as a table

**You will learn** how events reach an HTTP client (only by polling `WaitEvent`), how to
turn them into a pandas DataFrame, and how to filter and count them.
"""),
        code(START),
        md("""
`WaitEvent` waits until events are queued for your session (or the timeout) and returns
them all at once. Every other session gets its own copy. Let us place a call from another
session and poll.

A PBX is shared: other people's calls send events too. So the call gets a `ChannelId` of
our own: it becomes the `Uniqueid` of its first channel and the `Linkedid` of every channel
of the call, and we keep only the events with that `Linkedid`.
"""),
        code('''
import time
import uuid

dropped = ami.wait_event(0)                     # start from an empty queue
print("earlier events dropped:", len(dropped))
call_id = f"nb02-{uuid.uuid4().hex[:8]}"        # our call's Linkedid
with pbx.client() as other:
    other.originate(Channel="Local/101@sets", Context="sets", Exten="103", Priority=1,
                    Async=True, ActionID="first-call", ChannelId=call_id)
batch = [e for e in ami.wait_event(timeout=5) if e.get("Linkedid") == call_id]
[event.name for event in batch][:10]
'''),
        md("""
`ami.events()` keeps polling for ever (stop it with `break`); here we poll until both
channels of our call have hung up. An `EventLog` collects what comes, and `.frame()` is a
typed DataFrame.
"""),
        code('''
log = amikit.EventLog(batch)
deadline = time.monotonic() + 30
while sum(e.name == "Hangup" for e in log) < 2:
    log.extend(e for e in ami.wait_event(timeout=1) if e.get("Linkedid") == call_id)
    assert time.monotonic() < deadline, "the call did not end"
df = log.frame()
df[["Event", "Timestamp", "Channel", "ChannelStateDesc"]].head(12)
'''),
        code('''
print(df["Event"].value_counts().head(8))
df[df["Event"] == "Hangup"][["Channel", "Cause", "Cause-txt"]]
'''),
        md("""
## Why no events?

Two things decide which events a session gets. Its user's `read` classes in
`manager.conf`: `call` for channel events, `dialplan` for Newexten and VarSet, `cdr` for
Cdr (a user without `dialplan` never sees a Newexten). And its own lifetime: a session gets
only what happened after it logged in.

Below, `watcher`, a second session of this notebook's user, logs in, then a second call is
placed: the watcher sees that call's events, and none of the first call, which ended
before the watcher existed.
"""),
        code('''
second_id = f"nb02-{uuid.uuid4().hex[:8]}"
with pbx.client() as watcher:                   # logged in from here on
    ami.originate(Channel="Local/900@sets", Application="Wait", Data="1", Async=True,
                  ChannelId=second_id)
    seen = []
    deadline = time.monotonic() + 15
    while sum(e.name == "Hangup" and e.get("Linkedid") == second_id for e in seen) < 2:
        seen += watcher.wait_event(1)
        assert time.monotonic() < deadline, "the second call did not end"
print("the second call:", sorted({e.name for e in seen if e.get("Linkedid") == second_id}))
print("events of the first call:", sum(e.get("Linkedid") == call_id for e in seen))
'''),
        md("""
## The live monitor

`EventMonitor` polls in the background (its own session) while you keep working: filter by
event name, channel or any text, pause it, click a row to see every header. `start()`
returns once its session listens, so it sees all of a call placed right after.
`monitor.frame` is what it saw, as a DataFrame; `monitor.pause()` and `monitor.resume()`
do what the Pause button does, and `monitor.close()` logs its session off.
"""),
        code('''
from amikit.widgets import EventMonitor

monitor = EventMonitor(ami)
monitor.start()
# 600 answers and waits; the Wait application on our side ends the call after 2 seconds
ami.originate(Channel="Local/600@sets", Application="Wait", Data="2", Async=True)
monitor
'''),
        md("The monitor polls whenever the kernel is idle; a cell that waits should `await`, not `time.sleep`, so the monitor keeps going:"),
        code('''
import asyncio

await asyncio.sleep(3)
monitor.frame["Event"].value_counts().head()
'''),
        md("`amikit.diagnose(ami)` checks, with a session of its own, whether events reach this user, and says what to change:"),
        code("amikit.diagnose(ami)"),
        md("""
## Exercise

Count the `Newchannel` events of our first call (they are all in `df`) and keep the
number in `newchannels`.
"""),
        exercise("newchannels = None  # your code here"),
        solution('newchannels = int((df["Event"] == "Newchannel").sum())\nprint(newchannels)'),
        check("newchannels", "assert newchannels == 2, newchannels"),
    ],
    "03-originate-and-redirect": [
        md("""
# 3 · Originate and Redirect: the book's flow

**You will learn** to place a call with `Originate`, find the channel names in the events,
move both bridged channels at once with one `Redirect` (its `ExtraChannel` moves the
second), and hang up with a cause.

The book rings phone A (`PJSIP/SOFTPHONE_A`); when it answers, extension 102 dials phone
B. A PBX configured like the lab has no phones, so Local channels stand in for them:
`Local/202@sets` dials `Local/600@sets`, which answers, and our end runs extension 600.
amikit's simulator has the book's phones too: set `AMIKIT_PHONE=PJSIP/SOFTPHONE_A` and
`AMIKIT_EXTEN=102` before starting JupyterLab (or change the two lines below) to use them.
"""),
        code(START + '''
import os
import uuid

phone = os.environ.get("AMIKIT_PHONE", "Local/202@sets")   # rings first
exten = os.environ.get("AMIKIT_EXTEN", "600")              # where it goes once answered
call_id = f"nb03-{uuid.uuid4().hex[:8]}"  # our call's Linkedid: we follow only this call
dropped = ami.wait_event(0)
print(f"{phone} to {exten}@sets; earlier events dropped: {len(dropped)}")'''),
        code('''
reply = ami.originate(Channel=phone, Context="sets", Exten=exten, Priority=1,
                      CallerID='"Book" <100>', Async=True, ChannelId=call_id)
print(reply)
'''),
        md("""
Channel names exist only while the call is up, and differ from the endpoint's name. Read
them from the events: `Newchannel` names each channel of the call, and `BridgeEnter` says
which two talk to each other. Other people's calls send events too: `ours()` keeps the
events of our call (its `Linkedid`; the Dial events name it `DestLinkedid`).
"""),
        code('''
import time


def ours(event):
    return call_id in (event.get("Linkedid"), event.get("DestLinkedid"))


log = amikit.EventLog()
members = {}                  # bridge → the channels that entered it
deadline = time.monotonic() + 15
while not any(len(names) == 2 for names in members.values()):
    for event in filter(ours, ami.wait_event(1)):
        log.append(event)
        if event.name == "BridgeEnter":
            members.setdefault(event["BridgeUniqueid"], []).append(event["Channel"])
    assert time.monotonic() < deadline, "no two channels in a bridge yet"
print("our channels:", [e["Channel"] for e in log if e.name == "Newchannel"])
channels = next(names for names in members.values() if len(names) == 2)
channels
'''),
        md("Those two are talking in a bridge. Send both of them elsewhere with one Redirect, and wait until both run their new extension:"),
        code('''
a, b = channels
print(ami.redirect(Channel=a, Context="sets", Exten="209", Priority=1,
                   ExtraChannel=b, ExtraContext="sets", ExtraExten="210", ExtraPriority=1))
moved = {}
deadline = time.monotonic() + 15
while set(moved) != {a, b}:
    for event in filter(ours, ami.wait_event(1)):
        log.append(event)
        if event.name == "Newexten" and event["Channel"] in (a, b):
            moved[event["Channel"]] = event["Exten"]
    assert time.monotonic() < deadline, "not redirected"
moved
'''),
        md("Hang up what is still up of our call (and only of ours), with a cause, and look at the whole call:"),
        code('''
for channel in ami.core_show_channels():
    if channel.get("Linkedid") == call_id:
        try:
            ami.hangup(channel["Channel"], cause=16)
        except amikit.errors.ActionFailed:
            pass  # the other half of a Local channel ends with it: it may be gone already
born = {e["Uniqueid"] for e in log if e.name == "Newchannel"}
deadline = time.monotonic() + 15
while not born <= {e["Uniqueid"] for e in log if e.name == "Hangup"}:
    log.extend(filter(ours, ami.wait_event(1)))
    assert time.monotonic() < deadline, "still up"
df = log.frame()
df.ami.channels()[["Channel", "created", "answered", "hungup", "Cause-txt", "bridged"]]
'''),
        code('amikit.plot_timeline(df, events=["DialBegin"]);'),
        md("""
## The action composer

Pick an action, fill its form (the fields come from the server's own documentation,
required ones marked `*`), see the exact request, send it, re-send it from the history or
copy it as Python. `composer.send(...)` does what the Send button does.
"""),
        code('''
from amikit.widgets import ActionComposer

composer = ActionComposer(ami)
composer.choose("Originate")
composer
'''),
        code('composer.send("Originate", Channel="Local/900@sets", Application="Wait", Data="1", Async="true")'),
        md("""
## Exercise

Originate a call from `Local/486@sets` (a line that is always busy) to extension 103 with
`Async=True` and an ActionID of your own, `ActionID=f"busy-{call_id}"` (every session sees
every OriginateResponse, other people's too); then wait for its `OriginateResponse` and
keep its `Reason` in `reason` (5 means busy).
"""),
        exercise("reason = None  # your code here"),
        solution('''
ami.originate(Channel="Local/486@sets", Context="sets", Exten="103", Priority=1,
              Async=True, ActionID=f"busy-{call_id}")
response = next(e for e in ami.events(names=["OriginateResponse"])
                if e.action_id == f"busy-{call_id}")
reason = response["Reason"]
'''),
        check("reason", 'assert reason == "5", reason'),
    ],
    "04-call-files": [
        md("""
# 4 · Call files

**You will learn** to build a call file, let amikit check it, schedule it, and place it
in the spool safely (written elsewhere, then moved in with one rename, never copied), then
watch it run and read the status Asterisk appends to the archived copy.

With the simulator, the spool is a temporary folder; with a real Asterisk on this machine,
`AMIKIT_SPOOL` names its spool directory (usually `/var/spool/asterisk`). A spool is
shared: this notebook looks only at its own files, by name.
"""),
        code(START + '''
spool = pbx.spool
print("spool:", spool)'''),
        code('''
from amikit import CallFile

call = CallFile("Local/101@sets", context="sets", extension="103", archive=True)
print(call.render())
'''),
        md("amikit refuses what Asterisk would misread, and says which field is wrong:"),
        code('''
for bad in (dict(channel="SOFTPHONE_A", extension="103"),
            dict(channel="PJSIP/SOFTPHONE_A", extension="103", application="Playback"),
            dict(channel="PJSIP/SOFTPHONE_A", application="Playback", data="x\\nChannel: evil")):
    try:
        CallFile(**bad)
    except amikit.errors.CallFileError as error:
        print(f"{error.field}: {error}")
'''),
        md("""
Place two: one now, one two seconds from now (its modification time in the future
schedules it). `our_spool()` shows our files. A file Asterisk has started is *in
progress*: it appends a `StartRetry` line per try to the file and moves the file's time on
to the next retry, which is why `spool_status` alone would take it for a scheduled one.
"""),
        code('''
import datetime as dt
import time
import uuid

import pandas as pd

path = call.place(spool / "outgoing")
later = CallFile("Local/900@sets", context="sets", extension="900", archive=True)
later_path = later.place(spool / "outgoing",
                         when=dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=2))
ours = [path.name, later_path.name]


def our_spool():
    """Our call files in the spool, one row each."""
    rows = []
    for entry in amikit.spool_status(spool):
        if entry.path.name in ours:
            started = entry.state != "archived" and entry.attempts > 0
            rows.append({"file": entry.path.name, "folder": entry.path.parent.name,
                         "state": "in progress" if started else entry.state,
                         "time (UTC)": f"{entry.due:%H:%M:%S}", "tries": entry.attempts,
                         "status": entry.status or ""})
    return pd.DataFrame(rows)


our_spool()
'''),
        md("Wait until both of ours are archived (Asterisk moves a finished file to `outgoing_done`, its `Status` appended):"),
        code('''
done = spool / "outgoing_done"
deadline = time.monotonic() + 30
while not all((done / name).exists() and "Status:" in (done / name).read_text()
              for name in ours):
    time.sleep(0.2)
    assert time.monotonic() < deadline, our_spool()
our_spool()
'''),
        code('print((done / path.name).read_text())'),
        md("""
## Exercise

Place a call file that calls the busy line `Local/486@sets` into extension 103, with one
retry (`max_retries=1`, `retry_time=5`) and `archive=True`, named `busy_name` (a name of
its own: the spool may hold an older `busy.call`). Wait until it is archived and keep its
final status in `status` (it should be `Expired`).
"""),
        exercise('''
busy_name = f"busy-{uuid.uuid4().hex[:8]}.call"
status = None  # your code here
'''),
        solution('''
CallFile("Local/486@sets", context="sets", extension="103", max_retries=1, retry_time=5,
         archive=True).place(spool / "outgoing", name=busy_name)
archived = spool / "outgoing_done" / busy_name
deadline = time.monotonic() + 30
while not archived.exists() or "Status:" not in archived.read_text():
    time.sleep(0.2)
    assert time.monotonic() < deadline, "not archived yet"
status = CallFile.parse(archived.read_text()).status
'''),
        check("status", 'assert status == "Expired", status'),
    ],
    "05-call-analysis": [
        md("""
# 5 · Call analysis with pandas

**You will learn** to load a recorded session into a DataFrame, make per-channel and
per-call tables, draw a timeline and a call ladder, and answer a question with pandas.

The recording ships with amikit: about five minutes of a real Asterisk 23.4.1 under a
mixed load (`amikit.sample_recording("busy")`: answered calls, Dial bridges, a queue,
conferences, busy lines, and other clients' logins in between, as on any shared PBX).
`amikit.sample_recording()` is a shorter one: eleven labelled Originates.
"""),
        code('''
import amikit

df = amikit.read_events(amikit.sample_recording("busy"))
print(len(df), "events from", df["Timestamp"].min(), "to", df["Timestamp"].max())
df[["Event", "Timestamp", "Channel", "Context", "Exten"]].head()
'''),
        code('channels = df.ami.channels()\nchannels[["Channel", "created", "answered", "hungup", "ring_time", "Cause-txt"]].head(10)'),
        code('calls = df.ami.calls()\ncalls[["Linkedid", "legs", "originator", "destinations", "duration", "disposition"]].head(10)'),
        md("All five minutes at once (one lane per channel, too many to name), then the first eight calls:"),
        code('amikit.plot_timeline(df);'),
        code('''
first = calls["Linkedid"].head(8)
amikit.plot_timeline(df[df["Linkedid"].isin(first)]);
'''),
        md("A call with a bridge (four legs: two Local channels, each with its two halves), as a ladder:"),
        code('amikit.plot_ladder(df, calls.loc[calls["legs"] == 4, "Linkedid"].iloc[0]);'),
        code('amikit.plot_event_rate(df, freq="10s", top=5);'),
        md("## Which calls were busy, and how long did they ring?"),
        code('''
busy = calls[calls["disposition"] == "BUSY"]
rings = channels[channels["Linkedid"].isin(busy["Linkedid"])][["Linkedid", "Channel", "created", "hungup"]]
rings.assign(rang=rings["hungup"] - rings["created"])
'''),
        md("""
## Exercise

How many calls in the recording were answered? Keep the number in `answered`.
"""),
        exercise("answered = None  # your code here"),
        solution('answered = int((calls["disposition"] == "ANSWERED").sum())\nprint(answered)'),
        check("answered", "assert answered == 101, answered"),
    ],
    "06-workshop": [
        md("""
# 6 · Workshop exercises

**You will learn** by doing: three exercises for a class (variables, your own events,
what a user may do), each with a check. Work in the empty cells; each solution is in the
collapsed block below its exercise.
"""),
        code(START + '''
dropped = ami.wait_event(0)
print("earlier events dropped:", len(dropped))'''),
        md("**1.** Set the global variable `WORKSHOP` to `done` with `Setvar`, read it back with `Getvar` into `value`."),
        exercise("value = None  # your code here"),
        solution('ami.setvar("WORKSHOP", "done")\nvalue = ami.getvar("WORKSHOP")'),
        check("value", 'assert value == "done", value'),
        md("**2.** Send a `UserEvent` named `Hello` with a header `Team: blue`, then catch it with `events()` and keep its `Team` in `team`."),
        exercise("team = None  # your code here"),
        solution('''
ami.action("UserEvent", UserEvent="Hello", Team="blue")
team = next(e for e in ami.events(names=["UserEvent"]) if e["UserEvent"] == "Hello")["Team"]
'''),
        check("team", 'assert team == "blue", team'),
        md("**3.** How many actions may the `hello` user run? (`list_commands()`) Keep the number in `actions`."),
        exercise("actions = None  # your code here"),
        solution("actions = len(ami.list_commands())"),
        check("actions", "assert actions >= 15, actions", done="Well done. All done."),
    ],
    "07-call-centre": [
        md("""
# 7 · A call centre

**You will learn** to make a busy hour of a call centre in seconds with the simulator's
traffic, to watch its queue live, and to answer a supervisor's questions with the
call-centre tables: who waited and how long, who gave up, how busy each agent was, and
the service level every ten minutes.

Generating traffic is a simulator feature, so this notebook always starts a simulated
Asterisk of its own, even when `AMIKIT_URL` names another PBX.
"""),
        md("""
## The call centre

One queue, `support`, and three agents. Each agent is a Local channel whose extension
rings for a while, answers, talks, and hangs up: Ana answers fastest and talks longest,
Chloe answers slowest and talks shortest. Callers dial extension 400, which puts them in
the queue. The whole call centre is two small configuration files in Asterisk's own
formats, written to a folder of their own:
"""),
        code('''
import pathlib
import tempfile

import amikit
from amikit.lab import FoundPBX

conf = pathlib.Path(tempfile.mkdtemp(prefix="callcentre-"))
(conf / "queues.conf").write_text("""
[support]
strategy = ringall      ; ring every free agent: the first to answer takes the call
timeout = 15            ; ring for 15 s, then try again after retry seconds
retry = 2
ringinuse = no          ; an agent on a call is not rung
member => Local/501@agents/n,0,Ana
member => Local/502@agents/n,0,Ben
member => Local/503@agents/n,0,Chloe
""")
(conf / "extensions.conf").write_text("""
[callers]
exten => 400,1,Answer()
 same => n,Queue(support)
 same => n,Hangup()

[agents]                ; an agent's phone rings, the agent answers and talks
exten => 501,1,Ringing()
 same => n,Wait(2)      ; Ana answers after 2 s
 same => n,Answer()
 same => n,Wait(150)    ; and talks for two and a half minutes
 same => n,Hangup()
exten => 502,1,Ringing()
 same => n,Wait(4)      ; Ben: 4 s, then 2 minutes
 same => n,Answer()
 same => n,Wait(120)
 same => n,Hangup()
exten => 503,1,Ringing()
 same => n,Wait(6)      ; Chloe: 6 s, then a minute and a half
 same => n,Answer()
 same => n,Wait(90)
 same => n,Hangup()
""")
print("configuration in", conf.name)
'''),
        md("""
`speed=360` runs every duration of the PBX 360 times faster: an hour in ten seconds.
`pbx_timestamps=True` stamps the events in that simulated time too, so the tables below
show an hour, not ten seconds. `FoundPBX.of(sim).client()` logs in as the simulator's
`hello` user, its secret read from the simulator's own `manager.conf`.
"""),
        code('''
sim = amikit.Simulator(port=0, speed=360, seed=7, config=conf, pbx_timestamps=True).start()
ami = FoundPBX.of(sim).client()
ami.wait_event(0)   # our session listens from here on: it will get the whole hour
print(sim)
'''),
        md("""
## A busy hour, live

`sim.traffic()` sends callers to the queue on the simulator's own loop and returns at
once. Callers arrive at random (a Poisson process: 1.2 a minute on average, from a seeded
random generator, so every run has the same callers), and each hangs up if still waiting
unanswered when its patience runs out (an exponential draw with a mean of 60 s). The
agents answer as the dialplan above makes them.

The monitor polls with its own session while the hour plays:
"""),
        code('''
from amikit.widgets import EventMonitor

monitor = EventMonitor(ami, max_events=50_000)
monitor.start()
hour = sim.traffic("support", calls_per_minute=1.2, patience=60, minutes=60, seed=7)
monitor
'''),
        md("""
Twenty minutes into the hour the supervisor sends Ben to lunch for a quarter of an hour
(`QueuePause` with a reason; the queue stops ringing him). Cells that wait here `await`,
so the monitor keeps polling. Then the monitor shows only the queue's own events (pick
others in its *Events* list):
"""),
        code('''
import asyncio

minute = 60 / sim.speed       # a minute of the hour, in real seconds
ben = "Local/502@agents/n"
await asyncio.sleep(20 * minute)
ami.action("QueuePause", Queue="support", Interface=ben, Paused="true", Reason="lunch")
await asyncio.sleep(15 * minute)
ami.action("QueuePause", Queue="support", Interface=ben, Paused="false")

monitor.render()
monitor.names.value = [n for n in monitor.names.options if n.startswith(("Queue", "Agent"))]
print(hour)
'''),
        md("`hour.wait()` blocks until the last caller has arrived and every call has ended; in a worker thread, the monitor goes on meanwhile:"),
        code('''
await asyncio.to_thread(hour.wait)
print(hour)
'''),
        md("""
## The supervisor's tables

Our session has queued every event of the hour; they make one frame. One row per caller's
stay in the queue: when it joined, how long it waited, the outcome, who answered, how
long they talked:
"""),
        code('''
log = amikit.EventLog()
while batch := ami.wait_event(0):
    log.extend(batch)
df = log.frame()
print(len(df), "events from", df["Timestamp"].min(), "to", df["Timestamp"].max())
print(sim.dropped_events, "events dropped")   # 0, or the frame lacks the hour's start
calls = df.ami.queue_calls()
calls[["joined", "position", "wait", "outcome", "answered_by", "talk"]].head(10)
'''),
        md("""
The simulator keeps at most 20,000 events waiting for a session's next poll, as Asterisk
bounds each session's queue, and drops the oldest beyond that: `sim.dropped_events`
counts them. This hour makes far fewer. Raise the rate (say `calls_per_minute=20`) and
the hour makes more events than that: the first calls would be missing from the frame,
silently but for that count. Then read events during the hour instead (an
`amikit.EventLog` fed by a loop of `ami.wait_event()`), or play a shorter stretch.
"""),
        code('calls["outcome"].value_counts()'),
        md("""
One row per agent. With `ringall`, every free agent is rung for every caller, so
`offered` counts rings, not calls; `answered` are the calls each took; `paused` is Ben's
lunch; `occupancy` is the time spent talking over the time available (the hour less the
pauses):
"""),
        code('''
agents = df.ami.agents()
agents[["MemberName", "offered", "answered", "not_answered", "talk", "paused", "occupancy"]]
'''),
        md("""
And the queue every ten minutes (by the time callers joined): calls offered, answered and
abandoned, the average speed of answer (`asa`), the longest wait, and the service level:
the share of calls answered within 20 seconds.
"""),
        code('''
stats = df.ami.queue_stats(freq="10min")
stats[["interval", "offered", "answered", "abandoned", "asa", "longest_wait", "service_level"]]
'''),
        md("## Pictures\n\nCallers waiting, agents busy and agents paused over the hour:"),
        code('amikit.plot_queue(df);'),
        md("The first eight callers, each with its agents' channels: waiting in the queue, ringing, talking:"),
        code('''
first = calls["Linkedid"].head(8)
df[df["Linkedid"].isin(first)].ami.plot_timeline();
'''),
        md("""
## Exercise

Which agent was idle the longest? An agent is idle while available (not paused) and not
talking: over the hour (from the frame's first event to its last), that is the hour less
the agent's pauses less its talk. Keep that agent's `MemberName` in `idlest`.
"""),
        exercise("idlest = None  # your code here"),
        solution('''
span = df["Timestamp"].max() - df["Timestamp"].min()
idle = span - agents["paused"] - agents["talk"]
idlest = agents.loc[idle.idxmax(), "MemberName"]
print(idlest, "was idle for", idle.max())
'''),
        check("idlest", '''
import pandas as pd
away = agents.set_index("MemberName")["paused"]
# an agent who answered no call is missing from the groupby: they talked for no time
talked = calls.groupby("answered_by")["talk"].sum().reindex(away.index, fill_value=pd.Timedelta(0))
free = (df["Timestamp"].max() - df["Timestamp"].min()) - away - talked
assert idlest == free.idxmax(), f"{idlest}? idle time per agent: {free.round('1s').to_dict()}"
'''),
        md("When you are done, stop the monitor and the simulator:"),
        code('''
monitor.close()
ami.close()
sim.stop()
'''),
    ],
    "08-replay": [
        md("""
# 8 · Replay a busy afternoon

**You will learn** to play a recorded session back through the simulator as if it were
happening now: to watch it with the live widgets, to pause it, change its speed and jump
to a moment, to ask the recorded PBX what was up at that moment, and to check that what a
live client received is exactly what the file holds.

Replaying is a simulator feature, so this notebook always starts a simulated Asterisk of
its own, even when `AMIKIT_URL` names another PBX.
"""),
        md("""
## A recording, served as AMI

The recording is notebook 5's: five minutes of a real Asterisk 23.4.1 under a mixed load
(`amikit.sample_recording("busy")`, 7,542 events). `Simulator(replay=…)` serves the same
HTTP and TCP AMI as ever, but its events come from the file: every logged-in session
receives them in the recorded order, the recorded gaps divided by `speed` (20 here: the
five minutes in a quarter of a minute).

`timestamps="original"` keeps every event's `Timestamp` as recorded. The default,
`"shifted"`, moves the whole recording to the moment playback begins (the gaps kept), so
that a replay reads like today's traffic; here we want to compare what we watch with the
file itself, row for row, so the times must be the file's.
"""),
        code('''
import amikit
from amikit import AMIClient

busy = amikit.sample_recording("busy")
sim = amikit.Simulator(port=0, replay=busy, speed=20, timestamps="original").start()
ami = AMIClient(sim.url, "hello", "world")   # it logs in at its first action
print(sim)
print(sim.replay)
'''),
        md("""
Nothing plays yet: a replay begins at the first login (or at `sim.replay.play()`), so a
client that connects first misses nothing.

## Watch it

`ReplayControl` plays and pauses the replay, sets its speed, and says where it is: the
recording's time at its position (UTC), the events published so far and how many a
second. Its slider jumps to another moment (a *seek*), but leave it alone until the
comparison below: a seek skips events, or plays some again, and the monitor would then
hold something else than the file.

The `EventMonitor` polls with a session of its own (a clone of `ami`: the same user). Its
`start()` is the first login here, so playback begins then and the monitor gets every
event from the first. Its filters choose what its table shows, not what it keeps: a list
of event names, a channel, and a text found in any header. It cannot say "`Cause` is not
16", but a text does well enough for failures: `user busy` is the `Cause-txt` of a Hangup
with cause 17, a call refused because the line was busy. (`monitor.frame` keeps every
event, whatever the filters show.)

The timeline draws the 8 latest calls (untick *follow the latest* for every call so far);
its *Call* list shows one call alone, with its ladder. It redraws at most twice a second,
and after a long draw waits as long as that draw took, so that drawing never keeps the
kernel busy more than half the time; an update that comes too soon is drawn once the
wait is over, so the last events always show.
"""),
        code('''
from amikit.widgets import EventMonitor, ReplayControl, TimelineView

control = ReplayControl(sim.replay)
monitor = EventMonitor(ami)
monitor.text.value = "user busy"
monitor.start()                    # the first login: playback begins
timeline = TimelineView(monitor)
display(control, monitor, timeline)
'''),
        md("""
A few seconds at 20×, then the rest without waiting between events (`float("inf")`, the
speed control's *unlimited*): the same events in the same order, only sooner, so that this
notebook does not keep you waiting. `sim.replay.wait()` blocks until the last event is
published; in a worker thread, so that the widgets go on updating meanwhile (a cell that
`await`s lets them):
"""),
        code('''
import asyncio

await asyncio.sleep(3)
sim.replay.speed = float("inf")
await asyncio.to_thread(sim.replay.wait, 120)
print(sim.replay)
'''),
        md("""
The replay has published everything; the monitor may still be taking the last events in
(it polls about once a second). It has them all when it counts every event published plus
one of its own, its login (more on that below):
"""),
        code('''
import time

deadline = time.monotonic() + 60
while len(monitor.events) < sim.replay.published + 1:
    assert time.monotonic() < deadline, "the monitor is still missing events"
    await asyncio.sleep(0.1)
monitor.render()
print(len(monitor.events), "events watched,", sim.replay.published, "published,",
      sim.dropped_events, "dropped")
'''),
        md("""
## Is what we watched the file?

Two things in the monitor's frame are the live path's own, not the recording's:

* the `received_at` column: when our client received each event (a file has no such
  column);
* one event: the monitor's own login, a `SuccessfulAuth` the simulator sent when its
  session logged in. It happened now, so it carries today's time: it is the one event
  outside the recording's five minutes. We set it aside, in plain sight:
"""),
        code('''
file = amikit.read_events(busy)
watched = monitor.frame
print("columns only the live path adds:", set(watched.columns) - set(file.columns))
recorded = watched["Timestamp"].between(file["Timestamp"].min(), file["Timestamp"].max())
watched.loc[~recorded, ["Event", "AccountID", "RemoteAddress", "Timestamp"]]
'''),
        md("""
The rest is the file. The calls, as notebook 5 makes them, are the same table:
`assert_frame_equal` raises if a single cell, type or index differs.
"""),
        code('''
import pandas as pd

live = watched[recorded]
calls = live.ami.calls()
pd.testing.assert_frame_equal(calls, file.ami.calls())
print(len(calls), "calls, identical to the file's")
calls[["Linkedid", "legs", "originator", "destinations", "duration", "disposition"]].head()
'''),
        md("""
And so is every event, header for header and in the same order, once `received_at` is
dropped. One detail: a categorical column keeps the list of every value it was built from,
and the watched frame's was built with our login among them (its `LocalAddress`); so we
compare the values, not those lists (`check_categorical=False`).
"""),
        code('''
events = live.drop(columns="received_at").reset_index(drop=True)
pd.testing.assert_frame_equal(events, file, check_categorical=False)
print(len(events), "events, identical to the file's")
'''),
        md("""
The failures, with the question the monitor's filter could not ask: the Hangups whose
`Cause` is not 16 (normal clearing). 17 is a busy line, the filter's `user busy`; 26 a
queue member that was rung while another one answered; 0 (unknown) is mostly the `;1`
half of a Local channel, which reports no cause of its own:
"""),
        code('''
hangups = live[(live["Event"] == "Hangup") & (live["Cause"] != 16)]
hangups.groupby(["Cause", "Cause-txt"], observed=True).size()
'''),
        md("""
## A moment of the afternoon

Pause the replay and jump to a moment: `seek(110)` goes 110 seconds in (`seek` also takes
a time of the recording's day, `"06:52:24"`, or a datetime). The PBX's state is rebuilt
from the events before that moment, which are not published again, and `seek` returns once
it is there; paused, the replay stays there (a finished one, as ours, plays on from there
when resumed). Its position is then the time of the last event before the moment:
"""),
        code('''
control.pause()
sim.replay.seek(110)
at = sim.replay.position
print(f"at {at:%H:%M:%S.%f} UTC, {sim.replay.elapsed:.1f} s in")
control.refresh()
control
'''),
        md("""
The read-only actions describe the recorded PBX at the replay position. `CoreShowChannels`
lists the channels up at `at`; the file says the same: the channels created by then and
not hung up yet (notebook 5's channel table). `ami` logs in here, at its first action:
"""),
        code('''
up = sorted(item["Channel"] for item in ami.core_show_channels())
channels = file.ami.channels()
alive = channels[(channels["created"] <= at) & ~(channels["hungup"] <= at)]
assert up == sorted(alive["Channel"]), (up, sorted(alive["Channel"]))
print(len(up), "channels up at", f"{at:%H:%M:%S}:", ", ".join(up))
'''),
        md("""
An action that would change what was recorded is refused, with a reason: the server is
replaying.
"""),
        code('''
try:
    ami.originate(Channel="Local/101@sets", Application="Wait", Data="1")
except amikit.AMIError as error:
    print(f"{type(error).__name__}: {error}")
'''),
        md("""
## Exercise

Jump back to 90 seconds into the recording and ask the replay how many channels were up
then. Keep the number in `up_at_90`.
"""),
        exercise("up_at_90 = None  # your code here"),
        solution('''
sim.replay.seek(90)
up_at_90 = len(ami.core_show_channels())
print(up_at_90, "channels up at", f"{sim.replay.position:%H:%M:%S}")
'''),
        check("up_at_90", '''
now = sim.replay.position
assert 80 < sim.replay.elapsed <= 90, f"the replay is {sim.replay.elapsed:.0f} s in: seek to 90 first"
expected = len(channels[(channels["created"] <= now) & ~(channels["hungup"] <= now)])
assert up_at_90 == expected, f"{up_at_90}? the file says {expected} channels were up at {now:%H:%M:%S}"
'''),
        md("When you are done, close the widgets and stop the simulator:"),
        code('''
control.close()
monitor.close()
ami.close()
sim.stop()
'''),
    ],
}


def build(name: str) -> nbformat.NotebookNode:
    """One notebook, its cell ids derived from its name and the cell's index."""
    cells = [nbformat.from_dict(dict(cell)) for cell in NOTEBOOKS[name]]
    for index, cell in enumerate(cells):
        cell["id"] = f"{name}-{index:02d}"
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    return notebook


def pick(wanted: Sequence[str]) -> list[str]:
    """The notebooks named in ``wanted`` (a whole name, or its start: ``07``); all for none.

        >>> pick(["07"]), pick(["01-first-contact"]), len(pick([])) == len(NOTEBOOKS)
        (['07-call-centre'], ['01-first-contact'], True)
    """
    if not wanted:
        return list(NOTEBOOKS)
    names = []
    for want in wanted:
        found = [name for name in NOTEBOOKS if name == want or name.startswith(want)]
        if len(found) != 1:
            raise ValueError(f"{want!r} names {'no' if not found else 'more than one'} notebook "
                             f"(there are {', '.join(NOTEBOOKS)})")
        names += [n for n in found if n not in names]
    return names


def main(out: pathlib.Path = OUT, names: Sequence[str] | None = None) -> None:
    """Write the notebooks ``names`` (default: every one) into ``out``."""
    chosen = list(NOTEBOOKS) if names is None else list(names)
    out.mkdir(exist_ok=True)
    for name in chosen:
        nbformat.write(build(name), out / f"{name}.ipynb")
    print(f"wrote {len(chosen)} notebook{'s' * (len(chosen) != 1)} to {out}")


def cli(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="build_notebooks.py",
        description="Write notebooks/*.ipynb from the cells in this file (outputs empty, "
                    "solutions collapsed, cell ids stable).")
    parser.add_argument("notebooks", nargs="*", metavar="NAME",
                        help="notebooks to write, by name or its start (07, 02-events); "
                             "default: all of them")
    parser.add_argument("--out", type=pathlib.Path, default=OUT, metavar="DIR",
                        help=f"where to write them (default: {OUT.name}/ of the repository)")
    args = parser.parse_args(argv)
    try:
        names = pick(args.notebooks)
    except ValueError as exc:
        parser.error(str(exc))
    main(args.out, names)
    return 0


if __name__ == "__main__":
    sys.exit(cli())
