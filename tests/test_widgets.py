"""The widgets, driven through their traits and handlers against the simulator (no browser)."""

from __future__ import annotations

import asyncio
import threading
import time
import types

import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

import amikit
from amikit import AMIClient, Simulator
from amikit.errors import ConnectionLost, NoBanner
from amikit.message import is_stream_event
from amikit.widgets import ActionComposer, ConnectPanel, EventMonitor, TimelineView, diagnose
from amikit.widgets import timeline as timeline_module
from amikit.widgets.connect import explain as diagnose_connect
from tests.conftest import wait_until

BUSY = amikit.sample_recording("busy")


@pytest.fixture(scope="module")
def sim():
    with Simulator(port=0, tcp_port=0, speed=10, seed=2) as running:
        yield running


@pytest.fixture
def client(sim):
    with AMIClient(sim.url, "hello", "world") as ami:
        yield ami


def test_connect_panel_connects_and_explains_errors(sim):
    panel = ConnectPanel(sim.url, "hello", "world")
    seen = []
    panel.on_connect(seen.append)
    panel.button.click()
    assert panel.client is not None and seen == [panel.client]
    assert "Connected" in panel.status.value and "23.4.1" in panel.status.value
    assert "Originate" in panel.permitted
    panel.secret.value = "wrong"
    panel.button.click()
    assert "refused this username or secret" in panel.status.value
    panel.url.value = "http://127.0.0.1:1"
    assert panel.connect() is None and "Nothing answers" in panel.status.value
    panel.url.value = sim.url + "/nothing"
    panel.secret.value = "world"
    assert panel.connect() is None and "webenabled" in panel.status.value
    assert "world" not in panel.status.value


def test_connect_panel_over_tcp(sim):
    panel = ConnectPanel(sim.tcp_url, "hello", "world")
    assert list(panel.auth.options) == ["plain", "md5"] and panel.encoding.disabled
    panel.auth.value = "md5"
    client = panel.connect()
    assert client is not None and client.banner == "Asterisk Call Manager/12.0.0"
    assert "Connected" in panel.status.value and "Originate" in panel.permitted
    panel.url.value = sim.url
    assert list(panel.auth.options) == ["cookie", "digest"] and not panel.encoding.disabled
    panel.url.value = "tcp://127.0.0.1:1"
    assert panel.connect() is None and "manager.conf" in panel.status.value
    not_ami = NoBanner("the server did not greet as AMI does")  # judged by type, not text
    assert "but not AMI" in diagnose_connect(not_ami, "tcp://127.0.0.1:8088")
    lost = ConnectionLost("no AMI banner, says the text; the type says otherwise")
    assert "but not AMI" not in diagnose_connect(lost, "tcp://127.0.0.1:8088")
    shown = diagnose_connect(lost, "tcp://<b>x</b>:1")
    assert "<b>x</b>" not in shown and "&lt;b&gt;x&lt;/b&gt;" in shown
    panel.url.value = "tcp://127.0.0.1"
    assert panel.connect() is None and "needs a host and a port" in panel.status.value
    client.close()
    template = ConnectPanel(client=AMIClient(sim.tcp_url, "hello", "world", auth="md5"))
    assert template.auth.value == "md5" and template.connect() is not None
    template.client.close()


def test_event_monitor_over_tcp(sim):
    with AMIClient(sim.tcp_url, "hello", "world") as tcp:
        monitor = EventMonitor(tcp).start()
        originate_one(tcp, "monitor-tcp")
        assert wait_until(lambda: the_whole_call(monitor, "monitor-tcp")), monitor.counts
        monitor.close()
        assert not monitor.running


def test_composer_builds_the_form_from_the_servers_documentation(client):
    composer = ActionComposer(client)
    assert "Originate" in composer.actions.options
    composer.search.value = "orig"
    assert list(composer.actions.options) == ["Originate"]
    composer.actions.value = "Originate"
    assert "Channel" in composer.fields and composer.fields["Channel"].description == "Channel *"
    assert "Variable" in composer.repeats
    composer.send_button.click()
    assert "Fill the required fields first: Channel" in composer.reply.value
    composer.fields["Channel"].value = "Local/900@sets"
    composer.fields["Application"].value = "Wait"
    composer.fields["Data"].value = "1"
    composer.fields["Async"].value = "true"
    row = next(c for c in composer.form.children
               if getattr(c, "children", None) and c.children[0] is composer.repeats["Variable"])
    row.children[1].click()  # "+ Variable": another row
    rows = composer.repeats["Variable"].children
    rows[0].value, rows[1].value = "A=1", "B=2"
    assert "Action: Originate\nActionID" not in composer.preview.value  # no ActionID typed
    assert "Variable: A=1\nVariable: B=2" in composer.preview.value
    assert f"{client.endpoint}?Action=Originate" in composer.preview.value
    composer.send_button.click()
    assert "Originate successfully queued" in composer.reply.value
    assert "ami.originate(" in composer.code.value and "&#x27;A=1&#x27;" in composer.code.value
    assert len(composer.history) == 1
    composer.resend.click()
    assert len(composer.history) == 2
    reply = composer.send("Ping")
    assert reply["Ping"] == "Pong"


