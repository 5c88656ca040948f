"""Scoring two normalised traces, a scenario's baseline and verdict, and the differences.

Four parts, each in [0, 1] (1 = indistinguishable):

- ``names``: F1 of the multisets of message names;
- ``order``: the longest common subsequence of the key sequences over the longer length,
  leaving out the messages that a real Asterisk emits from other threads (CEL, Cdr,
  DeviceStateChange, QueueMemberStatus), whose place varies from run to run;
- ``headers``: over messages matched by key (k-th occurrence with k-th occurrence), the
  share whose ordered header-name lists are identical;
- ``values``: over the same pairs, the share of equal values among the meaningful headers
  present in either message (absent on one side counts as unequal).

The baseline of a part is the worst score between two different real runs; the simulator
matches when each part scores at least :data:`TOLERANCE` times its baseline.
"""

from __future__ import annotations

import itertools
import statistics
from collections import Counter
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass, field, fields

from tests.fidelity.normalise import Key, Normalised, NormalisedRun

__all__ = ["PARTS", "TOLERANCE", "UNORDERED", "Difference", "Fidelity", "Scores", "baseline",
           "differences", "lcs_pairs", "mean_scores", "score_runs"]

#: Emitted from their own threads on a real server, so left out of the ``order`` part only.
UNORDERED = frozenset({"CEL", "Cdr", "DeviceStateChange", "QueueMemberStatus"})
#: A part matches when the simulator scores at least this share of the baseline.
TOLERANCE = 0.95
PARTS = ("names", "order", "headers", "values")


@dataclass(frozen=True)
class Scores:
    """The four parts of a comparison, each in [0, 1]."""

    names: float
    order: float
    headers: float
    values: float

    def __iter__(self) -> Iterator[float]:
        return iter((self.names, self.order, self.headers, self.values))

    def __str__(self) -> str:
        return " ".join(f"{f.name} {getattr(self, f.name):.3f}" for f in fields(self))


def _names(a: Sequence[Normalised], b: Sequence[Normalised]) -> float:
    total = len(a) + len(b)
    if total == 0:
        return 1.0
    common = Counter(m.name for m in a) & Counter(m.name for m in b)
    return 2 * sum(common.values()) / total


def _lcs_table(a: Sequence[Hashable], b: Sequence[Hashable]) -> list[list[int]]:
    # Classic dynamic programme; table[i][j] = LCS length of a[i:] and b[j:]. Keys are
    # interned to ints first: comparing tuples in the inner loop is the slow part.
    ids: dict[Hashable, int] = {}
    xa = [ids.setdefault(x, len(ids)) for x in a]
    xb = [ids.setdefault(x, len(ids)) for x in b]
    table = [[0] * (len(xb) + 1) for _ in range(len(xa) + 1)]
    for i in range(len(xa) - 1, -1, -1):
        row, below, ai = table[i], table[i + 1], xa[i]
        for j in range(len(xb) - 1, -1, -1):
            row[j] = below[j + 1] + 1 if ai == xb[j] else max(below[j], row[j + 1])
    return table


def lcs_pairs(a: Sequence[Hashable], b: Sequence[Hashable]) -> list[tuple[int, int]]:
    """The index pairs (i, j) of one longest common subsequence of ``a`` and ``b``."""
    table = _lcs_table(a, b)
    pairs, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        if a[i] == b[j]:
            pairs.append((i, j))
            i, j = i + 1, j + 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    return pairs


def _ordered(run: Sequence[Normalised]) -> list[Normalised]:
    return [m for m in run if m.name not in UNORDERED]


def _order(a: Sequence[Normalised], b: Sequence[Normalised]) -> float:
    ka, kb = [m.key for m in _ordered(a)], [m.key for m in _ordered(b)]
    longer = max(len(ka), len(kb))
    return 1.0 if longer == 0 else _lcs_table(ka, kb)[0][0] / longer


def _matched(a: Sequence[Normalised], b: Sequence[Normalised]) -> list[tuple[Normalised, Normalised]]:
    """The k-th occurrence of each key in ``a`` paired with its k-th occurrence in ``b``."""
    by_key: dict[Key, list[Normalised]] = {}
    for m in b:
        by_key.setdefault(m.key, []).append(m)
    seen: Counter[Key] = Counter()
    pairs = []
    for m in a:
        k = seen[m.key]
        seen[m.key] += 1
        others = by_key.get(m.key, ())
        if k < len(others):
            pairs.append((m, others[k]))
    return pairs


