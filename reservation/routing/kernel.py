"""The scoring kernel: every (order group x candidate warehouse) pair gets a score.

Lower is better. For a pair the terms are

    distance   great-circle km from the destination, per 1000 km (haversine, computed
               from the chord between unit vectors: sin^2(d/2) = |u1 - u2|^2 / 4, so
               each pair costs two square roots and a rational function (fdlibm's
               asin), no trigonometry per pair)
    load       today's routed orders / daily capacity (0 with no capacity set);
               at or past `threshold` x capacity the pair is not allowed (hard stop)
    shipments  0 when the warehouse can ship the group whole, else 1 + the share it
               cannot ship (so a split costs at least one extra parcel)
    cost       cost per order / 10
    priority   -priority / 10 (a higher priority lowers the score)

score = sum(weight x term); pairs the rules exclude, or that can ship nothing
(coverage 0), score +inf and best is -1 when a row has no allowed pair.

`terms_numba` computes the same terms for a decision's explanation.

Three implementations of the same arithmetic: `score_numba` (the one the service runs,
compiled with numba at start-up, cached on disk; NUMBA_CACHE_DIR moves the cache for
read-only images), `score_numpy` (the reference the tests compare with) and
`score_python` (plain loops, the benchmark's baseline).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

EARTH_KM = 6371.0
TERMS = ("distance", "load", "shipments", "cost", "priority")
F64 = npt.NDArray[np.float64]


def _unit_vectors(lat: F64, lon: F64) -> F64:
    """Points on the unit sphere, shape (k, 3)."""
    p, l = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(p) * np.cos(l), np.cos(p) * np.sin(l), np.sin(p)], axis=1)


def terms_numpy(dest_lat: F64, dest_lon: F64, wh_lat: F64, wh_lon: F64, load: F64,
                capacity: F64, cost: F64, priority: F64, coverage: F64) -> F64:
    """The five terms of every pair, shape (n, m, 5): the reference arithmetic, and what
    a decision shows for each candidate."""
    d = _unit_vectors(dest_lat, dest_lon)[:, None, :]
    w = _unit_vectors(wh_lat, wh_lon)[None, :, :]
    chord2 = ((d - w) ** 2).sum(axis=2)
    km = 2 * EARTH_KM * np.arcsin(np.sqrt(np.minimum(chord2 / 4, 1.0)))
    n = dest_lat.shape[0]
    ratio = np.where(capacity > 0, load / np.where(capacity > 0, capacity, 1.0), 0.0)
    out = np.empty((n, wh_lat.shape[0], 5))
    out[..., 0] = km / 1000.0
    out[..., 1] = ratio[None, :]
    out[..., 2] = np.where(coverage >= 1.0, 0.0, 2.0 - coverage)
    out[..., 3] = (cost / 10.0)[None, :]
    out[..., 4] = (-priority / 10.0)[None, :]
    return out


def score_numpy(dest_lat: F64, dest_lon: F64, wh_lat: F64, wh_lon: F64, load: F64,
                capacity: F64, cost: F64, priority: F64, coverage: F64,
                allowed: npt.NDArray[np.bool_], weights: F64, threshold: float
                ) -> tuple[F64, npt.NDArray[np.int64]]:
    t = terms_numpy(dest_lat, dest_lon, wh_lat, wh_lon, load, capacity, cost, priority,
                    coverage)
    scores = t @ weights
    full = (capacity > 0) & (load >= threshold * capacity)
    scores[~allowed | (coverage <= 0) | full[None, :]] = np.inf
    best = np.argmin(scores, axis=1).astype(np.int64)
    best[~np.isfinite(scores[np.arange(scores.shape[0]), best])] = -1
    return scores, best


# fdlibm's asin (e_asin.c, the rational approximation C libraries use): asin(x) = x +
# x*R(x^2) below 0.5, and pi/2 - 2*asin(sqrt((1-x)/2)) from 0.5 on, with the same R.
# Spelt out here so that LLVM can vectorise the pair loop (a call into libm's asin
# cannot be); it agrees with np.arcsin within 2 ulp (tests/routing/test_kernel.py).
_PS = (1.66666666666666657415e-01, -3.25565818622400915405e-01, 2.01212532134862925881e-01,
       -4.00555345006794114027e-02, 7.91534994289814532176e-04, 3.47933107596021167570e-05)
_QS = (-2.40339491173441421878e+00, 2.02094576023350569471e+00, -6.88283971605453293030e-01,
       7.70381505559019352791e-02)
# Floating-point freedoms that change a score by an ulp or so, never by the tests'
# tolerance: fused multiply-add, reciprocal for a division, no signed zeros. Not 'nnan'
# or 'ninf': a pair that is not allowed scores +inf.
_FASTMATH = {"contract", "arcp", "nsz"}


def _njit(fn: Callable[..., Any] | None = None, **options: Any) -> Any:
    """@njit(cache=True): compiled code is kept on disk (beside this file, or in
    NUMBA_CACHE_DIR), so a warm start loads it instead of compiling. With no writable
    place at all (a read-only image without NUMBA_CACHE_DIR) numba refuses to cache;
    then the kernel is compiled at every start rather than not starting at all.

    error_model='numpy': a float division is plain IEEE arithmetic instead of a
    ZeroDivisionError check, which is what keeps LLVM from vectorising the loop (every
    divisor here is a constant or guarded)."""
    if fn is None:
        return lambda f: _njit(f, **options)
    options = {"nogil": True, "error_model": "numpy", **options}
    try:
        return numba.njit(cache=True, **options)(fn)
    except RuntimeError as exc:
        log.warning("numba cannot cache the routing kernel (%s); set NUMBA_CACHE_DIR to a "
                    "writable directory for warm starts", exc)
        return numba.njit(**options)(fn)


@_njit(inline="always", fastmath=_FASTMATH)
def asin_sqrt(a: float) -> float:  # pragma: no cover - compiled
    """asin(sqrt(a)) for a in [0, 1] (fdlibm's approximation, see _PS)."""
    x = math.sqrt(a)
    big = a >= 0.25  # x >= 0.5
    t = 0.5 - 0.5 * x if big else a
    p = t * (_PS[0] + t * (_PS[1] + t * (_PS[2] + t * (_PS[3] + t * (_PS[4] + t * _PS[5])))))
    q = 1.0 + t * (_QS[0] + t * (_QS[1] + t * (_QS[2] + t * _QS[3])))
    r = p / q
    s = math.sqrt(t)
    return math.pi / 2 - 2.0 * (s + s * r) if big else x + x * r


def _unit_vector(lat: float, lon: float) -> tuple[float, float, float]:
    """A point on the unit sphere from degrees: every kernel's distance is the chord
    between two of these. Plain Python for score_python; compiled below for the numba
    kernels (inlined, so each keeps its own fastmath flags)."""
    p, lam = math.radians(lat), math.radians(lon)
    return math.cos(p) * math.cos(lam), math.cos(p) * math.sin(lam), math.sin(p)


_unit_vector_compiled = _njit(inline="always")(_unit_vector)


@_njit(fastmath=_FASTMATH)
def score_numba(dest_lat: F64, dest_lon: F64, wh_lat: F64, wh_lon: F64, load: F64,
                capacity: F64, cost: F64, priority: F64, coverage: F64,
                allowed: npt.NDArray[np.bool_], weights: F64, threshold: float
                ) -> tuple[F64, npt.NDArray[np.int64]]:  # pragma: no cover - compiled
    n, m = dest_lat.shape[0], wh_lat.shape[0]
    scores = np.empty((n, m))
    best = np.full(n, -1, dtype=np.int64)
    # Per-point parts once, not per pair: unit vectors, and each warehouse's
    # load/cost/priority terms, +inf at the hard stop (so a full warehouse needs no
    # test per pair).
    wx = np.empty(m)
    wy = np.empty(m)
    wz = np.empty(m)
    fixed = np.empty(m)
    for j in range(m):
        wx[j], wy[j], wz[j] = _unit_vector_compiled(wh_lat[j], wh_lon[j])
        ratio = load[j] / capacity[j] if capacity[j] > 0 else 0.0
        fixed[j] = (weights[1] * ratio + weights[3] * (cost[j] / 10.0)
                    + weights[4] * (-priority[j] / 10.0))
        if capacity[j] > 0 and load[j] >= threshold * capacity[j]:
            fixed[j] = np.inf
    w_km = weights[0] * (2 * EARTH_KM / 1000.0)
    for i in range(n):
        dx, dy, dz = _unit_vector_compiled(dest_lat[i], dest_lon[i])
        # Every pair of the row without a branch (a masked pair is a select to +inf),
        # so LLVM vectorises it; the pick is a second, scalar pass over the row.
        for j in range(m):
            cov = coverage[i, j]
            ex, ey, ez = dx - wx[j], dy - wy[j], dz - wz[j]
            a = min((ex * ex + ey * ey + ez * ez) / 4, 1.0)
            ship = 0.0 if cov >= 1.0 else 2.0 - cov
            s = w_km * asin_sqrt(a) + fixed[j] + weights[2] * ship
            scores[i, j] = s if allowed[i, j] & (cov > 0) else np.inf
        low = np.inf
        for j in range(m):
            if scores[i, j] < low:
                low = scores[i, j]
                best[i] = j
    return scores, best


@_njit
def terms_numba(dest_lat: F64, dest_lon: F64, wh_lat: F64, wh_lon: F64, load: F64,
                capacity: F64, cost: F64, priority: F64, coverage: F64
                ) -> F64:  # pragma: no cover - compiled
    """`terms_numpy` compiled: the five terms of every pair, shape (n, m, 5), for the
    explanation of a decision (one call instead of NumPy's dozen small temporaries).
    No fastmath: a priority of 0 shows as -0.0, as in the reference."""
    n, m = dest_lat.shape[0], wh_lat.shape[0]
    out = np.empty((n, m, 5))
    wx = np.empty(m)
    wy = np.empty(m)
    wz = np.empty(m)
    for j in range(m):
        wx[j], wy[j], wz[j] = _unit_vector_compiled(wh_lat[j], wh_lon[j])
    for i in range(n):
        dx, dy, dz = _unit_vector_compiled(dest_lat[i], dest_lon[i])
        for j in range(m):
            ex, ey, ez = dx - wx[j], dy - wy[j], dz - wz[j]
            a = min((ex * ex + ey * ey + ez * ez) / 4, 1.0)
            cov = coverage[i, j]
            out[i, j, 0] = 2 * EARTH_KM * asin_sqrt(a) / 1000.0
            out[i, j, 1] = load[j] / capacity[j] if capacity[j] > 0 else 0.0
            out[i, j, 2] = 0.0 if cov >= 1.0 else 2.0 - cov
            out[i, j, 3] = cost[j] / 10.0
            out[i, j, 4] = -priority[j] / 10.0
    return out


def score_python(dest_lat: list[float], dest_lon: list[float], wh_lat: list[float],
                 wh_lon: list[float], load: list[float], capacity: list[float],
                 cost: list[float], priority: list[float], coverage: list[list[float]],
                 allowed: list[list[bool]], weights: list[float], threshold: float
                 ) -> tuple[list[list[float]], list[int]]:
    """Plain loops over lists: the same arithmetic without NumPy or numba."""
    scores: list[list[float]] = []
    best: list[int] = []
    whs = [_unit_vector(la, lo) for la, lo in zip(wh_lat, wh_lon, strict=True)]
    for i in range(len(dest_lat)):
        dx, dy, dz = _unit_vector(dest_lat[i], dest_lon[i])
        row, low, pick = [], math.inf, -1
        for j, (wx, wy, wz) in enumerate(whs):
            cov = coverage[i][j]
            full = capacity[j] > 0 and load[j] >= threshold * capacity[j]
            if not allowed[i][j] or cov <= 0 or full:
                row.append(math.inf)
                continue
            a = min(((dx - wx) ** 2 + (dy - wy) ** 2 + (dz - wz) ** 2) / 4, 1.0)
            km = 2 * EARTH_KM * math.asin(math.sqrt(a))
            ratio = load[j] / capacity[j] if capacity[j] > 0 else 0.0
            ship = 0.0 if cov >= 1.0 else 2.0 - cov
            s = (weights[0] * km / 1000.0 + weights[1] * ratio + weights[2] * ship
                 + weights[3] * cost[j] / 10.0 + weights[4] * -priority[j] / 10.0)
            row.append(s)
            if s < low:
                low, pick = s, j
        scores.append(row)
        best.append(pick)
    return scores, best


def warm_up() -> None:
    """Compile (or load from the on-disk cache) the numba kernel for the dtypes the
    service passes, so no request pays for compilation."""
    one = np.zeros(1)
    score_numba(one, one, one, one, one, one, one, one, np.ones((1, 1)),
                np.ones((1, 1), dtype=np.bool_), np.ones(5), 1.0)
    terms_numba(one, one, one, one, one, one, one, one, np.ones((1, 1)))


def compiled() -> bool:
    return bool(score_numba.signatures) and bool(terms_numba.signatures)