def test_composer_masks_secrets_and_falls_back_to_the_catalog(sim):
    composer = ActionComposer()
    assert "Originate" in composer.actions.options
    composer.choose("Login")
    composer.fields["Username"].value = "hello"
    composer.fields["Secret"].value = "world-pw"
    assert "world-pw" not in composer.preview.value and "********" in composer.preview.value
    with AMIClient(sim.url, "limited", "limitedpw") as limited:
        composer.use(limited)
        assert "Command" not in composer.actions.options
        composer.choose("Originate")  # no command class: the catalog's fields
        assert composer.fields["Channel"].description == "Channel *"


def sessions_logged_in(sim) -> int:
    return sum(s.authenticated for s in list(sim.manager.sessions.values()))


def originate_one(client, action_id: str) -> None:
    client.originate(Channel="Local/900@sets", Application="Wait", Data="1", Async=True,
                     ActionID=action_id)


def the_whole_call(monitor, action_id: str) -> bool:
    """Both Local halves born and hung up, and the OriginateResponse of ``action_id``."""
    return (monitor.counts["Newchannel"] >= 2 and monitor.counts["Hangup"] >= 2
            and any(e.name == "OriginateResponse" and e.action_id == action_id
                    for e in list(monitor.events)))


def test_event_monitor_sees_the_whole_call_sent_right_after_start(sim, client):
    monitor = EventMonitor(client)
    assert monitor.frame.empty and not monitor.running and not monitor.ready.is_set()
    before = sessions_logged_in(sim)
    assert monitor.start() is monitor
    # start() returned: the session is logged in and listening, no waiting needed
    assert monitor.ready.is_set() and sessions_logged_in(sim) == before + 1
    originate_one(client, "monitor-1")
    assert wait_until(lambda: the_whole_call(monitor, "monitor-1")), monitor.counts
    frame = monitor.frame
    assert (frame["Event"] == "Newchannel").sum() == 2
    assert frame.loc[frame["Event"] == "Newchannel", "Channel"].str.startswith(
        "Local/900@sets").all()
    monitor.render()
    assert "events" in monitor.summary.value
    monitor.names.value = ("Hangup",)
    hangups = [e for e in monitor.events if e.name == "Hangup"]
    assert monitor.table.options and all("Hangup" in row for row in monitor.table.options)
    # the whole Timestamp, not its last 15 characters
    assert [row.split()[0] for row in monitor.table.options] == [e["Timestamp"] for e in hangups]
    monitor.table.index = 0
    assert "Cause" in monitor.detail.value
    monitor.close()
    assert not monitor.running and not monitor.ready.is_set()
    assert sessions_logged_in(sim) == before, "close() logs the session off"
    with pytest.raises(amikit.AMIError, match="closed"):
        monitor.start()


def test_event_monitor_started_in_a_running_loop_logs_in_before_returning(sim, client):
    """As in a notebook cell: start() and an action in the same cell, the loop busy."""
    monitor = EventMonitor(client)

    async def cell_then_idle() -> None:
        monitor.start()
        assert monitor.ready.is_set() and monitor._task is not None
        originate_one(client, "monitor-2")  # still inside the "cell": the loop has not run
        deadline = time.monotonic() + 10
        while not the_whole_call(monitor, "monitor-2") and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    before = sessions_logged_in(sim)
    try:
        asyncio.run(cell_then_idle())
        assert the_whole_call(monitor, "monitor-2"), monitor.counts
        assert (monitor.frame["Event"] == "Newchannel").sum() == 2
    finally:
        monitor.close()
    assert sessions_logged_in(sim) == before


def test_event_monitor_pause_holds_events_and_resume_adds_them(sim, client):
    monitor = EventMonitor(client).start()
    try:
        monitor.pause()
        assert monitor.pause_button.value and monitor.running
        originate_one(client, "monitor-3")
        assert wait_until(lambda: sum(e.name == "Hangup" for e in monitor._held) >= 2)
        assert monitor.counts["Newchannel"] == 0 and monitor.frame.empty
        monitor.resume()
        assert the_whole_call(monitor, "monitor-3")
        with pytest.warns(DeprecationWarning, match="pause"):
            monitor.stop()
        assert monitor.pause_button.value and monitor.running, "stop() only ever paused"
        monitor.pause_button.value = False  # the toggle in the widget is the same switch
        assert not monitor.paused
    finally:
        monitor.close()


