"""The widgets, driven through their traits and handlers against the simulator (no browser)."""

from __future__ import annotations

import asyncio
import time

import pytest

import amikit
from amikit import AMIClient, Simulator
from amikit.errors import ConnectionLost, NoBanner
from amikit.widgets import ActionComposer, ConnectPanel, EventMonitor, TimelineView, diagnose
from amikit.widgets.connect import explain as diagnose_connect
from tests.conftest import wait_until


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
    view.call.value = linkedid
    assert view.draws == 2


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
