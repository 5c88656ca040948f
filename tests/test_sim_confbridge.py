"""The simulator's conferences (ConfBridge and its actions) against a real Asterisk's captures.

The two-party conference of ``21_queue_conference_actions`` is replayed with the capture's
own requests: the action replies must be the recorded bytes, the events between them the
recorded ones in the recorded order. Names that differ from run to run (channel numbers,
bridge ids, uniqueids, seconds up) are mapped before comparing, nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from amikit import Message, parse_rawman
from amikit.sim import Simulator
from tests.conformance.conftest import Wire
from tests.conftest import CAPTURES, capture_bytes

ACTIONS = "21_queue_conference_actions"
#: Emitted from their own threads on a real server: their place is not compared.
UNORDERED = {"CEL", "Cdr", "DeviceStateChange"}
# The conference's own events and the channel events its members' leaving brings
CONFERENCE_EVENTS = {"BridgeCreate", "BridgeEnter", "BridgeLeave", "BridgeDestroy", "VarSet",
                     "ConfbridgeStart", "ConfbridgeJoin", "ConfbridgeLeave", "ConfbridgeEnd",
                     "ConfbridgeMute", "ConfbridgeUnmute"}


def request_query(name: str) -> str:
    """The query string of a recorded request (``NNN_label.request.txt``)."""
    line = (CAPTURES / ACTIONS / f"{name}.request.txt").read_text().split()[1]
    return line.split("?", 1)[1]


def recorded_events(*names: str) -> list[Message]:
    """The events of recorded WaitEvent bodies, in order (their Response and Complete left out)."""
    return [m for name in names for m in parse_rawman(capture_bytes(f"{ACTIONS}/{name}.body.bin"))
            if m.is_event and m.name != "WaitEventComplete"]


def numbered(seq: int) -> str:
    """``NNN_label`` of the recorded exchange number ``seq``."""
    return next(p.name[:-len(".body.bin")] for p in (CAPTURES / ACTIONS).glob(f"{seq:03d}_*.body.bin"))


@dataclass
class Names:
    """Recorded name → the simulator's, for channels and bridges (first seen, first mapped)."""

    pairs: dict[str, str] = field(default_factory=dict)

    def learn(self, recorded: list[str], simulated: list[str]) -> None:
        for real, sim in zip(recorded, simulated, strict=True):
            self.pairs.setdefault(real, sim)

    def apply(self, text: str) -> str:
        for real, sim in self.pairs.items():
            text = text.replace(real, sim)
        return text


_CHAN = re.compile(r"(?:Local/800@sets|CBAnn/1)-[0-9a-f]{8};\d")
_BRIDGE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def ids_in(messages: list[Message]) -> tuple[list[str], list[str]]:
    """Channel names and bridge ids in order of first appearance."""
    chans: list[str] = []
    bridges: list[str] = []
    for msg in messages:
        for _, value in msg.headers:
            for found, pattern in ((chans, _CHAN), (bridges, _BRIDGE)):
                for match in pattern.findall(value):
                    if match not in found:
                        found.append(match)
    return chans, bridges


def story(events: list[Message]) -> list[tuple[str, ...]]:
    """The ordered part of a trace: each event's name, channel and variable."""
    return [(m.name, m.get("Channel", ""), m.get("Variable", ""), m.get("Value", ""))
            for m in events if m.name not in UNORDERED]


@dataclass
class Replayed:
    """What the simulator did with the recorded session: replies by number, events by step."""

    replies: dict[int, bytes] = field(default_factory=dict)
    joined: list[Message] = field(default_factory=list)
    after_actions: list[Message] = field(default_factory=list)
    ended: list[Message] = field(default_factory=list)
    names: Names = field(default_factory=Names)


def _is(name: str, **values: str):
    return lambda m: m.name == name and all(m.get(k) == v for k, v in values.items())


