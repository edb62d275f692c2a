"""nnmath.scipy.special's functions beyond the elementary ones: a rule-table row for every new
primitive (``ROWS``: both modes to second order, float32, and — through rowtable — vmap and jit),
values against scipy over each domain including the tails, and the parameter derivatives that are
computed numerically (∂I/∂a, ∂I/∂b, ∂P/∂a, ∂F_ν/∂ν) against mpmath."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.special as ref

import nnmath as nm
import nnmath.scipy.special as sps
from rowtable import Row, rng, run_row

R = rng(10)
A = R.normal(size=(3, 4))
POS = R.uniform(0.5, 2.0, size=(3, 4))
PROB = R.uniform(0.1, 0.9, size=(3, 4))
ROW4 = R.uniform(1.0, 3.0, size=(4,))

ROWS = [
    Row("gamma", sps.gamma, (POS + 0.5,)),
    Row("gamma", sps.gamma, (-POS * 0.3 - 0.2,), id="gamma-negative"),
    Row("beta", sps.beta, (POS, POS + 0.3)),
    Row("betaln", sps.betaln, (POS + 0.5, ROW4), id="betaln-broadcast"),
    Row("betainc", sps.betainc, (POS + 0.5, POS + 1.0, PROB)),
    Row("betainc", lambda x: sps.betainc(2.5, 1.5, x), (PROB,), id="betainc-x"),
    Row("betaincinv", sps.betaincinv, (POS + 0.5, POS + 1.0, PROB)),
    Row("gammainc", sps.gammainc, (POS + 0.5, POS * 2)),
    Row("gammaincc", sps.gammaincc, (POS + 0.5, POS * 2)),
    Row("gammaincinv", sps.gammaincinv, (POS + 0.5, PROB)),
    Row("erfcinv", sps.erfcinv, (PROB * 2,)),
    Row("ndtri", sps.ndtri, (PROB,)),
    Row("log_ndtr", sps.log_ndtr, (A * 3,)),
    Row("log_ndtr", sps.log_ndtr, (-30.0 - POS,), id="log_ndtr-left-tail"),
    Row("stdtr", sps.stdtr, (POS + 1.0, A * 2)),
    Row("stdtrit", sps.stdtrit, (POS + 1.0, PROB)),
    Row("entr", sps.entr, (POS,)),
    Row("rel_entr", sps.rel_entr, (POS, POS[::-1])),
    Row("kl_div", sps.kl_div, (POS, POS[::-1])),
    Row("i0", sps.i0, (A * 2,)),
    Row("i1", sps.i1, (A * 2,)),
    Row("i0e", sps.i0e, (A * 2,)),
    Row("i1e", sps.i1e, (A * 2,)),
    Row(("xlog1py", "xlogy"), lambda x: sps.xlog1py(x, -x) + sps.xlogy(x, x), (PROB,), id="xlog1py-xlogy"),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_row(row):
    run_row(row)


# ----------------------------------------------------------------------------- values vs scipy
def _grid(lo, hi, n=41, log=False):
    return np.geomspace(lo, hi, n) if log else np.linspace(lo, hi, n)


X = np.concatenate([-_grid(1e-3, 40, log=True), [0.0], _grid(1e-3, 40, log=True)])
P = np.concatenate([_grid(1e-300, 1e-3, 20, log=True), _grid(0.01, 0.99, 21),
                    1 - _grid(1e-15, 1e-3, 20, log=True)])
SHAPE = _grid(1e-2, 1e3, 15, log=True)

UNARY = {
    "gamma": np.concatenate([_grid(1e-3, 170, log=True), -_grid(0.1, 20.0, 37) - 0.05]),
    "erfcinv": 2 * P, "ndtri": P, "log_ndtr": np.concatenate([X, [-1e3, -1e10, 1e3]]),
    "entr": np.concatenate([[0.0, -1.0], _grid(1e-300, 1e300, 50, log=True)]),
    "i0": X * 10, "i1": X * 10, "i0e": X * 1e3, "i1e": X * 1e3,
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_values_match_scipy(name):
    x = UNARY[name]
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(getattr(sps, name)(x), getattr(ref, name)(x), rtol=1e-15,
                                   atol=0, err_msg=name)


def test_tails_are_finite():
    assert np.isfinite(sps.log_ndtr(-40.0)) and abs(sps.log_ndtr(-40.0) - ref.log_ndtr(-40.0)) < 1e-12
    # d/dx log Φ(x) = φ/Φ ≈ −x for x → −∞ (and its derivative → −1)
    np.testing.assert_allclose(nm.grad(sps.log_ndtr)(-40.0), 40.02496883, rtol=1e-9)
    np.testing.assert_allclose(nm.grad(nm.grad(sps.log_ndtr))(-40.0), -0.99937, rtol=1e-4)
    np.testing.assert_allclose(nm.grad(sps.log_ndtr)(8.0), np.exp(-32.0) / np.sqrt(2 * np.pi), rtol=1e-14)
    np.testing.assert_allclose(nm.grad(sps.ndtri)(1e-300), 1 / (np.exp(-0.5 * ref.ndtri(1e-300) ** 2)
                                                               / np.sqrt(2 * np.pi)), rtol=1e-10)


@pytest.mark.parametrize("name", ["gammainc", "gammaincc", "gammaincinv", "stdtr", "stdtrit", "beta",
                                  "betaln", "rel_entr", "kl_div"])
def test_binary_values_match_scipy(name):
    a = SHAPE[:, None]
    second = {"gammainc": _grid(1e-3, 2e3, 30, log=True), "gammaincc": _grid(1e-3, 2e3, 30, log=True),
              "gammaincinv": P, "stdtr": np.concatenate([X, [-1e8, 1e8]]), "stdtrit": P,
              "beta": SHAPE, "betaln": SHAPE,
              "rel_entr": np.concatenate([[0.0], SHAPE]), "kl_div": np.concatenate([[0.0], SHAPE])}[name]
    if name in ("rel_entr", "kl_div"):
        a = np.concatenate([[0.0], SHAPE])[:, None]
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(getattr(sps, name)(a, second), getattr(ref, name)(a, second),
                                   rtol=1e-15, atol=0, err_msg=name)


@pytest.mark.parametrize("name", ["betainc", "betaincinv"])
def test_ternary_values_match_scipy(name):
    a, b = SHAPE[:, None, None], SHAPE[None, :, None]
    x = P[None, None, :]
    np.testing.assert_allclose(getattr(sps, name)(a, b, x), getattr(ref, name)(a, b, x), rtol=1e-15,
                               atol=0)


def test_values_keep_float32():
    x = np.float32([0.3, 0.6])
    for f in (sps.gamma, sps.ndtri, sps.log_ndtr, sps.entr, sps.i0, sps.erfcinv):
        assert f(x).dtype == np.float32
    for f in (sps.betaln, sps.gammainc, sps.stdtr, sps.kl_div):
        assert f(x, x).dtype == np.float32
    assert sps.betainc(x, x, x).dtype == np.float32
    assert isinstance(sps.polygamma(1, 2.0), (float, np.floating, np.ndarray))
    assert np.asarray(sps.polygamma(1, 2.0)).dtype == np.float64     # not float16


# ----------------------------------------------------------------------------- exact derivatives
def test_closed_form_derivatives():
    a, b, x = 2.5, 1.5, 0.3
    np.testing.assert_allclose(nm.grad(sps.betainc, argnums=2)(a, b, x),
                               x ** (a - 1) * (1 - x) ** (b - 1) / ref.beta(a, b), rtol=1e-13)
    np.testing.assert_allclose(nm.grad(sps.gammainc, argnums=1)(a, x),
                               x ** (a - 1) * np.exp(-x) / ref.gamma(a), rtol=1e-13)
    np.testing.assert_allclose(nm.grad(sps.stdtr, argnums=1)(3.0, 0.7),
                               __import__("scipy.stats").stats.t.pdf(0.7, 3.0), rtol=1e-13)
    np.testing.assert_allclose(nm.grad(sps.gamma)(2.5), ref.gamma(2.5) * ref.digamma(2.5), rtol=1e-14)
    np.testing.assert_allclose(nm.grad(sps.betaln, argnums=(0, 1))(a, b),
                               (ref.digamma(a) - ref.digamma(a + b), ref.digamma(b) - ref.digamma(a + b)),
                               rtol=1e-14)
    np.testing.assert_allclose(nm.grad(sps.i1)(0.0), 0.5)
    np.testing.assert_allclose(nm.grad(sps.i1e)(0.0), 0.5)
    np.testing.assert_allclose(nm.grad(nm.grad(sps.i0))(0.0), 0.5)
    np.testing.assert_allclose(nm.grad(sps.entr)(np.e), -2.0)
    np.testing.assert_allclose(nm.grad(sps.kl_div, argnums=(0, 1))(2.0, 3.0), (np.log(2 / 3), 1 - 2 / 3))
    # at x = 0: rel_entr and kl_div are flat in y (0 · ln 0 = 0), −∞ slope in x
    with np.errstate(divide="ignore"):
        gx, gy = nm.grad(sps.rel_entr, argnums=(0, 1))(0.0, 2.0)
    assert gy == 0.0 and gx == -np.inf
    # the inverses invert: ∂/∂q P⁻¹(a, q) · ∂/∂x P(a, x) = 1, and ∂y/∂a = −P_a/P_x
    a, q = 2.5, 0.4
    y = sps.gammaincinv(a, q)
    np.testing.assert_allclose(nm.grad(sps.gammaincinv, argnums=1)(a, q) *
                               nm.grad(sps.gammainc, argnums=1)(a, y), 1.0, rtol=1e-13)
    np.testing.assert_allclose(nm.grad(lambda a: sps.gammainc(a, sps.gammaincinv(a, q)))(a), 0.0,
                               atol=1e-10)
    np.testing.assert_allclose(nm.grad(lambda a: sps.betainc(a, 1.5, sps.betaincinv(a, 1.5, q)))(a), 0.0,
                               atol=1e-10)
    np.testing.assert_allclose(nm.grad(lambda d: sps.stdtr(d, sps.stdtrit(d, q)))(a), 0.0, atol=1e-10)


mp = pytest.importorskip("mpmath")
mp.mp.dps = 40


def _I(a, b, x):
    return mp.betainc(a, b, 0, x, regularized=True)


def _P(a, x):
    return mp.gammainc(a, 0, x, regularized=True)


def _T(df, t):
    v = 1 - _I(df / 2, mp.mpf(1) / 2, df / (df + t * t)) / 2
    return v if t > 0 else 1 - v


@pytest.mark.parametrize("a,b,x", [(2.0, 3.0, 0.3), (0.05, 0.5, 0.9), (50.0, 40.0, 0.55),
                                   (1e3, 2e3, 0.33), (0.5, 0.5, 1e-6), (2.0, 3.0, 0.97), (3.0, 300.0, 0.1)])
def test_betainc_parameter_derivatives_against_mpmath(a, b, x):
    for i, f in ((0, lambda q: _I(q, b, x)), (1, lambda q: _I(a, q, x))):
        want = float(mp.diff(f, (a, b)[i]))
        got = nm.grad(sps.betainc, argnums=i)(a, b, x)
        np.testing.assert_allclose(got, want, rtol=1e-10, err_msg=f"∂/∂{'ab'[i]}")
        want2 = float(mp.diff(f, (a, b)[i], 2))
        got2 = nm.grad(nm.grad(sps.betainc, argnums=i), argnums=i)(a, b, x)
        np.testing.assert_allclose(got2, want2, rtol=1e-6, atol=1e-9, err_msg=f"∂²/∂{'ab'[i]}²")


@pytest.mark.parametrize("a,x", [(2.5, 1.7), (0.01, 0.5), (100.0, 120.0), (1e4, 1.01e4), (3.0, 30.0),
                                 (30.0, 3.0)])
def test_gammainc_parameter_derivative_against_mpmath(a, x):
    want = float(mp.diff(lambda q: _P(q, x), a))
    np.testing.assert_allclose(nm.grad(sps.gammainc)(a, x), want, rtol=1e-10)
    np.testing.assert_allclose(nm.grad(sps.gammaincc)(a, x), -want, rtol=1e-10)
    want2 = float(mp.diff(lambda q: _P(q, x), a, 2))
    np.testing.assert_allclose(nm.grad(nm.grad(sps.gammainc))(a, x), want2, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("df,t", [(3.5, 0.7), (1.0, -30.0), (100.0, 2.0), (0.5, 5.0), (4.0, 40.0)])
def test_stdtr_df_derivative_against_mpmath(df, t):
    want = float(mp.diff(lambda q: _T(q, mp.mpf(t)), df))
    np.testing.assert_allclose(nm.grad(sps.stdtr)(df, t), want, rtol=1e-9)
