"""Call-centre and conference analysis of an event frame: queue calls, agents, queue
statistics and conferences, vectorised (no Python loop per event).

    >>> import amikit
    >>> df = amikit.read_events(amikit.sample_recording("busy"))
    >>> calls = df.ami.queue_calls()
    >>> len(calls), calls["outcome"].tolist()
    (3, ['answered', 'answered', 'answered'])
    >>> df.ami.conferences()["participants"].tolist()
    [1, 1, 1, 2, 1]

Which events say what (read in Asterisk 23's ``apps/app_queue.c`` and checked on the
captures in ``tests/captures``):

* ``QueueCallerJoin`` opens a caller's stay in a queue (``Position``: its place on entry).
  A caller refused at the door (``joinempty``, ``full``) gets no join: ``queue_exec``
  only sets ``QUEUESTATUS`` on its channel, which AMI reports as a ``VarSet``.
* ``AgentCalled`` is one member rung; ``AgentRingNoAnswer`` one that did not answer in
  time; ``AgentDump`` one that hung up while its announcement played.
* ``AgentConnect`` is the answer (its ``HoldTime`` is the wait in whole seconds), just
  after the caller's ``QueueCallerLeave``; ``AgentComplete`` ends the talk
  (``TalkTime``, whole seconds; ``Reason`` caller, agent or transfer). Its caller or its
  member snapshot may be missing (the 05_originate capture has one without the member's
  ``Dest*`` fields), and on a busy server it may not come at all (one queue_answered run).
* ``QueueCallerAbandon`` comes before the ``QueueCallerLeave`` of *every* exit without
  an answer (``record_abandoned`` is called for a hang-up, a timeout, an emptied queue
  and a withdrawal alike); only the ``QUEUESTATUS`` set afterwards (``TIMEOUT``,
  ``LEAVEEMPTY``, ``LEAVEUNAVAIL``, ``WITHDRAW``) tells them apart, and a caller that
  hung up gets none. A ``QueueCallerLeave`` with neither is an exit by key.
* ``ConfbridgeStart``/``ConfbridgeEnd`` bound one conference instance (its
  ``BridgeUniqueid`` is new each time, while ``Conference`` is the room's name, reused);
  ``ConfbridgeJoin``/``ConfbridgeLeave`` bound a participant's stay.

As in :mod:`amikit.tables`, AMI's names are kept (``Queue``, ``Uniqueid``, ``Interface``,
``MemberName``) and what amikit derives is snake_case; a fact the frame does not hold
(a recording that starts or ends mid-call) is NA, never made up.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from amikit.tables import _keys, _with

__all__ = ["agents", "busy_spans", "conferences", "pause_spans", "queue_calls", "queue_stats"]

_CALLER_EVENTS = ("QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon", "AgentCalled",
                  "AgentConnect", "AgentComplete", "AgentRingNoAnswer", "AgentDump")
#: QUEUESTATUS values of a caller refused at the door, and of an exit without an answer.
_REFUSED = {"FULL": "full", "JOINEMPTY": "joinempty", "JOINUNAVAIL": "joinunavail"}
_EXITS = {"TIMEOUT": "timeout", "LEAVEEMPTY": "leaveempty", "LEAVEUNAVAIL": "leaveunavail",
          "WITHDRAW": "withdraw"}
_ANSWERED = ("answered", "transferred")
_MEMBER_EVENTS = ("QueueMemberStatus", "QueueMemberPause", "QueueMemberAdded",
                  "QueueMemberRemoved", "QueueMemberPenalty", "QueueMemberRinginuse",
                  "AgentCalled", "AgentConnect", "AgentComplete", "AgentRingNoAnswer",
                  "AgentDump")
_TIME = "datetime64[us, UTC]"
_SPAN = "timedelta64[us]"

_QUEUE_CALL_COLUMNS = {
    "Queue": "str", "Uniqueid": "str", "Linkedid": "str", "Channel": "str", "joined": _TIME,
    "position": "Int64", "left": _TIME, "outcome": "str", "wait": _SPAN, "answered": _TIME,
    "answered_by": "str", "Interface": "str", "DestUniqueid": "str", "rings": object,
    "completed": _TIME, "talk": _SPAN, "ended_by": "str"}
_AGENT_COLUMNS = {"Queue": "str", "MemberName": "str", "Interface": "str", "offered": "int64",
                  "answered": "int64", "not_answered": "int64", "talk": _SPAN,
                  "handle_avg": _SPAN, "paused": _SPAN, "occupancy": "float64"}
_STATS_COLUMNS = {"offered": "int64", "answered": "int64", "abandoned": "int64",
                  "abandon_rate": "float64", "asa": _SPAN, "longest_wait": _SPAN,
                  "service_level": "float64"}
_CONFERENCE_COLUMNS = {"Conference": "str", "BridgeUniqueid": "str", "start": _TIME,
                       "end": _TIME, "duration": _SPAN, "participants": "int64",
                       "most_at_once": "int64"}


# -- small helpers -----------------------------------------------------------------------
def _empty(columns: Mapping[str, object], keys: list[str] | None = None) -> pd.DataFrame:
    """A table with no rows but every column, each of its usual dtype."""
    lead = {k: "str" for k in keys or []}
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in  # type: ignore[call-overload]
                         {**lead, **columns}.items()})


def _str(series: pd.Series) -> pd.Series:
    """Text as pandas' str dtype, NA kept (categorical or object columns alike)."""
    return series.astype(object).astype("str")