def test_timeline_view_redraws_at_most_twice_a_second(sim, client):
    log = amikit.EventLog(amikit.parse_rawman(amikit.sample_recording()))
    view = TimelineView(log)
    assert view.refresh(force=True)
    assert not view.refresh(), "throttled"
    assert view.output.outputs and "image/png" in view.output.outputs[-1]["data"]
    linkedid = view.call.options[2][1]
    view.call.value = linkedid  # drawn now: the redraw the throttled refresh scheduled is off
    assert view.draws == 2 and view._pending is None
    view.close()


# -- TimelineView: expected values from the recording itself (read_events, the tables) --
def latest_channels(df: pd.DataFrame, count: int = 8) -> pd.DataFrame:
    """The channels (``df.ami.channels()``) of the ``count`` calls that started last."""
    latest = set(df.ami.calls()["Linkedid"].astype(str).tail(count))
    channels = df.ami.channels()
    return channels[channels["Linkedid"].astype(str).isin(latest)]


def drawn(view: TimelineView) -> tuple[str, list[str]]:
    """The title and the lane names of the timeline ``view`` drew last."""
    figure = view.figure
    if figure is None:
        return "", []
    ax = figure.axes[0]
    return ax.get_title(), sorted(label.get_text() for label in ax.get_yticklabels())


def events_of(recording: bytes) -> list[amikit.Message]:
    """The events of a recording, as a monitor's poller takes them in (no responses)."""
    return [m for m in amikit.parse_rawman(recording) if is_stream_event(m)]


def timeline_of(channels: pd.DataFrame, calls: int) -> tuple[str, list[str]]:
    return (f"Channel timeline: {len(channels)} channels, {calls} calls",
            sorted(channels["Channel"].astype(str)))


@pytest.mark.parametrize("events", [4_800, None])
def test_following_the_latest_draws_only_the_latest_calls(events):
    df = amikit.read_events(BUSY)
    df = df if events is None else df.head(events)
    # rows without a Linkedid that name a channel: the ones that used to bring theirs along
    assert (df["Linkedid"].isna() & df["Uniqueid"].notna()).sum() > 100
    view = TimelineView(df)
    assert view.refresh(force=True)
    assert drawn(view) == timeline_of(latest_channels(df), 8)
    view.follow.value = False
    assert view.refresh(force=True)
    assert drawn(view)[0] == (f"Channel timeline: {len(df.ami.channels())} channels, "
                              f"{len(df.ami.calls())} calls")
    view.close()


def test_the_call_list_shows_latest_calls_until_one_is_chosen():
    df = amikit.read_events(amikit.sample_recording())
    view = TimelineView(df)
    # "latest calls" is a real choice: a value of None would show a blank list
    assert view.call.index == 0 and view.call.label == "latest calls"
    assert view.call.value == timeline_module.LATEST == ""
    assert view.refresh(force=True)
    calls = df.ami.calls()
    assert [value for _, value in view.call.options] == ["", *calls["Linkedid"].astype(str)]
    assert view.call.index == 0 and view.call.label == "latest calls"
    one = str(calls["Linkedid"].iloc[3])
    view.call.value = one
    assert view.figure.axes[0].get_title().endswith("1 call") and view.call.label.startswith(one)
    view.refresh(force=True)  # the list rebuilt the same: the choice stays
    assert view.call.value == one
    view.call.value = timeline_module.LATEST
    assert drawn(view) == timeline_of(latest_channels(df), 8)
    view.close()


def test_a_calls_timeline_and_ladder_fit_in_the_figure():
    df = amikit.read_events(BUSY)
    view = TimelineView(df)
    view.refresh(force=True)  # the list of calls
    view.call.value = str(df.ami.calls()["Linkedid"].iloc[-1])  # 4 channels and a bridge
    figure = view.figure
    renderer = FigureCanvasAgg(figure).get_renderer()
    figure.draw(renderer)
    timeline = figure.axes[0]
    date = timeline.xaxis.get_offset_text()
    assert date.get_text().startswith(f"{df['Timestamp'].max():%Y}")
    texts = [date, timeline.xaxis.label, *(ax.title for ax in figure.axes)]
    for text in texts:
        box = text.get_window_extent(renderer)
        inside = box.x0 >= 0 and box.x1 <= figure.bbox.x1 and box.y0 >= 0
        assert inside and box.y1 <= figure.bbox.y1, (text.get_text(), box)
    assert not date.get_window_extent(renderer).overlaps(
        timeline.xaxis.label.get_window_extent(renderer)), "the date runs into 'time (UTC)'"
    view.close()


