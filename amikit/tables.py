"""Channels, calls and bridges from an event frame, vectorised (no Python loop per event).

What AMI calls things keeps AMI's name (``Uniqueid``, ``Linkedid``, ``Cause-txt``); what
amikit derives is snake_case (``created``, ``ring_time``, ``disposition``). Event streams
are messy: a recording starts mid-call, other clients' events interleave, a Hangup is
missing at the end. Such channels and calls appear with NA where a fact is unknown,
never with a made-up value.

Definitions (``channels()``):

* ``created``: the Timestamp of the channel's ``Newchannel`` (NaT without one);
* ``answered``: the first ``Newstate`` with ChannelState 6 (Up), or ``created`` when the
  channel was born Up;
* ``hungup``: the Timestamp of its ``Hangup`` (NaT without one);
* ``duration`` = hungup − created; ``ring_time`` = answered − created;
  ``talk_time`` = hungup − answered.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["bridges", "call", "calls", "channels", "redirects"]

_NO_ID = {"<unknown>", "none", ""}
_JUMP_APPS = {"goto", "gotoif", "gotoiftime", "gosub", "gosubif", "macro", "appdial2",
              "appdial", "appqueue", "execif"}
_DISPOSITION_BY_STATUS = {"ANSWER": "ANSWERED", "BUSY": "BUSY", "CONGESTION": "CONGESTION",
                          "NOANSWER": "NO ANSWER", "CANCEL": "NO ANSWER", "CHANUNAVAIL": "FAILED",
                          "DONTCALL": "FAILED", "TORTURE": "FAILED", "INVALIDARGS": "FAILED"}


def _col(df: pd.DataFrame, name: str) -> pd.Series:
    """A column as plain objects/values, or an all-NA column when the frame lacks it."""
    if name in df:
        return df[name]
    return pd.Series(pd.NA, index=df.index, dtype=object)


def _with(df: pd.DataFrame, *names: str) -> pd.DataFrame:
    """``df`` with every column in ``names``; the missing ones all NA (Timestamp as NaT)."""
    missing = [n for n in names if n not in df]
    if not missing:
        return df
    extra = {n: (pd.Series(pd.NaT, index=df.index, dtype="datetime64[us, UTC]")
                 if n == "Timestamp" else pd.Series(pd.NA, index=df.index, dtype=object))
             for n in missing}
    return df.assign(**extra)


_BASICS = ("Event", "Timestamp", "Uniqueid", "Linkedid", "Channel")


def _text(series: pd.Series) -> pd.Series:
    return series.astype("str") if len(series) else series.astype(object)


def _keys(df: pd.DataFrame) -> list[str]:
    return ["server", "Uniqueid"] if "server" in df else ["Uniqueid"]


def _channel_events(df: pd.DataFrame) -> pd.DataFrame:
    """Events that speak of one channel (a real Uniqueid), with the columns needed here."""
    df = _with(df, *_BASICS)
    uid = _text(df["Uniqueid"])
    mask = df["Uniqueid"].notna() & ~uid.isin(_NO_ID)
    wanted = [c for c in ("server", "Event", "Timestamp", "Uniqueid", "Linkedid", "Channel",
                          "ChannelState", "CallerIDNum", "CallerIDName", "ConnectedLineNum",
                          "ConnectedLineName", "Context", "Exten", "Priority", "Application",
                          "AppData", "Cause", "Cause-txt", "BridgeUniqueid") if c in df]
    out = df.loc[mask, wanted].copy()
    for name in ("Event", "Uniqueid", "Linkedid", "Channel", "Application", "Context", "Exten",
                 "BridgeUniqueid"):
        if name in out:
            out[name] = _text(out[name])
    return out


def _first(events: pd.DataFrame, keys: list[str], columns: dict[str, str],
           last: bool = False) -> pd.DataFrame:
    """Per channel, the first (or last) event's columns, renamed."""
    present = {src: dst for src, dst in columns.items() if src in events}
    picked = events.drop_duplicates(keys, keep="last" if last else "first")
    return picked.set_index(keys)[list(present)].rename(columns=present)