@pytest.fixture(scope="module")
def replayed() -> Iterator[Replayed]:
    """Replay ``033``–``048``: two calls into conference 1, then every recorded action."""
    result = Replayed()
    with Simulator(port=0, speed=2, seed=5) as sim:
        wire = Wire(sim.url)
        wire.login()
        wire.send("GET", "/rawman?" + request_query(numbered(33)))
        wire.send("GET", "/rawman?" + request_query(numbered(34)))
        result.joined = wire.wait_for_all(
            _is("ConfbridgeJoin", Uniqueid="ccc-a2"), _is("ConfbridgeJoin", Uniqueid="ccc-b2"))
        real_joined = recorded_events(*(numbered(n) for n in range(35, 40)))
        # the calls' order of appearance is the same: their ChannelIds tell them apart
        real_chans = {m["Uniqueid"]: m["Channel"] for m in real_joined if m.name == "ConfbridgeJoin"}
        sim_chans = {m["Uniqueid"]: m["Channel"] for m in result.joined if m.name == "ConfbridgeJoin"}
        result.names.learn([real_chans["ccc-a2"], real_chans["ccc-b2"]],
                           [sim_chans["ccc-a2"], sim_chans["ccc-b2"]])
        real_ids, sim_ids = ids_in(real_joined), ids_in(result.joined)
        result.names.learn(real_ids[1][:1], sim_ids[1][:1])
        announcer = [c for c in real_ids[0] if c.startswith("CBAnn")]
        result.names.learn(announcer, [c for c in sim_ids[0] if c.startswith("CBAnn")])
        for seq in range(40, 49):
            query = result.names.apply(request_query(numbered(seq)).replace("%2F", "/")
                                       .replace("%40", "@").replace("%3B", ";"))
            params = [tuple(p.split("=", 1)) for p in query.split("&")]
            result.replies[seq] = wire.send("GET", "/rawman", params).body
        kicked = sim_chans["ccc-b2"].replace(";2", ";1")
        result.after_actions = wire.wait_for(_is("Hangup", Channel=kicked), seconds=20)
        result.ended = wire.wait_for(_is("BridgeDestroy"), seconds=20)
        wire.close()
    yield result


def _seconds_up(body: bytes) -> bytes:
    return re.sub(rb"AnsweredTime: \d+", b"AnsweredTime: N", body)


@pytest.mark.parametrize("seq", range(40, 49))
def test_action_replies_are_the_recorded_bytes(replayed: Replayed, seq: int):
    expected = replayed.names.apply(capture_bytes(f"{ACTIONS}/{numbered(seq)}.body.bin").decode())
    assert _seconds_up(replayed.replies[seq]) == _seconds_up(expected.encode()), numbered(seq)


def test_joining_events_follow_the_recording(replayed: Replayed):
    real = [m for m in recorded_events(*(numbered(n) for n in range(35, 40)))
            if m.name in CONFERENCE_EVENTS]
    sim = [m for m in replayed.joined if m.name in CONFERENCE_EVENTS]
    expected = [tuple(replayed.names.apply(v) for v in step) for step in story(real)]
    assert story(sim) == expected


def test_conference_events_carry_the_recorded_headers(replayed: Replayed):
    real = recorded_events(*(numbered(n) for n in range(35, 40)), numbered(49))
    sim = replayed.joined + replayed.after_actions
    for name in ("BridgeCreate", "ConfbridgeStart", "ConfbridgeJoin", "ConfbridgeMute",
                 "ConfbridgeUnmute", "ConfbridgeLeave"):
        want = next(m for m in real if m.name == name)
        got = next(m for m in sim if m.name == name)
        skip = {"Timestamp"}
        assert [(n, v) for n, v in got.headers if n not in skip] == \
            [(n, replayed.names.apply(v)) for n, v in want.headers if n not in skip], name


def test_events_of_mute_and_kick_follow_the_recording(replayed: Replayed):
    """Mute, unmute, mute participants, kick: up to the kicked channel's next priority."""
    def until_hangup_app(events: list[Message]) -> list[Message]:
        end = next(i for i, m in enumerate(events)
                   if m.name == "Newexten" and m.get("Application") == "Hangup")
        return events[:end + 1]

    real = until_hangup_app(recorded_events(numbered(49)))
    sim = until_hangup_app(replayed.after_actions)
    expected = [tuple(replayed.names.apply(v) for v in step) for step in story(real)]
    assert story(sim) == expected
    # the kicked channel's two CDRs: the bridged part, then the dialplan that went on
    kicked = next(m["Channel"] for m in sim if m.name == "ConfbridgeLeave")
    real_kicked = next(m["Channel"] for m in real if m.name == "ConfbridgeLeave")
    cdrs = [m["LastApplication"] for m in replayed.after_actions
            if m.name == "Cdr" and m["Channel"] == kicked]
    assert cdrs == [m["LastApplication"] for m in recorded_events(numbered(49))
                    if m.name == "Cdr" and m["Channel"] == real_kicked]


