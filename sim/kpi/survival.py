"""Lead-time statistics that stay honest when some parcels have not arrived yet.

A parcel of the cohort that has not reached its point when the run stops is *censored*: we
know only that its lead time exceeds the time it has waited. Percentiles and means use the
Kaplan–Meier estimate of the lead-time distribution, so a censored time never counts as an
outcome. With no censored parcel the estimate is the empirical distribution, and the q-th
percentile is the smallest lead time with at least a share q of the parcels at or below it.
Where too many parcels are censored for the estimate to reach q, the percentile is NaN
(unknown, and at least the longest time observed).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

_TOL = 1e-9


#: Rows per block of the Kaplan–Meier pass: its temporaries stay in cache and are reused,
#: not parcel-sized arrays faulted in afresh.
CHUNK = 1 << 16


@dataclass(frozen=True)
class _Block:
    """The survival just after each row of one block of the sorted sample (:func:`_curve`).

    ``at`` is the block's first position in the sorted order; ``rows`` the block's rows of
    the sample, ``g`` and ``e`` their groups and events, ``s`` their survival.
    """

    at: int
    rows: np.ndarray
    g: np.ndarray
    e: np.ndarray
    s: np.ndarray


def _curve(
    groups: np.ndarray | None,
    event: np.ndarray,
    n: int,
    weights: np.ndarray | None,
    order: np.ndarray,
) -> Iterator[_Block]:
    """The Kaplan–Meier survival of each group, block by block of the sorted sample.

    ``order`` sorts the sample by (group, time, events first). Each value is the one of the
    whole-array formula (the running sums over the whole sorted sample, less their values at
    the start of the row's group, in the same order of operations), computed a block at a
    time: a running sum carries into the next block through its first element, and the
    start values of each group are kept as the group's first block passes.
    """
    # Unweighted, every row weighs 1: a block of ones serves, and a group's sum is its size.
    w_all = np.ones(min(len(order), CHUNK)) if weights is None else weights[order]
    counts = np.array([len(order)]) if groups is None else np.bincount(groups, minlength=n)
    n = len(counts)
    total = counts.astype(float) if weights is None else _group_sums(counts, w_all)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    base_w, base_s = np.zeros(n), np.zeros(n)
    base_z = np.zeros(n, dtype=np.int64)
    carry_w, carry_s, carry_z = 0.0, 0.0, 0
    for a in range(0, len(order), CHUNK):
        b = min(a + CHUNK, len(order))
        rows, w = order[a:b], w_all[a:b] if weights is not None else w_all[: b - a]
        g = _groups_of(counts, a, b - a)
        e = event[rows]
        new = np.flatnonzero((starts >= a) & (starts < b) & (counts > 0))
        at = starts[new] - a
        cum_w = w.copy()
        cum_w[0] += carry_w
        np.cumsum(cum_w, out=cum_w)
        carry_w = float(cum_w[-1])
        base_w[new] = cum_w[at] - w[at]
        before = cum_w - w
        before -= base_w[g]
        at_risk = total[g]
        at_risk -= before
        np.maximum(at_risk, 1e-300, out=at_risk)
        log_f = e * w
        log_f /= at_risk
        np.subtract(1.0, log_f, out=log_f)  # the factor 1 - d / n of each row
        last = log_f <= 1e-12  # the last parcel at risk arrives: survival drops to zero
        log_f[last] = 1.0
        np.log(log_f, out=log_f)
        s = log_f.copy()
        s[0] += carry_s
        np.cumsum(s, out=s)
        carry_s = float(s[-1])
        base_s[new] = s[at] - log_f[at]
        s -= base_s[g]
        zeros = np.cumsum(last, dtype=np.int64)
        zeros += carry_z
        carry_z = int(zeros[-1])
        base_z[new] = zeros[at] - last[at]
        zeros -= base_z[g]
        np.exp(s, out=s)
        s[zeros > 0] = 0.0
        yield _Block(a, rows, g, e, s)


def _group_sums(counts: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Sum of ``w`` per group of a sample sorted by group, added in row order from 0 (as
    ``np.bincount`` of the whole sample gives it), a block at a time: a group running on from
    the block before starts from its sum so far, folded into its first row."""
    total = np.zeros(len(counts))
    for a in range(0, len(w), CHUNK):
        g = _groups_of(counts, a, CHUNK)
        block = w[a : a + CHUNK].copy()
        block[0] += total[g[0]]
        total[g[0] : g[-1] + 1] = np.bincount(g, weights=block, minlength=len(counts))[
            g[0] : g[-1] + 1
        ]
    return total


def _groups_of(counts: np.ndarray, a: int, size: int) -> np.ndarray:
    """The group of each of the ``size`` rows from position ``a`` of a sample sorted by
    group, of group sizes ``counts``."""
    ends = np.cumsum(counts)
    starts = ends - counts
    b = min(a + size, int(ends[-1]))
    rows = np.clip(ends, a, b) - np.clip(starts, a, b)
    return np.repeat(np.arange(len(counts)), rows)


def time_order(t: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Indices sorting a sample by (time, events before censored times).

    One float sort, then a stable pass over the nearly sorted (rank, censored) key that only
    moves events ahead of censored times equal to them. Equivalent to
    ``np.lexsort((~event, t))``; :func:`group_order` derives a grouped sort from it.
    """
    if len(t) == 0:
        return np.empty(0, dtype=np.intp)
    by_t = np.argsort(t)
    event = event.astype(bool, copy=False)
    # Nothing to move unless a censored time comes right before an event of the same time
    # (looked for a block at a time, each block overlapping the next by one row).
    for a in range(0, len(t) - 1, CHUNK):
        rows = by_t[a : a + CHUNK + 1]
        ts, ev = t[rows], event[rows]
        if (~ev[:-1] & ev[1:] & (ts[1:] == ts[:-1])).any():
            break
    else:
        return by_t
    ts = t[by_t]
    rank = np.cumsum(np.concatenate([[False], ts[1:] != ts[:-1]]))
    key = rank * 2 + ~event[by_t]
    return by_t[np.argsort(key, kind="stable")]


def group_order(groups: np.ndarray, by_time: np.ndarray) -> np.ndarray:
    """Indices sorting by (group, time, events first), from a :func:`time_order` of the sample.

    A stable sort of the group indices keeps the time order within each group: one sort of
    integers packing each group index with the row's position in the time order.
    """
    n = len(groups)
    if n == 0 or groups.min() < 0:
        return by_time[np.argsort(groups[by_time], kind="stable")]
    shift = max(n - 1, 1).bit_length()
    if int(groups.max()).bit_length() + shift > 63:
        return by_time[np.argsort(groups[by_time], kind="stable")]
    # Each group, shifted left, with the position in the time order in the low bits: distinct
    # integers whose (in-place) sort is the stable sort by group.
    small = groups.astype(np.int16 if groups.max() < np.iinfo(np.int16).max else np.int64)
    packed = np.arange(n, dtype=np.uint64)
    for a in range(0, n, CHUNK):
        g = small[by_time[a : a + CHUNK]].astype(np.uint64)
        g <<= np.uint64(shift)
        packed[a : a + CHUNK] |= g
    packed.sort()
    packed &= np.uint64((1 << shift) - 1)
    return by_time[packed.view(np.int64)]


def _order(groups: np.ndarray, t: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Indices sorting by (group, time, events before censored), like
    ``np.lexsort((~event, t, groups))`` but faster (:func:`time_order`, :func:`group_order`).
    """
    return group_order(groups, time_order(t, event))


def group_quantile(
    groups: np.ndarray,
    t: np.ndarray,
    event: np.ndarray,
    n: int,
    q: float,
    weights: np.ndarray | None = None,
    *,
    order: np.ndarray | None = None,
) -> np.ndarray:
    """Kaplan–Meier ``q``-quantile of ``t`` within each group ``0 .. n-1``.

    Parameters
    ----------
    groups
        Group index of each observation.
    t
        Observed time: the outcome where ``event``, else the time it was censored at.
    event
        Whether the outcome was observed.
    n
        Number of groups.
    q
        Quantile in (0, 1).
    weights
        Weight of each observation (default 1), e.g. to post-stratify a sample to known
        shares of its strata.
    order
        The sort of the sample by (group, time, events first), if already known
        (:func:`group_order`); computed otherwise.

    Returns
    -------
    numpy.ndarray
        Per group, the smallest observed outcome at which the estimated share of outcomes at
        or below it reaches ``q``; NaN for an empty group or when censoring keeps it unknown.
    """
    out = np.full(n, np.nan)
    if len(t) == 0:
        return out
    event = event.astype(bool, copy=False)
    if order is None:
        order = _order(groups, t, event)
    found = np.zeros(n, dtype=bool)
    for blk in _curve(groups.astype(np.int64, copy=False), event, n, weights, order):
        hit = np.flatnonzero(blk.e & (blk.s <= 1.0 - q + _TOL))
        if len(hit):
            first_group, first = np.unique(blk.g[hit], return_index=True)
            new = ~found[first_group]
            rows = blk.rows[hit[first[new]]]
            out[first_group[new]] = t[rows]
            found[first_group[new]] = True
    return out


def quantile(t: np.ndarray, event: np.ndarray, q: float) -> float:
    """Kaplan–Meier ``q``-quantile of one sample (see :func:`group_quantile`)."""
    return summary(t, event, (q,))[0][0]


def restricted_mean(t: np.ndarray, event: np.ndarray) -> float:
    """Mean under the Kaplan–Meier curve up to the longest time observed.

    Equal to the sample mean when nothing is censored; a lower bound otherwise.
    """
    return summary(t, event, ())[1]


def summary(
    t: np.ndarray,
    event: np.ndarray,
    qs: tuple[float, ...],
    *,
    order: np.ndarray | None = None,
) -> tuple[list[float], float]:
    """Kaplan–Meier quantiles ``qs`` and restricted mean of one sample, from one sort.

    With nothing censored these are the empirical quantiles (in linear time) and the mean;
    otherwise the sample is sorted once, or not at all if its :func:`time_order` is given.
    """
    if len(t) == 0:
        return [float("nan")] * len(qs), float("nan")
    if event.all():
        return [float(np.quantile(t, q, method="inverted_cdf")) for q in qs], float(np.mean(t))
    event = event.astype(bool)
    if order is None:
        order = time_order(t, event)
    # The area under the curve, as np.sum(before * steps) with before = [1, s[:-1]] and
    # steps the differences of the sorted times from 0: its terms are made block by block.
    area = np.empty(len(t))
    first = [-1] * len(qs)
    t_prev, s_prev = 0.0, 1.0
    for blk in _curve(None, event, 1, None, order):
        ts = t[blk.rows]
        at = slice(blk.at, blk.at + len(ts))
        np.subtract(ts, np.concatenate([[t_prev], ts[:-1]]), out=area[at])
        area[at] *= np.concatenate([[s_prev], blk.s[:-1]])
        t_prev, s_prev = ts[-1], blk.s[-1]
        for i, q in enumerate(qs):
            if first[i] < 0:
                hit = np.flatnonzero(blk.e & (blk.s <= 1.0 - q + _TOL))
                first[i] = blk.at + int(hit[0]) if len(hit) else -1
    out = [float(t[order[i]]) if i >= 0 else float("nan") for i in first]
    return out, float(np.sum(area))


def encode(lead_h: np.ndarray, reached: np.ndarray) -> np.ndarray:
    """Lead times (hours, >= 0) as one float32 array, the sign bit marking censored ones.

    A censored time is stored negated, so a censored 0.0 is -0.0: ``np.signbit`` is true
    exactly for the censored entries. See :func:`decode`.
    """
    x = np.abs(lead_h).astype(np.float32)
    return np.where(reached, x, -x)


def decode(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lead times in float64, reached) from :func:`encode`'s array."""
    return np.abs(x).astype(np.float64), ~np.signbit(x)


@dataclass(frozen=True)
class Tally:
    r"""An :func:`encode`\ d sample as its distinct values and how often each occurs.

    A county's parcels share few distinct lead times (they reach their point when a vehicle
    stops there, and come in trunk waves): the 905,504 of 临县 over 60 days take 6,608
    values. So a tally is exact and far smaller than the sample. ``values`` is float32,
    ascending, censored (negative, and -0.0) before outcomes; ``counts`` is int64.
    """

    values: np.ndarray
    counts: np.ndarray

    @classmethod
    def of(cls, x: np.ndarray) -> Tally:
        r"""The tally of one :func:`encode`\ d array (``x`` is not changed)."""
        x = np.asarray(x, dtype=np.float32)
        # A sort treats -0.0 and +0.0 as equal and may swap them: count the zeros by sign.
        zero = x == 0
        n_zero = int(zero.sum())
        censored_zeros = int(np.signbit(x[zero]).sum()) if n_zero else 0
        u, c = np.unique(x[~zero], return_counts=True)
        i = int(np.searchsorted(u, 0.0))
        zeros = [(np.float32(-0.0), censored_zeros), (np.float32(0.0), n_zero - censored_zeros)]
        zv = np.array([v for v, k in zeros if k], dtype=np.float32)
        zc = np.array([k for _, k in zeros if k], dtype=np.int64)
        return cls(
            np.concatenate([u[:i], zv, u[i:]]).astype(np.float32, copy=False),
            np.concatenate([c[:i], zc, c[i:]]).astype(np.int64, copy=False),
        )

    @property
    def n(self) -> int:
        """Size of the sample."""
        return int(self.counts.sum())

    @property
    def n_censored(self) -> int:
        """Censored entries of the sample."""
        return int(self.counts[np.signbit(self.values)].sum())

    def outcomes(self) -> tuple[np.ndarray, np.ndarray]:
        """(times, counts) of the outcomes (the entries that are not censored)."""
        keep = ~np.signbit(self.values)
        return self.values[keep], self.counts[keep]


def summary_encoded(
    samples: Sequence[np.ndarray | Tally], qs: tuple[float, ...]
) -> tuple[list[float], float]:
    r""":func:`summary` of the lead times of several :func:`encode`\ d arrays or tallies.

    For a region's or a province's parcels (hundreds of millions in a year), each county
    brings a :class:`Tally`; the Kaplan–Meier curve is walked once over the distinct times
    of all of them (the same estimate as :func:`summary`, up to rounding).
    """
    tallies = [s if isinstance(s, Tally) else Tally.of(s) for s in samples]
    if not tallies or sum(t.n for t in tallies) == 0:
        return [float("nan")] * len(qs), float("nan")
    v = np.concatenate([t.values for t in tallies])
    c = np.concatenate([t.counts for t in tallies])
    censored = np.signbit(v)
    t_all = np.abs(v).astype(np.float64)
    n = float(c.sum())
    u, d = _merge(t_all[~censored], c[~censored])
    cu, cc = _merge(t_all[censored], c[censored])
    t_max = float(t_all.max())
    if len(u) == 0:
        return [float("nan")] * len(qs), t_max
    gone = np.concatenate([[0.0], np.cumsum(cc)])[np.searchsorted(cu, u, side="left")]
    at_risk = n - np.concatenate([[0.0], np.cumsum(d)[:-1]]) - gone
    factor = 1.0 - d / at_risk
    zero = factor <= 1e-12
    dead = np.cumsum(zero) > 0
    s = np.where(dead, 0.0, np.exp(np.cumsum(np.log(np.where(zero, 1.0, factor)))))
    out = []
    for q in qs:
        hit = np.flatnonzero(s <= 1.0 - q + _TOL)
        out.append(float(u[hit[0]]) if len(hit) else float("nan"))
    before = np.concatenate([[1.0], s[:-1]])
    area = float(np.sum(before * np.diff(np.concatenate([[0.0], u]))))
    return out, area + float(s[-1]) * (t_max - float(u[-1]))


def _merge(t: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct times of ``t`` (ascending) and the summed ``counts`` of each, as floats."""
    u, inverse = np.unique(t, return_inverse=True)
    return u, np.bincount(inverse, weights=counts, minlength=len(u)).astype(np.float64)