def channels(df: pd.DataFrame) -> pd.DataFrame:
    """One row per channel (Uniqueid); see the module docstring for the definitions."""
    keys = _keys(df)
    ev = _channel_events(df)
    columns = keys + ["Channel", "Linkedid", "created", "answered", "hungup", "duration",
                      "ring_time", "talk_time", "Cause", "Cause-txt", "CallerIDNum",
                      "CallerIDName", "ConnectedLineNum", "ConnectedLineName", "start_context",
                      "start_exten", "last_application", "last_data", "bridged", "bridged_with",
                      "first_seen", "last_seen"]
    if ev.empty:
        return pd.DataFrame(columns=columns)
    grouped = ev.groupby(keys, sort=False, observed=True)
    table = grouped.agg(first_seen=("Timestamp", "min"), last_seen=("Timestamp", "max"))
    snapshot = ev[ev["Channel"].notna()] if "Channel" in ev else ev.iloc[:0]
    table = table.join(_first(snapshot, keys, {"Channel": "Channel", "Linkedid": "Linkedid"}))
    table = table.join(_first(snapshot, keys, {
        "CallerIDNum": "CallerIDNum", "CallerIDName": "CallerIDName",
        "ConnectedLineNum": "ConnectedLineNum", "ConnectedLineName": "ConnectedLineName"},
        last=True))
    new = ev[ev["Event"] == "Newchannel"]
    born = _first(new, keys, {"Timestamp": "created", "Channel": "new_channel",
                              "Linkedid": "new_linkedid", "Context": "start_context",
                              "Exten": "start_exten", "ChannelState": "born_state"})
    table = table.join(born)
    # the Newchannel's name and Linkedid win over those seen later
    for own, new_name in (("Channel", "new_channel"), ("Linkedid", "new_linkedid")):
        if new_name in table:
            table[own] = table[new_name].fillna(table[own]) if own in table else table[new_name]
    up = ev[(ev["Event"] == "Newstate") & (_col(ev, "ChannelState") == 6).fillna(False)]
    answered = up.groupby(keys, sort=False, observed=True)["Timestamp"].min().rename("answered")
    table = table.join(answered)
    if "born_state" in table:
        born_up = (table["born_state"] == 6).fillna(False)
        table["answered"] = table["answered"].where(~born_up, table["created"])
    hang = ev[ev["Event"] == "Hangup"]
    table = table.join(_first(hang, keys, {"Timestamp": "hungup", "Cause": "Cause",
                                           "Cause-txt": "Cause-txt"}, last=True))
    exten = ev[ev["Event"] == "Newexten"]
    table = table.join(_first(exten, keys, {"Application": "last_application",
                                            "AppData": "last_data"}, last=True))
    table = table.join(_bridge_peers(ev, keys))
    for name in columns:
        if name not in table and name not in keys:
            table[name] = pd.NA
    for name in ("created", "answered", "hungup"):
        table[name] = pd.to_datetime(table[name], utc=True)
    table["duration"] = table["hungup"] - table["created"]
    table["ring_time"] = table["answered"] - table["created"]
    table["talk_time"] = table["hungup"] - table["answered"]
    table["Cause"] = pd.array(table["Cause"], dtype="Int64")
    table["bridged"] = table["bridged_with"].notna()
    table = table.reset_index()
    order = table["created"].fillna(table["first_seen"])
    table = table.assign(_order=order).sort_values("_order", kind="stable").drop(columns="_order")
    return table[columns].reset_index(drop=True)


