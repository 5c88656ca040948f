"""Write notebooks/*.ipynb from the cells below (outputs empty, solutions collapsed).

    python tools/build_notebooks.py

Edit the notebooks here, not in Jupyter, so that what is committed stays output-free and
the same every time.
"""

from __future__ import annotations

import pathlib

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

OUT = pathlib.Path(__file__).resolve().parents[1] / "notebooks"
START = '''import amikit

pbx = amikit.find_pbx(speed=10)   # AMIKIT_URL if set, else the simulated Asterisk
ami = pbx.client()'''


def md(text: str):
    return new_markdown_cell(text.strip())


def code(text: str):
    return new_code_cell(text.strip())


def solution(text: str):
    cell = new_code_cell(text.strip())
    cell.metadata["jupyter"] = {"source_hidden": True}
    cell.metadata["tags"] = ["solution"]
    return cell


NOTEBOOKS = {
    "01-first-contact": [
        md("""
# 1 · First contact: Login, Ping, Logoff

**You will learn** how AMI looks over HTTP: the three encodings (`rawman`, `mxml`, the
HTML `/manager` page), what the `mansession_id` cookie is, how HTTP digest differs, and
what an error looks like. This follows the quick start of the book's AMI chapter.

The first cell finds a PBX: the Asterisk named by `AMIKIT_URL`, or amikit's simulated one.
"""),
        code(START),
        md("""
## By hand: three HTTP requests

The book logs in with `curl` and a cookie jar. Here is the same with `httpx`: the Login
action, then `Ping` with the cookie the server set, then `Logoff`. (The login parameters
come from `pbx.login_form()`, so no password is typed here.)
"""),
        code('''
import httpx

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
with pbx.client() as rawman, pbx.client(encoding="mxml") as mxml:
    print(rawman.ping())
    print(mxml.ping())

page = httpx.Client()
page.post(pbx.url + "/manager", data=pbx.login_form())
html = page.get(pbx.url + "/manager", params={"action": "Ping"}).text
print(html[:120], "...")
print(amikit.parse_manager_html(html))
'''),
        md("""
In `mxml` Asterisk lower-cases header names and replaces `-` by `_` (`Cause-txt` arrives
as `cause_txt`); amikit gives you Asterisk's own spelling back.

## HTTP digest: no Login action at all

Prefix the encoding with `a` (`/arawman`, `/amxml`): the server answers 401 with a
challenge, the client answers it, and no cookie is involved.
"""),
        code('''
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
## Exercise

Ask the server which Asterisk it is: send the `Command` action with
`core show version` (amikit: `ami.command(...)` returns the output lines) and keep the
first line in `version`.
"""),
        code("version = None  # your code here"),
        solution('version = ami.command("core show version")[0]\nprint(version)'),
        code('assert version.startswith("Asterisk"), version\nprint("Well done.")'),
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
"""),
        code('''
ami.wait_event(0)                               # start from an empty queue
with pbx.client() as other:
    other.originate(Channel="Local/101@sets", Context="sets", Exten="103", Priority=1,
                    Async=True, ActionID="first-call")
batch = ami.wait_event(timeout=5)
[event.name for event in batch][:10]
'''),
        md("""
`ami.events()` keeps polling for ever (stop it with `break`); here we poll until the
call has hung up. An `EventLog` collects what comes, and `.frame()` is a typed DataFrame.
"""),
        code('''
import time

log = amikit.EventLog(batch)
deadline = time.monotonic() + 30
while sum(e.name == "Hangup" for e in log) < 2 and time.monotonic() < deadline:
    log.extend(ami.wait_event(timeout=1))
df = log.frame()
df[["Event", "Timestamp", "Channel", "ChannelStateDesc"]].head(12)
'''),
        code('''
print(df["Event"].value_counts().head(8))
df[df["Event"] == "Hangup"][["Channel", "Cause", "Cause-txt"]]
'''),
        md("""
## Why no events?

Events need the user's `read` classes in `manager.conf` (`call` for channel events,
`dialplan` for Newexten and VarSet, `cdr` for Cdr), and a session only sees what happened
after it was created. The `limited` user of the lab configuration reads only `call`:
"""),
        code('''
with pbx.client() as watcher:
    watcher.wait_event(0)
    ami.originate(Channel="Local/900@sets", Application="Wait", Data="1", Async=True)
    time.sleep(1)
    names = {e.name for e in watcher.wait_event(2)}
print(sorted(names))
'''),
        md("""
## The live monitor

`EventMonitor` polls in the background (its own session) while you keep working: filter by
event name, channel or any text, pause it, click a row to see every header. `monitor.frame`
is what it saw, as a DataFrame.
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

Count the `Newchannel` events in `df` and keep the number in `newchannels`.
"""),
        code("newchannels = None  # your code here"),
        solution('newchannels = int((df["Event"] == "Newchannel").sum())\nprint(newchannels)'),
        code('assert newchannels >= 2, newchannels\nprint("Well done.")'),
    ],
    "03-originate-and-redirect": [
        md("""
# 3 · Originate and Redirect: the book's flow

**You will learn** to place a call with `Originate`, find the channel names from
`Newchannel`, move one channel with `Redirect`, then both bridged channels at once with
`ExtraChannel`, and hang up. Phone A (`PJSIP/SOFTPHONE_A`) rings, answers, and extension
102 dials phone B.
"""),
        code(START + "\nami.wait_event(0)"),
        code('''
reply = ami.originate(Channel="PJSIP/SOFTPHONE_A", Context="sets", Exten="102", Priority=1,
                      CallerID='"Book" <100>', Async=True)
print(reply)
'''),
        md("Channel names exist only while the call is up, and differ from the endpoint's name. Read them from `Newchannel`:"),
        code('''
import time

log = amikit.EventLog()
deadline = time.monotonic() + 10
channels = []
while len(channels) < 2 or not any(e.name == "BridgeEnter" and e["BridgeNumChannels"] == "2" for e in log):
    for event in ami.wait_event(1):
        log.append(event)
        if event.name == "Newchannel":
            channels.append(event["Channel"])
    assert time.monotonic() < deadline
channels
'''),
        md("Both phones are talking in a bridge. Send both of them elsewhere with one Redirect:"),
        code('''
a, b = channels[:2]
print(ami.redirect(Channel=a, Context="sets", Exten="209", Priority=1,
                   ExtraChannel=b, ExtraContext="sets", ExtraExten="210", ExtraPriority=1))
time.sleep(0.5)
log.extend(ami.wait_event(1))
[c["Channel"] + " at " + c["Exten"] for c in ami.core_show_channels()]
'''),
        md("Hang up whatever is still up, with a cause, and look at the whole call:"),
        code('''
for channel in ami.core_show_channels():
    ami.hangup(channel["Channel"], cause=16)
time.sleep(0.5)
log.extend(ami.wait_event(1))
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
        code('composer.send("Originate", Channel="PJSIP/SOFTPHONE_B", Application="Wait", Data="1", Async="true")'),
        md("""
## Exercise

Originate a call from `Local/486@sets` (a line that is always busy) to extension 103 with
`Async=True` and `ActionID="busy-1"`; then wait for its `OriginateResponse` and keep its
`Reason` in `reason` (5 means busy).
"""),
        code("reason = None  # your code here"),
        solution('''
ami.originate(Channel="Local/486@sets", Context="sets", Exten="103", Priority=1,
              Async=True, ActionID="busy-1")
response = next(e for e in ami.events(names=["OriginateResponse"]) if e.action_id == "busy-1")
reason = response["Reason"]
'''),
        code('assert reason == "5", reason\nprint("Well done.")'),
    ],
    "04-call-files": [
        md("""
# 4 · Call files

**You will learn** to build a call file, let amikit check it, schedule it, and place it
in the spool safely (written elsewhere, then moved in with one rename, never copied), then
watch it run and read the status Asterisk appends to the archived copy.

With the simulator, the spool is a temporary folder; with a real Asterisk on this machine,
`AMIKIT_SPOOL` names its spool directory (usually `/var/spool/asterisk`).
"""),
        code(START + '''
spool = pbx.spool
print("spool:", spool)
ami.wait_event(0)'''),
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
        code('''
import datetime as dt, time

path = call.place(spool / "outgoing")
later = CallFile("Local/900@sets", context="sets", extension="900", archive=True)
later.place(spool / "outgoing", when=dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=2))
amikit.spool_status(spool)
'''),
        code('''
deadline = time.monotonic() + 20
while len([e for e in amikit.spool_status(spool) if e.state == "archived"]) < 2:
    ami.wait_event(1)
    assert time.monotonic() < deadline
for entry in amikit.spool_status(spool):
    print(entry.state, entry.path.name, entry.status, entry.attempts)
'''),
        code('print((spool / "outgoing_done" / path.name).read_text())'),
        md("""
## Exercise

Place a call file that calls the busy line `Local/486@sets` into extension 103, with one
retry (`max_retries=1`, `retry_time=5`) and `archive=True`, named `busy.call`. Wait until it
is archived and keep its final status in `status` (it should be `Expired`).
"""),
        code("status = None  # your code here"),
        solution('''
CallFile("Local/486@sets", context="sets", extension="103", max_retries=1, retry_time=5,
         archive=True).place(spool / "outgoing", name="busy.call")
archived = spool / "outgoing_done" / "busy.call"
deadline = time.monotonic() + 20
while not archived.exists() or "Status:" not in archived.read_text():
    time.sleep(0.2)
    assert time.monotonic() < deadline
status = CallFile.parse(archived.read_text()).status
'''),
        code('assert status == "Expired", status\nprint("Well done.")'),
    ],
    "05-call-analysis": [
        md("""
# 5 · Call analysis with pandas

**You will learn** to load a recorded session into a DataFrame, make per-channel and
per-call tables, draw a timeline and a call ladder, and answer a question with pandas.
The recording ships with amikit: eleven labelled Originates on a real Asterisk 23.4.1.
"""),
        code('''
import amikit

df = amikit.read_events(amikit.sample_recording())
print(len(df), "events")
df[["Event", "Timestamp", "Channel", "Context", "Exten"]].head()
'''),
        code('channels = df.ami.channels()\nchannels[["Channel", "created", "answered", "hungup", "ring_time", "Cause-txt"]]'),
        code('calls = df.ami.calls()\ncalls[["Linkedid", "legs", "originator", "destinations", "duration", "disposition"]]'),
        code('amikit.plot_timeline(df);'),
        code('amikit.plot_ladder(df, calls["Linkedid"][1]);'),
        code('amikit.plot_event_rate(df, freq="1s", top=5);'),
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
        code("answered = None  # your code here"),
        solution('answered = int((calls["disposition"] == "ANSWERED").sum())\nprint(answered)'),
        code('assert answered == 7, answered\nprint("Well done.")'),
    ],
    "06-workshop": [
        md("""
# 6 · Workshop exercises

**You will learn** by doing: three exercises for a class (variables, your own events,
what a user may do), each with a check. Work in the empty cells; the solutions are in the
collapsed cells.
"""),
        code(START + "\nami.wait_event(0)"),
        md("**1.** Set the global variable `WORKSHOP` to `done` with `Setvar`, read it back with `Getvar` into `value`."),
        code("value = None  # your code here"),
        solution('ami.setvar("WORKSHOP", "done")\nvalue = ami.getvar("WORKSHOP")'),
        code('assert value == "done", value'),
        md("**2.** Send a `UserEvent` named `Hello` with a header `Team: blue`, then catch it with `events()` and keep its `Team` in `team`."),
        code("team = None  # your code here"),
        solution('''
ami.action("UserEvent", UserEvent="Hello", Team="blue")
team = next(ami.events(names=["UserEvent"]))["Team"]
'''),
        code('assert team == "blue", team'),
        md("**3.** How many actions may the `hello` user run? (`list_commands()`) Keep the number in `actions`."),
        code("actions = None  # your code here"),
        solution("actions = len(ami.list_commands())"),
        code('assert actions >= 15, actions\nprint("All done.")'),
    ],
}


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name, cells in NOTEBOOKS.items():
        notebook = new_notebook(cells=cells)
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                           "language": "python"}
        nbformat.write(notebook, OUT / f"{name}.ipynb")
    print(f"wrote {len(NOTEBOOKS)} notebooks to {OUT}")


if __name__ == "__main__":
    main()
