"""Widgets for exploring AMI in Jupyter (ipywidgets 8).

``explore()`` puts them together; each also works alone:

* :class:`ConnectPanel` — log in, with errors in plain words;
* :class:`ActionComposer` — an action form from the server's own documentation;
* :class:`EventMonitor` — a live, filtered tail of events, ``.frame`` as a DataFrame;
* :class:`TimelineView` — the live channel timeline and a call's ladder;
* :class:`ReplayControl` — play, pause, speed and position of a simulator's replay;
* :func:`diagnose` — why am I getting no events?
"""

from __future__ import annotations

import os

import ipywidgets as w

from amikit.client import AMIClient
from amikit.widgets.composer import ActionComposer
from amikit.widgets.connect import ConnectPanel
from amikit.widgets.diagnose import Diagnosis, diagnose
from amikit.widgets.monitor import EventMonitor
from amikit.widgets.replay import ReplayControl
from amikit.widgets.timeline import TimelineView

__all__ = ["ActionComposer", "ConnectPanel", "Diagnosis", "EventMonitor", "ReplayControl",
           "TimelineView", "diagnose", "explore"]


def explore(url: str | None = None, username: str = "hello", secret: str | None = None) -> w.Tab:
    """One dashboard: Connect, Actions, Events, Timeline.

    With no ``url`` and no ``AMIKIT_URL`` it starts the embedded simulator and says so.
    """
    if url is None:
        from amikit.lab import find_pbx

        pbx = find_pbx(quiet=True)
        # the PBX's own client carries the secret: the panel logs in a clone of it
        panel = ConnectPanel(client=pbx.client())
        note = ("No AMIKIT_URL: this is amikit's simulated Asterisk." if pbx.simulated
                else f"Using {pbx.url} from AMIKIT_URL.")
        ready = True
    else:
        secret = secret if secret is not None else os.environ.get("AMIKIT_SECRET", "")
        panel = ConnectPanel(url, username, secret)
        note, ready = "", bool(secret)
    composer = ActionComposer()
    events = w.VBox([w.HTML("Connect first.")])
    timeline = w.VBox([w.HTML("Connect first.")])
    tabs = w.Tab(children=[w.VBox([w.HTML(note), panel]), composer, events, timeline],
                 titles=("Connect", "Actions", "Events", "Timeline"))

    def connected(client: AMIClient) -> None:
        composer.use(client)
        monitor = EventMonitor(client)
        events.children = [monitor]
        timeline.children = [TimelineView(monitor)]
        monitor.start()
        tabs.monitor = monitor

    panel.on_connect(connected)
    if ready:
        panel.connect()
    tabs.panel, tabs.composer = panel, composer
    return tabs
