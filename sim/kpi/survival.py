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

import numpy as np

_TOL = 1e-9


def _survival(
    groups: np.ndarray,
    t: np.ndarray,
    event: np.ndarray,
    n: int,
    weights: np.ndarray | None = None,
    order: np.ndarray | None = None,
) -> tuple[np.ndarray, ...]:
    """Sort by (group, time, events first) and give the survival just after each row.

    ``order``, if given, is that sort (e.g. from :func:`group_order`), so that several
    statistics of one sample share it.
    """
    if order is None:
        order = _order(groups, t, event)
    g, t, e = groups[order], t[order], event[order]
    w = np.ones(len(g)) if weights is None else weights[order]
    counts = np.bincount(g, minlength=n)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    first = starts[g]
    cum_w = np.cumsum(w)
    total = np.bincount(g, weights=w, minlength=n)
    at_risk = total[g] - (cum_w - w - (cum_w[first] - w[first]))
    factor = 1.0 - e * w / np.maximum(at_risk, 1e-300)
    last = factor <= 1e-12  # the last parcel at risk arrives: survival drops to zero
    log_f = np.log(np.where(last, 1.0, factor))
    cum = np.cumsum(log_f)
    cum -= cum[first] - log_f[first]
    zeros = np.cumsum(last)
    zeros -= zeros[first] - last[first]
    s = np.where(zeros > 0, 0.0, np.exp(cum))
    return g, t, e, s, counts