def _bridge_peers(ev: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    if "BridgeUniqueid" not in ev:
        return pd.DataFrame(columns=["bridged_with"])
    enters = ev[(ev["Event"] == "BridgeEnter")][keys + ["BridgeUniqueid", "Channel"]]
    if enters.empty:
        return pd.DataFrame(columns=["bridged_with"])
    pairs = enters.merge(enters, on="BridgeUniqueid", suffixes=("", "_peer"))
    pairs = pairs[pairs["Uniqueid"] != pairs["Uniqueid_peer"]]
    peers = pairs.groupby(keys, sort=False)["Channel_peer"].agg(lambda s: sorted(set(s)))
    return peers.rename("bridged_with").to_frame()


def calls(df: pd.DataFrame) -> pd.DataFrame:
    """One row per call (Linkedid): legs, originator, destinations, times, disposition."""
    chans = channels(df)
    keys = ["server", "Linkedid"] if "server" in chans else ["Linkedid"]
    columns = keys + ["legs", "originator", "destinations", "start", "answered", "end",
                      "duration", "disposition", "redirected", "channels"]
    chans = chans[chans["Linkedid"].notna()]
    if chans.empty:
        return pd.DataFrame(columns=columns)
    grouped = chans.groupby(keys, sort=False)
    table = grouped.agg(legs=("Uniqueid", "size"), start=("created", "min"),
                        answered=("answered", "min"), end=("hungup", "max"),
                        channels=("Channel", list), first_seen=("first_seen", "min"))
    complete = grouped["hungup"].apply(lambda s: s.notna().all())
    table["end"] = table["end"].where(complete)
    table["duration"] = table["end"] - table["start"]
    own = chans[chans["Uniqueid"] == chans["Linkedid"]]
    table = table.join(own.drop_duplicates(keys).set_index(keys)["Channel"].rename("originator"))
    starts = chans.drop_duplicates(keys).set_index(keys)["Channel"]
    table["originator"] = table["originator"].fillna(starts)
    ev = df.assign(Linkedid=_text(_col(df, "Linkedid")))
    dials = ev[_col(ev, "Event").astype(object) == "DialBegin"] if "DialString" in df else ev.iloc[:0]
    link = "DestLinkedid" if "DestLinkedid" in df else "Linkedid"
    if not dials.empty:
        dests = dials.assign(Linkedid=_text(dials[link])).groupby(
            ["server", "Linkedid"] if "server" in df else ["Linkedid"], sort=False,
            observed=True)["DialString"].agg(lambda s: list(dict.fromkeys(s.astype(str))))
        table = table.join(dests.rename("destinations"))
    else:
        table["destinations"] = pd.NA
    exten_start = chans.drop_duplicates(keys).set_index(keys)["start_exten"]
    table["destinations"] = table["destinations"].where(
        table["destinations"].notna(), exten_start.map(lambda e: [e] if isinstance(e, str) else pd.NA))
    table["disposition"] = _dispositions(df, chans, keys)
    table["redirected"] = _redirected(df, chans, keys)
    table["start"] = table["start"].fillna(table["first_seen"])
    table = table.reset_index().sort_values("start", kind="stable").reset_index(drop=True)
    return table[columns]


def _dispositions(df: pd.DataFrame, chans: pd.DataFrame, keys: list[str]) -> pd.Series:
    """ANSWERED, BUSY, NO ANSWER, CONGESTION or FAILED, from DialEnd, then hangup causes."""
    by_dial = pd.Series(dtype=object)
    if "DialStatus" in df:
        ends = df[_col(df, "Event").astype(object) == "DialEnd"]
        link = "DestLinkedid" if "DestLinkedid" in df else "Linkedid"
        if not ends.empty and link in ends:
            status = ends[keys[:-1] + [link, "DialStatus"]].rename(columns={link: "Linkedid"})
            status["Linkedid"] = _text(status["Linkedid"])
            status["DialStatus"] = _text(status["DialStatus"])
            answered = status.groupby(keys, sort=False)["DialStatus"].agg(
                lambda s: "ANSWER" if (s == "ANSWER").any() else s.iloc[-1])
            by_dial = answered.map(_DISPOSITION_BY_STATUS).fillna("FAILED")
    grouped = chans.groupby(keys, sort=False)
    any_answer = grouped["answered"].apply(lambda s: s.notna().any())
    causes = grouped["Cause"].agg(lambda s: set(s.dropna().astype(int)))

    def from_causes(key) -> str | None:
        found = causes.get(key, set())
        if any_answer.get(key, False):
            return "ANSWERED"
        if 17 in found:
            return "BUSY"
        if found & {34, 38, 41, 42, 44}:
            return "CONGESTION"
        if found & {18, 19, 16, 21}:
            return "NO ANSWER"
        return "FAILED" if found else None

    fallback = pd.Series({key: from_causes(key) for key in causes.index}, dtype=object)
    result = by_dial.reindex(causes.index)
    return result.where(result.notna(), fallback)


def redirects(df: pd.DataFrame) -> pd.DataFrame:
    """The Newexten events where a channel was moved by Redirect (or an async goto).

    A channel that starts over at priority 1 of another extension, not because its last
    application was a Goto-like one (Goto, GotoIf, Gosub …, or the AppDial2 of an
    originated Local channel) and not into ``h``, was moved from outside.
    """
    ev = _channel_events(df)
    ev = ev[ev["Event"] == "Newexten"] if not ev.empty else ev
    if ev.empty or "Priority" not in ev:
        return ev.iloc[:0]
    ckeys = _keys(df)
    groups = [ev[k] for k in ckeys]
    place = _col(ev, "Context").astype(str) + "," + _col(ev, "Exten").astype(str)
    previous_place = place.groupby(groups, sort=False).shift()
    apps = _col(ev, "Application").astype(object).astype(str).str.lower()
    previous_app = apps.groupby(groups, sort=False).shift()
    jump = ((ev["Priority"] == 1).fillna(False) & previous_place.notna()
            & (place != previous_place) & (_col(ev, "Exten").astype(object) != "h")
            & ~previous_app.isin(_JUMP_APPS))
    return ev[jump]


def _redirected(df: pd.DataFrame, chans: pd.DataFrame, keys: list[str]) -> pd.Series:
    """Whether a channel of each call was moved by Redirect."""
    ckeys = _keys(df)
    moved = redirects(df)[ckeys].drop_duplicates()
    flagged = chans.merge(moved.assign(_moved=True), on=ckeys, how="left")
    return flagged.groupby(keys, sort=False)["_moved"].agg(
        lambda s: s.fillna(False).astype(bool).any())


def bridges(df: pd.DataFrame) -> pd.DataFrame:
    """One row per bridge: type, created/destroyed, members and their enter/leave times."""
    columns = ["BridgeUniqueid", "BridgeType", "BridgeTechnology", "created", "destroyed",
               "members", "entered", "left", "max_channels"]
    if "BridgeUniqueid" not in df:
        return pd.DataFrame(columns=columns)
    ev = _with(df, *_BASICS)
    ev = ev[ev["BridgeUniqueid"].notna()].copy()
    ev["BridgeUniqueid"] = _text(ev["BridgeUniqueid"])
    ev["Event"] = _text(ev["Event"])
    grouped = ev.groupby("BridgeUniqueid", sort=False)
    table = grouped.agg(first_seen=("Timestamp", "min"), **{
        name: (name, "first") for name in ("BridgeType", "BridgeTechnology") if name in ev})
    created = ev[ev["Event"] == "BridgeCreate"].groupby("BridgeUniqueid")["Timestamp"].min()
    destroyed = ev[ev["Event"] == "BridgeDestroy"].groupby("BridgeUniqueid")["Timestamp"].max()
    table = table.join(created.rename("created")).join(destroyed.rename("destroyed"))
    enter = ev[ev["Event"] == "BridgeEnter"]
    leave = ev[ev["Event"] == "BridgeLeave"]
    table = table.join(enter.groupby("BridgeUniqueid")["Channel"].agg(
        lambda s: list(s.astype(str))).rename("members"))
    table = table.join(enter.groupby("BridgeUniqueid")["Timestamp"].agg(list).rename("entered"))
    table = table.join(leave.groupby("BridgeUniqueid")["Timestamp"].agg(list).rename("left"))
    if "BridgeNumChannels" in ev:
        table = table.join(ev.groupby("BridgeUniqueid")["BridgeNumChannels"].max()
                           .rename("max_channels"))
    for name in columns:
        if name not in table and name != "BridgeUniqueid":
            table[name] = pd.NA
    table["created"] = table["created"].fillna(table["first_seen"])
    return table.reset_index()[columns].sort_values("created", kind="stable").reset_index(drop=True)


def call(df: pd.DataFrame, linkedid: str) -> pd.DataFrame:
    """The events of one call, in order, with only the columns that carry information."""
    linked = _text(_col(df, "Linkedid")) == linkedid
    chans = channels(df[linked | _text(_col(df, "DestLinkedid")).eq(linkedid)])
    uids = set(chans.loc[chans["Linkedid"] == linkedid, "Uniqueid"].astype(str))
    mask = linked | _text(_col(df, "Uniqueid")).isin(uids)
    mask |= _text(_col(df, "DestUniqueid")).isin(uids)
    if "BridgeUniqueid" in df:
        own_bridges = set(_text(df.loc[mask, "BridgeUniqueid"].dropna()))
        mask |= _text(df["BridgeUniqueid"]).isin(own_bridges) & df["BridgeUniqueid"].notna()
    out = df[mask.fillna(False).astype(bool)]
    return out.dropna(axis=1, how="all").reset_index(drop=True)