def _aligned(a: Sequence[Normalised], b: Sequence[Normalised]) -> list[tuple[Normalised, Normalised]]:
    """Pairs for the differences report: within each key, identical messages first.

    The scores pair the k-th occurrence with the k-th, as specified; but one lost Newexten
    would then shift every later pair of its key and bury the loss under value mismatches.
    For the report, each key's occurrences are aligned by the LCS of their meaningful
    values, and only what that leaves is paired in order.
    """
    by_key_a: dict[Key, list[Normalised]] = {}
    by_key_b: dict[Key, list[Normalised]] = {}
    for m in a:
        by_key_a.setdefault(m.key, []).append(m)
    for m in b:
        by_key_b.setdefault(m.key, []).append(m)
    pairs = []
    for key, xs in by_key_a.items():
        ys = by_key_b.get(key, [])
        same = lcs_pairs([_signature(x) for x in xs], [_signature(y) for y in ys])
        pairs += [(xs[i], ys[j]) for i, j in same]
        used_x, used_y = {i for i, _ in same}, {j for _, j in same}
        rest_x = [x for i, x in enumerate(xs) if i not in used_x]
        rest_y = [y for j, y in enumerate(ys) if j not in used_y]
        pairs += list(zip(rest_x, rest_y, strict=False))  # the surplus is missing or extra
    return sorted(pairs, key=lambda pair: pair[0].index)


def _signature(m: Normalised) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple(sorted(m.meaningful().items()))


def _value_mismatches(x: Normalised, y: Normalised) -> Iterator[tuple[str, str, str]]:
    """(header, value in x, value in y) for each meaningful header that differs; "" = absent."""
    vx, vy = x.meaningful(), y.meaningful()
    for name in [*vx, *(n for n in vy if n not in vx)]:
        if vx.get(name) != vy.get(name):
            yield name, " / ".join(vx.get(name, ())), " / ".join(vy.get(name, ()))


def _share(good: int, total: int, empty: float) -> float:
    return good / total if total else empty


def score_runs(a: NormalisedRun, b: NormalisedRun) -> Scores:
    """Compare two normalised traces (symmetric)."""
    ma, mb = a.messages, b.messages
    pairs = _matched(ma, mb)
    # No pair at all: perfect only when both traces are empty, else nothing agrees.
    empty = 1.0 if not ma and not mb else 0.0
    same_names = sum(x.header_names == y.header_names for x, y in pairs)
    compared = equal = 0
    for x, y in pairs:
        vx, vy = x.meaningful(), y.meaningful()
        # One comparison per header name present on either side (None = absent, unequal);
        # a repeated header (Variable) compares as the list of its values.
        for name in vx.keys() | vy.keys():
            compared += 1
            equal += vx.get(name) == vy.get(name)
    values = _share(equal, compared, 1.0 if pairs else empty)
    return Scores(_names(ma, mb), _order(ma, mb), _share(same_names, len(pairs), empty), values)


def baseline(runs: Sequence[NormalisedRun]) -> Scores:
    """The worst score of each part between two different real runs (all pairs)."""
    if len(runs) < 2:
        raise ValueError("a baseline needs at least two real runs")
    scores = [score_runs(x, y) for x, y in itertools.combinations(runs, 2)]
    return Scores(*(min(column) for column in zip(*scores, strict=True)))


def mean_scores(scores: Sequence[Scores]) -> Scores:
    return Scores(*(statistics.fmean(column) for column in zip(*scores, strict=True)))


def _show_key(key: Key) -> str:
    return " ".join(part for part in key if part)


@dataclass(frozen=True)
class Difference:
    """One way the simulator's trace differs from a real run's."""

    kind: str  # "missing", "extra", "headers", "value" or "order"
    key: Key
    real_index: int | None = None
    sim_index: int | None = None
    header: str = ""
    real: str = ""
    sim: str = ""
    detail: str = ""  # what tells the message apart when its key does not (e.g. Device)

    def __str__(self) -> str:
        where = f"real #{self.real_index}" if self.real_index is not None else f"sim #{self.sim_index}"
        what = _show_key(self.key) + (f" [{self.detail}]" if self.detail else "")
        if self.kind == "missing":
            return f"missing in simulator: {what} ({where})"
        if self.kind == "extra":
            return f"extra in simulator: {what} ({where})"
        if self.kind == "order":
            return f"out of order in simulator: {what} ({where}, sim #{self.sim_index})"
        if self.kind == "headers":
            return f"header names differ: {what} ({where}): {self.real}"
        return f"value of {self.header} differs: {what} ({where}): real {self.real!r}, simulator {self.sim!r}"


