"""The numba kernel, the NumPy reference and pure Python agree on random inputs."""

from __future__ import annotations

import numpy as np
import pytest

from reservation.routing import kernel


def random_inputs(seed: int, n: int, m: int) -> tuple:
    rng = np.random.default_rng(seed)
    capacity = rng.choice([0.0, 100.0, 500.0], size=m)
    load = rng.integers(0, 600, size=m).astype(np.float64)
    coverage = rng.choice([0.0, 0.25, 0.5, 1.0], size=(n, m))
    return (rng.uniform(18, 50, n), rng.uniform(75, 130, n), rng.uniform(18, 50, m),
            rng.uniform(75, 130, m), load, capacity, rng.uniform(0, 30, m),
            rng.integers(-5, 5, m).astype(np.float64), coverage,
            rng.random((n, m)) > 0.2, rng.uniform(0, 3, 5), float(rng.uniform(0.5, 1.2)))


@pytest.mark.parametrize("seed", range(20))
def test_numba_matches_numpy_reference(seed: int) -> None:
    args = random_inputs(seed, n=37, m=11)
    want_scores, want_best = kernel.score_numpy(*args)
    got_scores, got_best = kernel.score_numba(*args)
    np.testing.assert_allclose(got_scores, want_scores, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(got_best, want_best)


@pytest.mark.parametrize("seed", range(10))
def test_compiled_terms_match_numpy_reference(seed: int) -> None:
    args = random_inputs(200 + seed, n=23, m=9)[:9]
    want = kernel.terms_numpy(*args)
    got = kernel.terms_numba(*args)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_pure_python_matches_numpy_reference(seed: int) -> None:
    args = random_inputs(100 + seed, n=13, m=7)
    want_scores, want_best = kernel.score_numpy(*args)
    plain = [a.tolist() if isinstance(a, np.ndarray) else a for a in args]
    got_scores, got_best = kernel.score_python(*plain)
    np.testing.assert_allclose(np.array(got_scores), want_scores, rtol=1e-9, atol=1e-12)
    assert got_best == want_best.tolist()


def test_the_kernels_asin_agrees_with_numpy_to_a_few_ulp() -> None:
    # Both branches (a < 0.25 and a >= 0.25), their boundary, and the ends: the same
    # point (0) and the antipode (1).
    a = np.concatenate([np.linspace(0.0, 1.0, 4001), [np.nextafter(0.25, 0), 1 - 1e-12]])
    want = np.arcsin(np.sqrt(a))
    got = np.array([kernel.asin_sqrt(x) for x in a])
    assert np.all(np.abs(got - want) <= 4 * np.spacing(np.maximum(want, 1e-300)))


def test_full_warehouse_and_no_coverage_are_not_allowed() -> None:
    one = np.array([30.0])
    scores, best = kernel.score_numba(
        one, np.array([120.0]), np.array([30.0, 31.0]), np.array([120.0, 121.0]),
        load=np.array([500.0, 0.0]), capacity=np.array([500.0, 500.0]),
        cost=np.zeros(2), priority=np.zeros(2), coverage=np.array([[1.0, 1.0]]),
        allowed=np.ones((1, 2), dtype=np.bool_), weights=np.ones(5), threshold=1.0)
    assert np.isinf(scores[0, 0]) and best[0] == 1
    _, none = kernel.score_numba(one, one, one, one, one, one, one, one,
                                 np.zeros((1, 1)), np.ones((1, 1), dtype=np.bool_),
                                 np.ones(5), 1.0)
    assert none[0] == -1


def test_a_warehouse_shipping_the_whole_order_beats_a_nearer_split() -> None:
    args = {"dest_lat": np.array([31.2]), "dest_lon": np.array([121.5]),
                "wh_lat": np.array([31.2, 30.3]), "wh_lon": np.array([121.5, 120.2]),
                "load": np.zeros(2), "capacity": np.zeros(2), "cost": np.zeros(2),
                "priority": np.zeros(2), "coverage": np.array([[0.5, 1.0]]),
                "allowed": np.ones((1, 2), dtype=np.bool_),
                "weights": np.array([1.0, 1.0, 2.0, 0.0, 0.1]), "threshold": 1.0}
    _, best = kernel.score_numba(**args)
    assert best[0] == 1


def test_warm_up_compiles_the_kernel() -> None:
    kernel.warm_up()
    assert kernel.compiled()