def time_order(t: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Indices sorting a sample by (time, events before censored times).

    One float sort, then a stable pass over the nearly sorted (rank, censored) key that only
    moves events ahead of censored times equal to them. Equivalent to
    ``np.lexsort((~event, t))``; :func:`group_order` derives a grouped sort from it.
    """
    if len(t) == 0:
        return np.empty(0, dtype=np.intp)
    by_t = np.argsort(t)
    ts = t[by_t]
    rank = np.cumsum(np.concatenate([[False], ts[1:] != ts[:-1]]))
    key = rank * 2 + ~event.astype(bool)[by_t]
    return by_t[np.argsort(key, kind="stable")]


def group_order(groups: np.ndarray, by_time: np.ndarray) -> np.ndarray:
    """Indices sorting by (group, time, events first), from a :func:`time_order` of the sample.

    A stable sort of the group indices (a radix sort for fewer than 32,768 groups) keeps the
    time order within each group.
    """
    g = groups[by_time]
    if len(g) and 0 <= g.min() and g.max() < np.iinfo(np.int16).max:
        g = g.astype(np.int16)
    return by_time[np.argsort(g, kind="stable")]


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
    g, ts, e, s, _ = _survival(groups.astype(np.int64), t, event.astype(bool), n, weights, order)
    hit = np.flatnonzero(e & (s <= 1.0 - q + _TOL))
    if len(hit):
        first_group, first = np.unique(g[hit], return_index=True)
        out[first_group] = ts[hit[first]]
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
    zeros = np.zeros(len(t), dtype=np.int64)
    _, ts, e, s, _ = _survival(zeros, t, event.astype(bool), 1, None, order)
    out = []
    for q in qs:
        hit = np.flatnonzero(e & (s <= 1.0 - q + _TOL))
        out.append(float(ts[hit[0]]) if len(hit) else float("nan"))
    before = np.concatenate([[1.0], s[:-1]])
    steps = np.diff(np.concatenate([[0.0], ts]))
    return out, float(np.sum(before * steps))


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


#: About how many outcomes :func:`summary_encoded` handles at once.
_CHUNK = 1 << 22


class _Sorted:
    r"""One :func:`encode`\ d array sorted in place, seen as its outcomes (ascending) and its
    censored times (``neg``: negated, ascending, so the largest time first)."""

    def __init__(self, a: np.ndarray) -> None:
        # A sort compares -0.0 and +0.0 as equal and its min/max steps may swap their signs:
        # count the zeros by sign first, and write them back censored first.
        zero = a == 0
        zeros, zeros_censored = int(zero.sum()), int(np.signbit(a[zero]).sum())
        del zero
        a.sort()  # censored (negative) first, then the zeros, then the outcomes
        i0 = int(np.searchsorted(a, 0.0, side="left"))
        i1 = i0 + zeros
        a[i0 : i0 + zeros_censored] = -0.0
        a[i0 + zeros_censored : i1] = 0.0
        self.neg = a[:i0]
        self.ev = a[i1:]
        self.ev_zeros = i1 - i0 - zeros_censored
        self.ce_zeros = zeros_censored
        self.n_ev = len(self.ev) + self.ev_zeros
        self.n_ce = i0 + zeros_censored


def summary_encoded(arrays: list[np.ndarray], qs: tuple[float, ...]) -> tuple[list[float], float]:
    r""":func:`summary` of the lead times of several :func:`encode`\ d arrays, in place.

    For a region's or a province's parcels (hundreds of millions in a year): each array is
    sorted in place (their order means nothing; the values and signs stay) and the
    Kaplan–Meier curve is walked over
    windows of about :data:`_CHUNK` outcomes gathered from every array, each distinct time's
    factor ``1 - d / n`` taken at once, so no copy of the whole sample is made (the same
    estimate as :func:`summary`, up to rounding).
    """
    parts = [_Sorted(a) for a in arrays]
    n_ev = sum(p.n_ev for p in parts)
    n = n_ev + sum(p.n_ce for p in parts)
    if n == 0:
        return [float("nan")] * len(qs), float("nan")
    t_max = max(
        [0.0]
        + [float(p.ev[-1]) for p in parts if len(p.ev)]
        + [float(-p.neg[0]) for p in parts if len(p.neg)]
    )
    out = [float("nan")] * len(qs)
    state = [0.0, False, 0.0, 0.0]  # log S, S is 0, last time, area under S
    done, lo = 0, np.float32(0.0)
    # Every censored time, ascending (a few days' parcels of a run without a drain).
    ce = np.concatenate(
        [np.zeros(sum(p.ce_zeros for p in parts), dtype=np.float32)] + [-p.neg[::-1] for p in parts]
    )
    ce.sort()
    chunk = np.zeros(sum(p.ev_zeros for p in parts), dtype=np.float32)
    while True:
        if done or len(chunk) == 0:
            hi = _window_end(parts, lo)
            if hi is None:
                break
            chunk = np.sort(
                np.concatenate(
                    [
                        p.ev[np.searchsorted(p.ev, lo, "left") : np.searchsorted(p.ev, hi, "left")]
                        for p in parts
                    ]
                )
            )
            lo = hi
            if len(chunk) == 0:
                continue
        _walk(chunk, done, n, ce, qs, out, state)
        done += len(chunk)
        chunk = chunk[:0]
        if done >= n_ev:
            break
    log_s, dead, prev_t, area = state
    last_s = 0.0 if dead else float(np.exp(log_s))
    return out, area + last_s * (t_max - prev_t)


def _window_end(parts: list[_Sorted], lo: np.float32) -> np.float32 | None:
    """A time ``hi`` > ``lo`` with about :data:`_CHUNK` outcomes in ``[lo, hi)``; None when no
    outcome is left at or after ``lo``. Keys are float32 like the arrays: a float64 key would
    make every search convert its array."""
    left = [p for p in parts if len(p.ev) and p.ev[-1] >= lo]
    if not left:
        return None
    start = [int(np.searchsorted(p.ev, lo, "left")) for p in left]
    a = min(float(p.ev[i]) for p, i in zip(left, start, strict=True))
    b = max(float(p.ev[-1]) for p in left) * 2 + 1.0
    for _ in range(40):
        mid = np.float32((a + b) / 2)
        count = sum(
            int(np.searchsorted(p.ev, mid, "left")) - i for p, i in zip(left, start, strict=True)
        )
        if count > _CHUNK:
            b = float(mid)
        else:
            a = float(mid)
    step_in = np.nextafter(
        np.float32(min(p.ev[i] for p, i in zip(left, start, strict=True))), np.float32(np.inf)
    )
    return max(np.float32(a), step_in)


def _walk(
    chunk: np.ndarray,
    done: int,
    n: int,
    ce: np.ndarray,
    qs: tuple[float, ...],
    out: list[float],
    state: list,
) -> None:
    """Advance the Kaplan–Meier curve over the sorted outcomes ``chunk`` (``done`` before)."""
    log_s, dead, prev_t, area = state
    first = np.flatnonzero(np.concatenate([[True], chunk[1:] != chunk[:-1]]))
    u = chunk[first].astype(np.float64)
    d = np.diff(np.append(first, len(chunk))).astype(np.float64)
    factor = 1.0 - d / (n - (done + first) - np.searchsorted(ce, chunk[first], side="left"))
    zero = factor <= 1e-12
    cum = log_s + np.cumsum(np.log(np.where(zero, 1.0, factor)))
    dead_after = dead | (np.cumsum(zero) > 0)
    s = np.where(dead_after, 0.0, np.exp(cum))
    s_before = np.concatenate([[0.0 if dead else np.exp(log_s)], s[:-1]])
    area += float(np.sum(s_before * np.diff(np.concatenate([[prev_t], u]))))
    for i, q in enumerate(qs):
        if np.isnan(out[i]):
            hit = np.flatnonzero(s <= 1.0 - q + _TOL)
            if len(hit):
                out[i] = float(u[hit[0]])
    state[:] = [float(cum[-1]), bool(dead_after[-1]), float(u[-1]), area]
