"""The simulator's renderers give the bytes of a real Asterisk (captures)."""

from __future__ import annotations

import pytest

from amikit import parse_rawman
from amikit.sim import wire
from amikit.sim.events import EventBus, EventQueue
from tests.conftest import capture_bytes

PAIRS = ["04_lists/{}/010_command_core_show_version", "04_lists/{}/011_command_dialplan_show_300",
         "04_lists/{}/006_listcommands", "04_lists/{}/007_showdialplan_sets",
         "03_errors/{}/002_unknown_action", "03_errors/{}/017_command_unknown_cli",
         "05_originate/{}/014_calls_waitevent_001", "01_login/{}/005_login"]


@pytest.mark.parametrize("name", PAIRS)
def test_mxml_rendering_matches_asterisk(name):
    raw = capture_bytes(name.format("rawman") + ".body.bin")
    xml = capture_bytes(name.format("mxml") + ".body.bin")
    rendered = wire.mxml([m.headers for m in parse_rawman(raw)])
    if "waitevent" in name:  # a different session: same shape, other values
        assert rendered.count(b"<response ") == raw.count(b"\r\n\r\n")
        return
    assert rendered == xml


def test_html_and_pages_match_asterisk(captures):
    raw = (captures / "01_login/rawman/005_login.body.bin").read_bytes()
    html = (captures / "01_login/manager/005_login.body.bin").read_bytes()
    assert wire.html_manager([m.headers for m in parse_rawman(raw)]) == html
    for status, path in [(404, "11_http_misc/004_root_404"), (501, "11_http_misc/008_put_method_rawman"),
                         (401, "02_digest/arawman/001_no_credentials")]:
        assert wire.http_page(status, "Asterisk/23.4.1") == (captures / f"{path}.body.bin").read_bytes()


def test_rawman_round_trip():
    msgs = [[("Response", "Success"), ("Output", "  padded  ")], [("Event", "X")]]
    assert [m.headers for m in parse_rawman(wire.rawman(msgs))] == msgs


def test_event_queue_is_bounded_and_counts_what_it_drops():
    bus = EventBus(timestamps=False)
    woken = []
    queue = EventQueue(3, lambda: woken.append(1))
    bus.queues.add(queue)
    for i in range(5):
        bus.publish("UserEvent", 64, [("N", str(i))])
    assert [e.headers[-1][1] for e in queue.drain()] == ["2", "3", "4"]
    assert queue.dropped == 2 and len(woken) == 5
    assert bus.published == 5