def test_a_throttled_update_is_drawn_once_the_wait_is_over(sim, client):
    """As EventMonitor calls it without a running loop: from its polling thread."""
    messages = events_of(BUSY)
    expected = timeline_of(latest_channels(amikit.read_events(BUSY)), 8)
    monitor = EventMonitor(client)  # not started: add() takes events in as its poller does
    view = TimelineView(monitor)
    try:
        monitor.add(messages[:4_800])
        assert view.draws == 1 and drawn(view) != expected
        monitor.add(messages[4_800:])  # right after a draw: too soon to draw again now
        assert wait_until(lambda: drawn(view) == expected, 60), drawn(view)
        assert view._pending is None
    finally:
        view.close()
        monitor.close()


def test_on_a_running_loop_the_redraw_after_a_throttled_update_is_the_loops(sim, client):
    messages = events_of(amikit.sample_recording())
    expected = timeline_of(latest_channels(amikit.read_events(amikit.sample_recording())), 8)
    monitor = EventMonitor(client)
    view = TimelineView(monitor)

    async def cell() -> None:
        monitor.add(messages[:300])
        monitor.add(messages[300:])
        assert isinstance(view._pending, asyncio.TimerHandle)  # loop.call_later, no thread
        deadline = time.monotonic() + 30
        while drawn(view) != expected and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    try:
        asyncio.run(cell())
        assert drawn(view) == expected and view.draws == 2
    finally:
        view.close()
        monitor.close()


def test_throttled_updates_schedule_one_redraw_and_close_cancels_it():
    view = TimelineView(amikit.read_events(amikit.sample_recording()), max_rate=0.5)
    assert view.refresh(force=True)
    assert not view.refresh() and not view.refresh()
    pending = view._pending
    assert isinstance(pending, threading.Timer) and pending.is_alive()
    assert not view.refresh() and view._pending is pending, "at most one pending redraw"
    view.close()
    assert view._pending is None
    assert wait_until(lambda: not pending.is_alive())
    assert view.draws == 1 and not view.refresh(force=True), "closed: no more drawing"
    view.close()  # again: nothing to do


def test_the_wait_between_draws_is_at_least_the_last_draws_length(monkeypatch):
    """Never more than about half the time drawing: a draw that took 3 s (on a clock of the
    test's) is followed by 3 s without one, although max_rate allows two a second."""
    clock = [1_000.0]
    monkeypatch.setattr(timeline_module, "time", types.SimpleNamespace(monotonic=lambda: clock[0]))
    view = TimelineView(amikit.read_events(amikit.sample_recording()), max_rate=2.0)
    frame = view._frame

    def slow_frame():
        clock[0] += 3.0
        return frame()

    view._frame = slow_frame
    assert view.refresh(force=True)
    clock[0] += 1.0  # past 1 / max_rate, not past the draw's own length
    assert not view.refresh()
    assert view.draw_seconds == 3.0
    assert view._pending.interval == pytest.approx(2.0), "the redraw comes when the wait ends"
    clock[0] += 2.0
    assert view.refresh() and view.draws == 2 and view._pending is None
    view.close()


def test_diagnose_says_what_it_found(sim, client):
    result = diagnose(client, wait=3)
    assert result.events_seen > 0 and "events do reach this user" in result.text
    assert result.read_classes and "call" in result.read_classes
    with AMIClient(sim.url, "limited", "limitedpw") as limited:
        found = diagnose(limited, wait=1)
    assert "unknown" in found.text and "command class" in found.text
    assert "<ul>" in found._repr_html_()


def test_explore_starts_the_simulator_when_nothing_is_set(monkeypatch):
    for name in ("AMIKIT_URL", "AMIKIT_USER", "AMIKIT_SECRET", "AMIKIT_SPOOL"):
        monkeypatch.delenv(name, raising=False)
    tabs = amikit.explore()
    try:
        assert list(tabs.titles) == ["Connect", "Actions", "Events", "Timeline"]
        assert "simulated Asterisk" in tabs.children[0].children[0].value
        assert tabs.panel.client is not None and "Connected" in tabs.panel.status.value
        assert isinstance(tabs.children[2].children[0], EventMonitor)
        assert isinstance(tabs.children[3].children[0], TimelineView)
    finally:
        tabs.monitor.close()


def test_composer_copy_as_python_names_the_client_as_the_notebooks_do(client):
    composer = ActionComposer(client)
    reply = composer.send("Ping")
    assert reply["Response"] == "Success"
    assert "ami.ping()" in composer.code.value and "client." not in composer.code.value
    named = ActionComposer(client, variable="phone")
    named.send("Ping")
    assert "phone.ping()" in named.code.value
    named.actions.value = "Originate"
    # long header names keep their whole label (ipywidgets cuts the default-width ones)
    assert named.fields["OtherChannelId"].style.description_width == "initial"