# Headers that identify a message whose key has no channel (DeviceStateChange, Queue*).
_DETAIL = ("Device", "Interface", "Queue", "Conference")


def _detail(m: Normalised) -> str:
    return ", ".join(f"{h}: {m.value(h)[0]}" for h in _DETAIL if not m.key[1] and m.value(h))


def _names_diff(real: tuple[str, ...], sim: tuple[str, ...]) -> str:
    missing = [n for n in real if n not in sim]
    extra = [n for n in sim if n not in real]
    parts = []
    if missing:
        parts.append("missing " + ", ".join(missing))
    if extra:
        parts.append("extra " + ", ".join(extra))
    return "; ".join(parts) or f"order real {', '.join(real)} / sim {', '.join(sim)}"


def differences(real: NormalisedRun, sim: NormalisedRun, limit: int | None = 20) -> list[Difference]:
    """The differences of ``sim`` from ``real``, the most telling kinds first.

    Messages missing from the simulator (real order), then extra ones (simulator order),
    then value mismatches and header-name-list differences of key-matched pairs (paired as
    :func:`_aligned` says), then keys present on both sides that the LCS alignment of the
    ``order`` part leaves unmatched.
    """
    rm, sm = real.messages, sim.messages
    pairs = _aligned(rm, sm)
    matched_real = {x.index for x, _ in pairs}
    matched_sim = {y.index for _, y in pairs}
    found: list[Difference] = [Difference("missing", m.key, m.index, detail=_detail(m)) for m in rm
                               if m.index not in matched_real]
    found += [Difference("extra", m.key, sim_index=m.index, detail=_detail(m)) for m in sm
              if m.index not in matched_sim]
    for x, y in pairs:
        found += [Difference("value", x.key, x.index, y.index, header, rv, sv)
                  for header, rv, sv in _value_mismatches(x, y)]
    found += [Difference("headers", x.key, x.index, y.index, real=_names_diff(x.header_names, y.header_names))
              for x, y in pairs if x.header_names != y.header_names]
    ra, sa = _ordered(rm), _ordered(sm)
    aligned = lcs_pairs([m.key for m in ra], [m.key for m in sa])
    aligned_real = {ra[i].index for i, _ in aligned}
    partner = {x.index: y.index for x, y in pairs}
    found += [Difference("order", m.key, m.index, partner[m.index]) for m in ra
              if m.index not in aligned_real and m.index in partner]
    # Stable sort: by kind, each kind keeping the order it was listed in.
    rank = {"missing": 0, "extra": 1, "value": 2, "headers": 3, "order": 4}
    found.sort(key=lambda d: rank[d.kind])
    return found if limit is None else found[:limit]


@dataclass
class Fidelity:
    """How closely the simulator's trace of one scenario matches the five real runs."""

    scenario: str
    baseline: Scores  # worst part scores between two real runs
    simulator: Scores  # mean part scores of the simulator against each real run
    per_run: list[Scores] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    timed_out: bool = False
    error: str = ""  # the replay could not happen (e.g. the simulator did not start)
    notes: list[str] = field(default_factory=list)
    filtered: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0

    def part_matches(self, part: str) -> bool:
        return bool(getattr(self.simulator, part) >= TOLERANCE * getattr(self.baseline, part))

    @property
    def matches(self) -> bool:
        """Every part scores at least :data:`TOLERANCE` times its baseline."""
        return all(self.part_matches(part) for part in PARTS)

    def ratios(self) -> Scores:
        """Each part's simulator score as a share of its baseline, capped at 1.

        Capped because the baseline is the worst real pair: beating it says nothing more
        than equalling it, and must not hide another scenario's shortfall in an average.
        """
        return Scores(*(min(1.0, s / b) if b else 1.0
                        for s, b in zip(self.simulator, self.baseline, strict=True)))

    def explain(self, limit: int = 3) -> str:
        """The parts and the first differences, for a failure message or a report."""
        lines = [f"{self.scenario}: {'match' if self.matches else 'MISMATCH'}"
                 + (" (replay timed out)" if self.timed_out else "")]
        if self.error:
            lines.append(f"  error: {self.error}")
        for part in PARTS:
            s, b = getattr(self.simulator, part), getattr(self.baseline, part)
            flag = "" if self.part_matches(part) else f"  < {TOLERANCE} x baseline"
            lines.append(f"  {part:<8} simulator {s:.3f}  baseline {b:.3f}{flag}")
        lines += [f"  note: {note}" for note in self.notes]
        lines += [f"  - {d}" for d in self.differences[:limit]]
        return "\n".join(lines)