def _number(series: pd.Series) -> pd.Series:
    """A count AMI writes as text (``Position``, ``HoldTime``) as a float, NaN if not a number."""
    return pd.to_numeric(series.astype(object), errors="coerce").astype("float64")


def _seconds(series: pd.Series) -> pd.Series:
    return pd.to_timedelta(_number(series), unit="s").astype(_SPAN)


def _first(events: pd.DataFrame, kind: str, keys: list[str],
           columns: dict[str, str]) -> pd.DataFrame:
    """Per key, the first event of ``kind``: its ``columns``, renamed."""
    rows = events[events["Event"] == kind].drop_duplicates(keys)
    return rows.set_index(keys)[list(columns)].rename(columns=columns)


def _typed(table: pd.DataFrame, columns: Mapping[str, object], keys: list[str]) -> pd.DataFrame:
    """``table`` with exactly the key columns then ``columns``, each of its dtype."""
    out = table.reindex(columns=keys + list(columns))
    for name, dtype in columns.items():
        if dtype is not object:
            out[name] = out[name].astype(dtype)  # type: ignore[call-overload]
    return out


def _frame_span(df: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
    # a recording without Timestamps (timestampevents = no) has no span: NaT, not NaN
    times = pd.to_datetime(df["Timestamp"], utc=True) if "Timestamp" in df \
        else pd.Series([], dtype="datetime64[ns, UTC]")
    return times.min(), times.max()


# -- queue calls -------------------------------------------------------------------------
def _caller_events(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The events of callers in queues, in order, each tagged with its stay (``_entry``).

    A caller's stays are numbered by counting its ``QueueCallerJoin`` events and refusals
    (a ``QUEUESTATUS`` of FULL, JOINEMPTY or JOINUNAVAIL) in order: stay 0 holds what came
    before the first one (a recording that starts mid-call). An event without the caller's
    ``Uniqueid`` (an ``AgentComplete`` without the caller's snapshot) takes the stay of
    the ``AgentCalled`` that rang the same member channel (``DestUniqueid``).
    """
    df = _with(df, "Event", "Timestamp", "Uniqueid", "Linkedid", "Channel", "Queue",
               "MemberName", "Interface", "DestUniqueid", "Position", "HoldTime", "TalkTime",
               "Reason", "Variable", "Value", "Application", "AppData")
    kind = _str(df["Event"])
    status = _str(df["Value"]).str.upper().where(
        (kind == "VarSet") & (_str(df["Variable"]) == "QUEUESTATUS"))
    asked = _str(df["AppData"]).str.extract(r"^([^,]*)", expand=False).where(
        (kind == "Newexten") & (_str(df["Application"]).str.lower() == "queue"))
    wanted = kind.isin(_CALLER_EVENTS) | status.notna() | asked.notna()
    ev = df.loc[wanted, [*keys[:-1], "Event", "Timestamp", "Uniqueid", "Linkedid", "Channel",
                         "Queue", "MemberName", "Interface", "DestUniqueid", "Position",
                         "HoldTime", "TalkTime", "Reason"]].copy()
    for name in ("Event", "Uniqueid", "Linkedid", "Channel", "Queue", "MemberName",
                 "Interface", "DestUniqueid"):
        ev[name] = _str(ev[name])
    ev["_status"], ev["_asked"] = status[wanted], asked[wanted]
    ev["_pos"] = np.flatnonzero(wanted.to_numpy())
    ev = _adopt_orphans(ev, keys)
    callers = [ev[k] for k in keys]
    mark = (ev["Event"] == "QueueCallerJoin") | ev["_status"].isin(list(_REFUSED))
    ev["_entry"] = mark.astype("int64").groupby(callers, sort=False).cumsum()
    # the queue a refused caller asked for: its last Queue() application before the refusal
    ev["_asked"] = ev["_asked"].groupby(callers, sort=False).ffill()
    return ev.sort_values("_pos", kind="stable")


def _adopt_orphans(ev: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Give events without a caller ``Uniqueid`` the caller of their member channel."""
    orphan = ev["Uniqueid"].isna() & ev["DestUniqueid"].notna()
    if not orphan.any():
        return ev[ev["Uniqueid"].notna()]
    rung = ev[(ev["Event"] == "AgentCalled") & ev["Uniqueid"].notna()]
    owner = rung.drop_duplicates([*keys[:-1], "DestUniqueid"]).set_index(
        [*keys[:-1], "DestUniqueid"])[["Uniqueid", "Linkedid", "Channel"]]
    found = ev[orphan].drop(columns=["Uniqueid", "Linkedid", "Channel"]).join(
        owner, on=[*keys[:-1], "DestUniqueid"])
    # an adopted event keeps its place in the stream: its caller's stay is the one before it
    return pd.concat([ev[ev["Uniqueid"].notna()], found[found["Uniqueid"].notna()]]
                     ).sort_values("_pos", kind="stable")


def queue_calls(df: pd.DataFrame) -> pd.DataFrame:
    """One row per caller's stay in a queue: per ``QueueCallerJoin`` (a caller may enter
    twice), per refusal at the door, and per stay already under way when the recording
    began (``df.ami.queue_calls()``). The outcomes follow ``app_queue.c``: ``queue_exec``
    calls ``record_abandoned`` (``QueueCallerAbandon``) on every exit without an answer
    and ``set_queue_result`` (``QUEUESTATUS``) on all but a hang-up; ``AgentComplete``
    comes from ``send_agent_complete``, with the Reason caller, agent or transfer.

    Columns (``server`` first when the frame has it):

    * ``Queue``, ``Uniqueid``, ``Linkedid``, ``Channel``: the queue and the caller's channel;
    * ``joined``: the ``QueueCallerJoin`` (NaT for a refusal, or a stay under way when the
      recording began); ``position``: its ``Position`` on entry;
    * ``left``: the caller's ``QueueCallerLeave`` (its ``QueueCallerAbandon`` when the
      leave is not in the frame; for a refusal, the ``QUEUESTATUS``);
    * ``outcome``: ``answered`` (an ``AgentConnect``), ``transferred`` (answered, then a
      transfer: ``AgentComplete`` Reason ``transfer``, or a ``BlindTransfer`` or
      ``AttendedTransfer`` naming the caller or the member after the answer),
      ``timeout``, ``leaveempty``, ``leaveunavail``, ``withdraw`` (the ``QUEUESTATUS``
      after the caller's ``QueueCallerAbandon``), ``abandoned`` (a
      ``QueueCallerAbandon`` without such a status: the caller hung up), ``exitwithkey``
      (a ``QueueCallerLeave`` alone), ``full``, ``joinempty``, ``joinunavail`` (refused
      at the door); NA while the caller is still waiting at the end of the recording;
    * ``wait``: ``answered`` − ``joined`` when answered, else ``left`` − ``joined``; for a
      stay without its join, Asterisk's ``HoldTime`` (whole seconds);
    * ``answered``: the ``AgentConnect``; ``answered_by``: its ``MemberName``,
      ``Interface`` and ``DestUniqueid``: the member and the member's channel;
    * ``rings``: the ``MemberName`` of each ``AgentCalled`` of the stay, in order;
    * ``completed``: the ``AgentComplete``; ``talk``: ``completed`` − ``answered``, or its
      ``TalkTime`` (whole seconds) when the answer is not in the frame; NaT without one;
    * ``ended_by``: who ended the talk, the ``AgentComplete``'s ``Reason`` — ``caller``,
      ``agent`` or ``transfer`` (NA without one).

    >>> import amikit
    >>> df = amikit.read_events(amikit.sample_recording("busy"))
    >>> row = df.ami.queue_calls().iloc[0]
    >>> row["answered_by"], row["rings"], round(row["talk"].total_seconds(), 1)
    ('Agent210', ['Agent210', 'Agent211'], 3.5)
    """
    keys = _keys(df)
    columns = _QUEUE_CALL_COLUMNS
    if df.empty or "Event" not in df:
        return _empty(columns, keys[:-1])
    ev = _caller_events(df, keys)
    if ev.empty:
        return _empty(columns, keys[:-1])
    stay = [*keys, "_entry"]
    real = ev["Event"].isin(_CALLER_EVENTS)
    refused = ev["_status"].isin(list(_REFUSED))
    # a stay exists if a queue event or a refusal is in it (not a Newexten or VarSet alone)
    table = ev[real | refused].groupby(stay, sort=False).agg(
        _pos=("_pos", "min"), Linkedid=("Linkedid", "first"), Channel=("Channel", "first"),
        Queue=("Queue", "first"))
    join = _first(ev, "QueueCallerJoin", stay, {"Timestamp": "joined", "Position": "position"})
    table = table.join(join)
    refusal = ev[refused].drop_duplicates(stay).set_index(stay)
    table = table.join(refusal[["Timestamp", "_status", "_asked", "_pos"]].rename(
        columns={"Timestamp": "_refused", "_pos": "_was_refused"}))
    table["Queue"] = table["Queue"].fillna(table["_asked"])
    # each event's presence (its row, "_pos") apart from its time: a recording without
    # Timestamps (timestampevents = no) still has outcomes
    table = table.join(_first(ev, "QueueCallerLeave", stay, {"Timestamp": "_leave",
                                                             "_pos": "_has_leave"}))
    table = table.join(_first(ev, "QueueCallerAbandon", stay, {
        "Timestamp": "_abandon", "HoldTime": "_abandon_hold", "_pos": "_has_abandon"}))
    table = table.join(_first(ev, "AgentConnect", stay, {
        "Timestamp": "answered", "MemberName": "answered_by", "Interface": "Interface",
        "DestUniqueid": "DestUniqueid", "HoldTime": "_connect_hold", "_pos": "_has_answer"}))
    table = table.join(_first(ev, "AgentComplete", stay, {
        "Timestamp": "completed", "TalkTime": "_talk", "Reason": "_reason",
        "MemberName": "_complete_member", "Interface": "_complete_interface",
        "_pos": "_has_complete"}))
    exits = ev[ev["_status"].isin(list(_EXITS))].drop_duplicates(stay).set_index(stay)
    table = table.join(exits["_status"].rename("_exit"))
    rung = ev[ev["Event"] == "AgentCalled"]
    table = table.join(rung.groupby(stay, sort=False)["MemberName"].agg(list).rename("rings"))
    table["rings"] = table["rings"].map(lambda r: r if isinstance(r, list) else [])
    # the AgentComplete names the member too, for a stay whose answer is not in the frame
    table["answered_by"] = table["answered_by"].fillna(table["_complete_member"])
    table["Interface"] = table["Interface"].fillna(table["_complete_interface"])
    for name in ("joined", "answered", "completed", "_refused", "_leave", "_abandon"):
        table[name] = pd.to_datetime(table[name], utc=True).astype(_TIME)
    table["left"] = table["_leave"].fillna(table["_abandon"]).fillna(table["_refused"])
    table["position"] = _number(table["position"]).astype("Int64")
    table["outcome"] = _outcomes(table, _transferred(df, table, keys))
    table["wait"] = _waits(table)
    table["talk"] = (table["completed"] - table["answered"]).fillna(_seconds(table["_talk"]))
    table["ended_by"] = table["_reason"].astype(object).map(
        lambda r: r.lower() if isinstance(r, str) and r else pd.NA)
    table = table.reset_index().sort_values("_pos", kind="stable").reset_index(drop=True)
    return _typed(table, columns, keys[:-1])


def _outcomes(table: pd.DataFrame, transferred: pd.Series) -> pd.Series:
    """The outcome of each stay, by the precedence of the docstring of :func:`queue_calls`."""
    answered = table["_has_answer"].notna() | table["_has_complete"].notna()
    conditions = [table["_was_refused"].notna(), answered & transferred, answered,
                  table["_exit"].notna(), table["_has_abandon"].notna(),
                  table["_has_leave"].notna()]
    choices = [table["_status"].map(_REFUSED), "transferred", "answered",
               table["_exit"].map(_EXITS), "abandoned", "exitwithkey"]
    outcome = pd.Series(np.nan, index=table.index, dtype="str")
    for condition, choice in reversed(list(zip(conditions, choices, strict=True))):
        outcome = outcome.mask(condition.to_numpy(dtype=bool), choice)
    return outcome


def _waits(table: pd.DataFrame) -> pd.Series:
    until = table["answered"].fillna(table["left"])
    waited = (until - table["joined"]).astype(_SPAN)
    hold = _seconds(table["_connect_hold"]).fillna(_seconds(table["_abandon_hold"]))
    return waited.fillna(hold.where(table["joined"].isna()))


def _transferred(df: pd.DataFrame, table: pd.DataFrame, keys: list[str]) -> pd.Series:
    """Whether each stay was transferred after its answer (see :func:`queue_calls`)."""
    by_reason = table["_reason"].astype(object).map(
        lambda r: isinstance(r, str) and r.lower() == "transfer").astype(bool)
    moves = df[_str(df["Event"]).isin(["BlindTransfer", "AttendedTransfer"])]
    if "Result" in moves:
        moves = moves[_str(moves["Result"]) == "Success"]
    if moves.empty:
        return by_reason
    lead = keys[:-1]
    named = [c for c in moves.columns if c.endswith("Uniqueid") and "Bridge" not in c]
    who = moves.melt(id_vars=[*lead, "Timestamp"], value_vars=named, value_name="_uid")
    who = who[who["_uid"].notna()].assign(_uid=lambda w: _str(w["_uid"]))
    flat = table.reset_index().assign(_row=np.arange(len(table)))
    parties = pd.concat([flat[[*lead, "_row", "answered", "completed"]].assign(_uid=flat[column])
                         for column in ("Uniqueid", "DestUniqueid")])
    met = parties.merge(who, on=[*lead, "_uid"])
    # between the answer and the AgentComplete (when there is one): a later transfer of
    # the caller's channel is another call's business
    during = (met["Timestamp"] >= met["answered"]) & ~(met["Timestamp"] > met["completed"])
    moved = np.isin(np.arange(len(table)), met.loc[during, "_row"])
    return by_reason | pd.Series(moved, index=table.index)


# -- members ------------------------------------------------------------------------------
def _member_events(df: pd.DataFrame) -> pd.DataFrame:
    """Events about one queue member (a ``Queue`` and an ``Interface``), in order."""
    df = _with(df, "Event", "Timestamp", "Queue", "Interface", "MemberName", "Paused",
               "Wrapuptime")
    kind = _str(df["Event"])
    ev = df[kind.isin(_MEMBER_EVENTS) & df["Queue"].notna() & df["Interface"].notna()].copy()
    for name in ("Event", "Queue", "Interface", "MemberName"):
        ev[name] = _str(ev[name])
    return ev


def pause_spans(df: pd.DataFrame) -> pd.DataFrame:
    """When each member was paused: one row per span (``Queue``, ``Interface``, ``start``,
    ``end``), from the ``Paused`` of its ``QueueMemberPause``, ``QueueMemberStatus`` and
    ``QueueMemberAdded`` events; a span still open ends with the frame. Before a member's
    first such event its state is unknown, so nothing is counted.

        >>> import pandas as pd
        >>> df = pd.DataFrame({"Event": "QueueMemberPause", "Queue": "support",
        ...                    "Interface": "Local/502@agents/n", "Paused": ["1", "0"],
        ...                    "Timestamp": pd.to_datetime([0, 900], unit="s", utc=True)})
        >>> span = pause_spans(df).iloc[0]
        >>> span["Interface"], span["end"] - span["start"]
        ('Local/502@agents/n', Timedelta('0 days 00:15:00'))
    """
    keys = [k for k in ("server",) if k in df] + ["Queue", "Interface"]
    ev = _member_events(df) if "Event" in df else pd.DataFrame()
    if ev.empty or ev["Paused"].isna().all():
        return _empty({"start": _TIME, "end": _TIME}, keys)
    ev = ev[ev["Paused"].notna()]
    _, last = _frame_span(df)
    paused = (_number(ev["Paused"]) == 1).astype("float64")
    before = paused.groupby([ev[k] for k in keys], sort=False).shift()
    # the events where the state changes; a paused one opens a span the next one closes
    turns = ev[before.isna() | (paused != before)].assign(_on=paused.astype(bool))
    closes = turns.groupby([turns[k] for k in keys], sort=False)["Timestamp"].shift(-1)
    spans = turns.assign(start=turns["Timestamp"], end=closes.fillna(last))[turns["_on"]]
    return _typed(spans.reset_index(drop=True), {"start": _TIME, "end": _TIME}, keys)


def busy_spans(df: pd.DataFrame, *, calls: pd.DataFrame | None = None) -> pd.DataFrame:
    """When each member was in a queue call: ``AgentConnect`` to ``AgentComplete``; without
    the complete, to the member channel's ``Hangup``, else to the end of the frame.

    Columns: ``Queue``, ``Interface``, ``MemberName``, ``start``, ``end``. ``calls`` is
    ``queue_calls(df)`` when the caller has it already (it is not made again).

        >>> import amikit
        >>> spans = busy_spans(amikit.read_events(amikit.sample_recording("busy")))
        >>> spans["MemberName"].tolist(), (spans["end"] - spans["start"]).dt.round("100ms").tolist()
        (['Agent210', 'Agent210', 'Agent210'], [Timedelta('0 days 00:00:03.500000'),
         Timedelta('0 days 00:00:03.500000'), Timedelta('0 days 00:00:03.500000')])
    """
    if calls is None:
        calls = queue_calls(df)
    lead = [k for k in ("server",) if k in calls]
    calls = calls[calls["answered"].notna()]
    _, last = _frame_span(df)
    ends = calls["completed"]
    if "Event" in df and "Uniqueid" in df:
        hangups = df[_str(df["Event"]) == "Hangup"]
        gone = hangups.assign(Uniqueid=_str(hangups["Uniqueid"])).drop_duplicates(
            "Uniqueid").set_index("Uniqueid")["Timestamp"]
        # reindex, not map: pandas' map of an empty text column with a Series fails
        member_gone = gone.reindex(calls["DestUniqueid"]).to_numpy()
        ends = ends.fillna(pd.Series(member_gone, index=calls.index, dtype=_TIME))
    spans = calls.assign(MemberName=calls["answered_by"], start=calls["answered"],
                         end=ends.fillna(last))
    return spans[lead + ["Queue", "Interface", "MemberName", "start", "end"]].reset_index(
        drop=True)


def agents(df: pd.DataFrame) -> pd.DataFrame:
    """One row per queue member (``Queue``, ``Interface``) seen in the frame.

    * ``MemberName``: the member's name, as its last event wrote it;
    * ``offered``: its ``AgentCalled`` events (each time it was rung);
    * ``answered``: its ``AgentConnect`` events;
    * ``not_answered``: its ``AgentRingNoAnswer`` and ``AgentDump`` events (rang out, or
      hung up during the announcement); ``offered`` − ``answered`` − ``not_answered`` are
      rings stopped because another member answered (ringall) or the caller left;
    * ``talk``: the sum of the ``talk`` of the calls it answered (:func:`queue_calls`);
    * ``handle_avg``: per answered call with a known talk, talk plus the member's
      wrap-up time (``Wrapuptime`` of its last status event, 0 when unseen), averaged;
    * ``paused``: the time it was paused within the frame (:func:`pause_spans`);
    * ``occupancy``: handled time (talk plus wrap-up, summed) over the time it was
      available: the frame's span less ``paused``; NaN when that is not positive.

    >>> import amikit
    >>> df = amikit.read_events(amikit.sample_recording("busy"))
    >>> df.ami.agents()[["MemberName", "offered", "answered"]].values.tolist()
    [['Agent210', 3, 3], ['Agent211', 3, 0]]
    """
    keys = [k for k in ("server",) if k in df] + ["Queue", "Interface"]
    columns = {k: v for k, v in _AGENT_COLUMNS.items() if k not in keys}
    ev = _member_events(df) if "Event" in df else pd.DataFrame()
    if ev.empty:
        return _empty(columns, keys)
    grouped = ev.groupby(keys, sort=False)
    table = grouped.agg(MemberName=("MemberName", "last"), _seen=("Timestamp", "min"))
    counts = pd.crosstab([ev[k] for k in keys], ev["Event"])
    for name, kinds in (("offered", ["AgentCalled"]), ("answered", ["AgentConnect"]),
                        ("not_answered", ["AgentRingNoAnswer", "AgentDump"])):
        present = [k for k in kinds if k in counts]
        table[name] = counts[present].sum(axis=1) if present else 0
        table[name] = table[name].fillna(0).astype("int64")
    wrapup = _seconds(ev["Wrapuptime"]).groupby([ev[k] for k in keys], sort=False).last()
    table["_wrapup"] = wrapup.reindex(table.index).fillna(pd.Timedelta(0))
    calls = queue_calls(df)
    calls = calls[calls["Interface"].notna()]
    talk = calls.groupby(keys, sort=False)["talk"].agg(["sum", "count"])
    table["talk"] = talk["sum"].reindex(table.index).fillna(pd.Timedelta(0))
    handled = table["talk"] + table["_wrapup"] * talk["count"].reindex(table.index).fillna(0)
    table["handle_avg"] = handled / talk["count"].reindex(table.index).where(lambda n: n > 0)
    spans = pause_spans(df)
    paused = (spans["end"] - spans["start"]).groupby([spans[k] for k in keys]).sum()
    table["paused"] = paused.reindex(table.index).fillna(pd.Timedelta(0))
    first, last = _frame_span(df)
    available = (last - first) - table["paused"]
    table["occupancy"] = (handled / available.where(available > pd.Timedelta(0))).astype(float)
    table = table.reset_index().sort_values("_seen", kind="stable").reset_index(drop=True)
    return _typed(table, columns, keys)


# -- queue statistics ---------------------------------------------------------------------
def queue_stats(df: pd.DataFrame, freq: str | None = None,
                service_level: str | pd.Timedelta = "20s") -> pd.DataFrame:
    """Per queue (and per interval of ``freq`` when given, by the time each call joined),
    from :func:`queue_calls`:

    * ``offered``: the calls (stays) that came to the queue, refused ones included;
    * ``answered``: those answered (outcome ``answered`` or ``transferred``);
    * ``abandoned``: those whose caller hung up while waiting (outcome ``abandoned``;
      Asterisk's own ``Abandoned`` counter also counts timeouts and emptied queues);
    * ``abandon_rate``: abandoned / offered;
    * ``asa`` (average speed of answer): the mean ``wait`` of the answered calls;
    * ``longest_wait``: the longest ``wait`` of any call;
    * ``service_level``: calls answered within ``service_level`` (a wait ≤ it) / offered.

    Intervals without a call are absent.

    >>> import amikit
    >>> df = amikit.read_events(amikit.sample_recording("busy"))
    >>> stats = df.ami.queue_stats()
    >>> stats[["Queue", "offered", "answered", "service_level"]].values.tolist()
    [['support', 3, 3, 1.0]]
    """
    calls = queue_calls(df)
    keys = [k for k in ("server",) if k in calls] + ["Queue"]
    if freq is not None:
        calls = calls.assign(interval=calls["joined"].fillna(calls["left"]).dt.floor(freq))
        keys.append("interval")
    if calls.empty:
        empty = _empty(_STATS_COLUMNS, keys)
        return empty.astype({"interval": _TIME}) if freq is not None else empty
    limit = pd.Timedelta(service_level)
    answered = calls["outcome"].isin(_ANSWERED)
    flags = calls.assign(
        _answered=answered, _abandoned=calls["outcome"].eq("abandoned").fillna(False),
        _in_time=answered & (calls["wait"] <= limit).fillna(False),
        _answer_wait=calls["wait"].where(answered))
    table = flags.groupby(keys, sort=True, dropna=False).agg(
        offered=("Uniqueid", "size"), answered=("_answered", "sum"),
        abandoned=("_abandoned", "sum"), asa=("_answer_wait", "mean"),
        longest_wait=("wait", "max"), _in_time=("_in_time", "sum"))
    table["abandon_rate"] = table["abandoned"] / table["offered"]
    table["service_level"] = table["_in_time"] / table["offered"]
    return _typed(table.reset_index(), _STATS_COLUMNS, keys)


# -- conferences --------------------------------------------------------------------------
def conferences(df: pd.DataFrame) -> pd.DataFrame:
    """One row per conference instance: per ``ConfbridgeStart``, and per instance already
    under way when the recording began (``start`` NaT).

    * ``Conference``: the room's name; ``BridgeUniqueid``: the instance's bridge;
    * ``start``/``end``: its ``ConfbridgeStart``/``ConfbridgeEnd`` (NaT when not in the
      frame); ``duration`` = end − start;
    * ``participants``: its ``ConfbridgeJoin`` events;
    * ``most_at_once``: the most participants in it at once, counting joins and leaves in
      order (for an instance under way, the participants that leave without a join
      seen are counted as present from the start).

    >>> import amikit
    >>> df = amikit.read_events(amikit.sample_recording("busy"))
    >>> df.ami.conferences()["most_at_once"].max()
    np.int64(2)
    """
    lead = [k for k in ("server",) if k in df]
    columns = _CONFERENCE_COLUMNS
    if "Event" not in df or "Conference" not in df:
        return _empty(columns, lead)
    df = _with(df, "BridgeUniqueid", "Timestamp")
    kind = _str(df["Event"])
    ev = df[kind.isin(["ConfbridgeStart", "ConfbridgeEnd", "ConfbridgeJoin", "ConfbridgeLeave"])
            & df["Conference"].notna()]
    if ev.empty:
        return _empty(columns, lead)
    ev = ev.assign(Event=_str(ev["Event"]), Conference=_str(ev["Conference"]),
                   BridgeUniqueid=_str(ev["BridgeUniqueid"]))
    # without a bridge id, an instance is a room's events from one ConfbridgeStart on
    rooms = [ev[k] for k in lead] + [ev["Conference"]]
    nth = (ev["Event"] == "ConfbridgeStart").astype("int64").groupby(rooms).cumsum()
    ev = ev.assign(_instance=ev["BridgeUniqueid"].fillna(ev["Conference"] + "#" + nth.astype(str)))
    keys = lead + ["_instance"]
    step = ev["Event"].map({"ConfbridgeJoin": 1, "ConfbridgeLeave": -1}).fillna(0)
    running = step.groupby([ev[k] for k in keys], sort=False).cumsum()
    grouped = ev.assign(_running=running, _join=step.eq(1)).groupby(keys, sort=False)
    table = grouped.agg(Conference=("Conference", "first"), BridgeUniqueid=("BridgeUniqueid", "first"),
                        first_seen=("Timestamp", "min"), participants=("_join", "sum"),
                        _high=("_running", "max"), _low=("_running", "min"))
    table = table.join(_first(ev, "ConfbridgeStart", keys, {"Timestamp": "start"}))
    table = table.join(_first(ev, "ConfbridgeEnd", keys, {"Timestamp": "end"}))
    for name in ("start", "end"):
        table[name] = pd.to_datetime(table[name], utc=True).astype(_TIME)
    table["duration"] = table["end"] - table["start"]
    table["most_at_once"] = table["_high"].clip(lower=0) - table["_low"].clip(upper=0)
    table = table.reset_index().sort_values("first_seen", kind="stable").reset_index(drop=True)
    return _typed(table, columns, lead)