def test_the_last_one_out_ends_the_conference(replayed: Replayed):
    real = recorded_events(*(numbered(n) for n in range(50, 60)))
    wanted = ("ConfbridgeEnd", "BridgeDestroy", "DeviceStateChange")
    real_end = [(m.name, m.get("Device", "")) for m in real if m.name in wanted
                and not m.get("Device", "").startswith("Local/")]
    sim_end = [(m.name, m.get("Device", "")) for m in replayed.ended if m.name in wanted
               and not m.get("Device", "").startswith("Local/")]
    assert sorted(sim_end) == sorted(real_end)
    result = [m["Value"] for m in real if _is("VarSet", Variable="CONFBRIDGE_RESULT")(m)]
    assert [m["Value"] for m in replayed.ended
            if _is("VarSet", Variable="CONFBRIDGE_RESULT")(m)] == result


LISTS = "04_lists"


def _list_targets(encoding: str) -> list[str]:
    rows = (CAPTURES / LISTS / encoding / "index.tsv").read_text().splitlines()
    return [row.split("\t")[3] for row in rows if "\tconfbridgelist" in row]


_VARIABLE = re.compile(rb"(?:Local/800@sets-[0-9a-f]{8}|\d{10}\.\d+|AnsweredTime: \d+"
                       rb"|answeredtime='\d+')")


def _without_variables(body: bytes) -> bytes:
    """Channel numbers, uniqueids and seconds up replaced by a mark."""
    return _VARIABLE.sub(b"#", body)


@pytest.mark.parametrize("encoding", ["rawman", "mxml"])
def test_list_actions_with_action_ids_as_recorded(encoding: str):
    """04_lists: ConfbridgeListRooms and ConfbridgeList (with ActionIDs) in both encodings."""
    with Simulator(port=0, speed=2, seed=9) as sim:
        wire = Wire(sim.url)
        wire.login(path=f"/{encoding}")
        _joined(wire, 2)
        for target in _list_targets(encoding):
            name = "025_confbridgelistrooms" if "ListRooms" in target else "026_confbridgelist"
            expected = capture_bytes(f"{LISTS}/{encoding}/{name}.body.bin")
            got = wire.send("GET", target).body
            assert _without_variables(got) == _without_variables(expected), target
        wire.close()


def test_a_lone_member_hung_up_from_the_other_half():
    """05_originate: Local/800@sets with Application Wait 6; ;1 hangs up, ;2 leaves."""
    stream = parse_rawman(capture_bytes("05_originate/rawman/waitevent_stream_concat.txt"))
    call = next(m["Channel"] for m in stream if m.name == "ConfbridgeJoin")
    real = [m for m in stream if m.get("Channel") == call or (m.name or "").startswith("Confbridge")]
    request = (CAPTURES / "05_originate/rawman/012_orig_confbridge.request.bin").read_bytes()
    query = request.split(b" ")[1].decode().split("?", 1)[1]
    with Simulator(port=0, speed=4, seed=11) as sim:
        wire = Wire(sim.url)
        wire.login()
        wire.send("GET", "/rawman?" + query)
        sim_events = wire.wait_for(_is("BridgeDestroy"), seconds=20)
        sim_events += wire.wait_for(lambda m: m.name == "Hangup" and m["Channel"].endswith(";2"))
        wire.close()
    chan = next(m["Channel"] for m in sim_events if m.name == "ConfbridgeJoin")
    ours = [m for m in sim_events if m.get("Channel") == chan or (m.name or "").startswith("Confbridge")]

    def outline(events: list[Message]) -> list[tuple[str, str]]:
        return [(m.name, m.get("Cause", m.get("Value", ""))) for m in events
                if m.name in ("ConfbridgeJoin", "ConfbridgeLeave", "ConfbridgeEnd", "Hangup",
                              "HangupRequest")
                or (m.name == "VarSet" and m["Variable"] == "CONFBRIDGE_RESULT")]

    # The join, then the HangupRequest (cause 0), and the channel's Hangup (cause 16) last;
    # between them the conference's events and CONFBRIDGE_RESULT, whose order the threads of a
    # real server vary (20_behaviour/conference), but always the leave before the end.
    got, want = outline(ours), outline(real)
    assert (got[:2], got[-1]) == (want[:2], want[-1])
    assert sorted(got[2:-1]) == sorted(want[2:-1])
    assert got.index(("ConfbridgeLeave", "")) < got.index(("ConfbridgeEnd", ""))


def _joined(wire: Wire, count: int) -> list[str]:
    """Originate ``count`` calls into conference 1; the members' channel names, in join order."""
    for _ in range(count):
        wire.get("/rawman", action="Originate", Channel="Local/800@sets", Context="sets",
                 Exten="600", Priority="1", Async="true")
    joins = [m for m in wire.wait_for_all(*(_is("ConfbridgeJoin", BridgeNumChannels=str(n + 2))
                                            for n in range(count)))
             if m.name == "ConfbridgeJoin"]
    return [m["Channel"] for m in joins]


def test_three_members_see_each_other_and_a_kick_mid_call():
    """The rules on an unrecorded case: BRIDGEPEER names every other member (the announcer
    first, then in join order, as set_bridge_peer_vars_multiparty walks the bridge), and a
    kicked member leaves alone while the others stay."""
    with Simulator(port=0, speed=2, seed=13) as sim:
        wire = Wire(sim.url)
        wire.login()
        first, second, third = _joined(wire, 3)
        listed = parse_rawman(wire.get("/rawman", action="ConfbridgeList", Conference="1").body)
        assert [m["Channel"] for m in listed if m.name == "ConfbridgeList"] == [first, second, third]
        reply = parse_rawman(wire.get("/rawman", action="ConfbridgeKick", Conference="1",
                                      Channel=second).body)[0]
        assert reply["Message"] == "User kicked"
        events = wire.wait_for(_is("BridgeLeave", Channel=second))
        events += wire.wait_for(_is("VarSet", Channel=third, Variable="BRIDGEPEER"))
        peers = [m for m in events if _is("VarSet", Variable="BRIDGEPEER")(m)]
        announcer = peers[-1]["Value"].split(",")[0]
        assert announcer.startswith("CBAnn/1-")
        assert [(m["Channel"], m["Value"]) for m in peers[-3:]] == [
            (second, ""), (first, f"{announcer},{third}"), (third, f"{announcer},{first}")]
        rooms = parse_rawman(wire.get("/rawman", action="ConfbridgeListRooms").body)
        assert next(m for m in rooms if m.name == "ConfbridgeListRooms")["Parties"] == "2"
        wire.close()


def test_a_locked_conference_refuses_a_new_member():
    """join_conference_bridge: a locked conference turns away a user who is not an admin,
    whose ConfBridge sets CONFBRIDGE_RESULT=FAILED and ends the dialplan."""
    with Simulator(port=0, speed=2, seed=17) as sim:
        wire = Wire(sim.url)
        wire.login()
        _joined(wire, 1)
        lock = parse_rawman(wire.get("/rawman", action="ConfbridgeLock", Conference="1").body)
        assert lock[0]["Message"] == "Conference locked"
        wire.get("/rawman", action="Originate", Channel="Local/800@sets", Context="sets",
                 Exten="600", Priority="1", Async="true")
        events = wire.wait_for(_is("VarSet", Variable="CONFBRIDGE_RESULT"))
        assert events[-1]["Value"] == "FAILED"
        assert not [m for m in events if m.name == "ConfbridgeJoin"]
        rooms = parse_rawman(wire.get("/rawman", action="ConfbridgeListRooms").body)
        room = next(m for m in rooms if m.name == "ConfbridgeListRooms")
        assert (room["Parties"], room["Locked"]) == ("1", "Yes")
        wire.close()
