"""More of ``scipy.special``: Γ and B, the incomplete Γ and B functions and their inverses, the
normal and Student-t distribution functions, entropies, and modified Bessel functions.

Vocabulary: ``g`` = ȳ, ``t`` = ẋ, ``y`` = forward output. Every rule is written with the
differentiable namespace, so second and higher derivatives follow by tracing the rules.

**Parameter derivatives without a closed form** (∂/∂a, ∂/∂b of the regularised incomplete beta
Iₓ(a, b); ∂/∂a of the regularised incomplete gamma P(a, x), Q(a, x); ∂/∂ν of the Student-t CDF)
are computed by :func:`_dparam`: central differences at the steps h and h/2, combined by one
Richardson step, (4·D(h/2) − D(h))/3, which cancels the h² term of the error, with
h = 10⁻³·a/(1 + √a) (relative for small a, so a ± h stays inside a > 0; ∝ √a for large a, the
scale on which these functions vary there). Each evaluation is a call of the primitive itself, so
the rule is differentiable like any other: the second derivative is the same scheme applied to
the first. Near 1 the difference is taken of the complementary function (Q for P, I₁₋ₓ(b, a) for
Iₓ(a, b), F_ν(−x) for F_ν(x)), which is small there and keeps its digits. Accuracy in float64,
checked against mpmath in ``tests/test_scipy_special.py``: first derivatives to a relative 10⁻¹⁰
(typically 10⁻¹²), second derivatives to 10⁻⁶ relative or 10⁻⁹ absolute. (JAX computes ∂P/∂a
by a series and has no ∂I/∂a, ∂I/∂b; this trades a few digits for 4 extra calls per derivative.)
The derivatives in x are exact. The inverses (``gammaincinv``, ``betaincinv``, ``stdtrit``,
``ndtri``, ``erfcinv``) differentiate by the implicit function theorem: for F(θ, y) = q,
∂y/∂q = 1/F_y and ∂y/∂θ = −F_θ/F_y, evaluated at the output y.

Conventions: ``entr``, ``rel_entr``, ``kl_div`` at 0 follow ``xlogy`` (0 · ln 0 = 0; the derivative
in x at x = 0 is −∞ or its one-sided limit, as the functions are not differentiable there);
``i1′(0) = ½``.
"""
from __future__ import annotations

import numpy as np

from ..numpy import _elementwise as E
from ..numpy._helpers import (elementwise, elementwise2, elementwise_n, primal_value,
                              strip_tracers)
from .special import digamma, gammaln, sps, xlog1py, xlogy

__all__ = ["gamma", "beta", "betaln", "betainc", "betaincinv", "gammainc", "gammaincc",
           "gammaincinv", "erfcinv", "ndtri", "log_ndtr", "stdtr", "stdtrit", "entr", "rel_entr",
           "kl_div", "i0", "i1", "i0e", "i1e"]

_HALF_LOG_2PI = float(0.5 * np.log(2 * np.pi))
_SQRT_2PI = float(np.sqrt(2 * np.pi))
_SQRT_PI_OVER_2 = float(np.sqrt(np.pi) / 2)
_LOG_PI = float(np.log(np.pi))
_FD_STEP = 1e-3


def _typed(name):
    """scipy.special.<name>, its result in the inputs' floating dtype (float32 stays float32)."""
    fn = getattr(sps, name)

    def impl(*args):
        out = fn(*args)
        dtype = np.result_type(*args)
        return out if dtype.kind != "f" or out.dtype == dtype else out.astype(dtype)
    impl.__name__ = impl.__qualname__ = name
    return impl


def _dparam(prim, i, args):
    """∂prim(*args)/∂args[i] for args[i] > 0: central differences at the steps h and h/2, one
    Richardson step (error O(h⁴)); each evaluation is a call of ``prim`` itself, so this is
    differentiable again (see the module docstring). h = 10⁻³·a/(1 + √a): relative for small a,
    and ∝ √a for large a, where these functions vary on the scale √a."""
    a = args[i]
    ra = E.abs(primal_value(a))
    h = _FD_STEP * ra / (1.0 + E.sqrt(ra))

    def f(da):
        shifted = list(args)
        shifted[i] = a + da
        return prim(*shifted)

    d1 = (f(h) - f(-h)) / (2.0 * h)
    d2 = (f(0.5 * h) - f(-0.5 * h)) / h
    return (4.0 * d2 - d1) / 3.0


def _smaller_tail(value, lower, upper):
    """``lower()`` where value ≤ ½, ``upper()`` where value > ½: a difference quotient of a CDF
    near 1 loses its digits to rounding (1 − 10⁻¹² is stored to 10⁻¹⁶), so near 1 the derivative
    is taken of the complementary function, which is small there. Only the branches needed are
    computed (a formula choice: recorded as a guard under jit)."""
    hi = strip_tracers(value) > 0.5
    if not np.any(hi):
        return lower()
    if np.all(hi):
        return upper()
    return E.where(primal_value(value) > 0.5, upper(), lower())


def _dI_da(a, b, x, value):
    # ∂ₐIₓ(a, b) = −∂ₐI₁₋ₓ(b, a)
    return _smaller_tail(value, lambda: _dparam(betainc, 0, (a, b, x)),
                         lambda: -_dparam(betainc, 1, (b, a, 1.0 - x)))


def _dI_db(a, b, x, value):
    return _smaller_tail(value, lambda: _dparam(betainc, 1, (a, b, x)),
                         lambda: -_dparam(betainc, 0, (b, a, 1.0 - x)))


def _dP_da(a, x, value):
    # ∂ₐP(a, x) = −∂ₐQ(a, x)
    return _smaller_tail(value, lambda: _dparam(gammainc, 0, (a, x)),
                         lambda: -_dparam(gammaincc, 0, (a, x)))


def _dF_ddf(df, x, value):
    # ∂_ν F_ν(x) = −∂_ν F_ν(−x)
    return _smaller_tail(value, lambda: _dparam(stdtr, 0, (df, x)),
                         lambda: -_dparam(stdtr, 0, (df, -x)))


def _t_pdf(df, x):
    # f(x; ν) = Γ((ν+1)/2) / (√(νπ) Γ(ν/2)) · (1 + x²/ν)^(−(ν+1)/2)
    return E.exp(gammaln(0.5 * (df + 1.0)) - gammaln(0.5 * df) - 0.5 * (E.log(df) + _LOG_PI)
                 - 0.5 * (df + 1.0) * E.log1p(x * x / df))


def _gammainc_dx(a, x):
    # ∂P(a, x)/∂x = x^(a−1) e^(−x) / Γ(a)
    return E.exp(xlogy(a - 1.0, x) - x - gammaln(a))


def _betainc_dx(a, b, x):
    # ∂Iₓ(a, b)/∂x = x^(a−1) (1 − x)^(b−1) / B(a, b)
    return E.exp(xlogy(a - 1.0, x) + xlog1py(b - 1.0, -x) - betaln(a, b))


# --- Γ and B ---------------------------------------------------------------------------------
# y = Γ(x)                        f′ = Γ(x) ψ(x)
gamma = elementwise("gamma", _typed("gamma"), lambda y, x: y * digamma(x), singular=True)

# y = B(a, b) = Γ(a)Γ(b)/Γ(a+b)   ∂y/∂a = y (ψ(a) − ψ(a+b)),  ∂y/∂b = y (ψ(b) − ψ(a+b))
beta = elementwise2("beta", _typed("beta"), lambda y, a, b: y * (digamma(a) - digamma(a + b)),
                    lambda y, a, b: y * (digamma(b) - digamma(a + b)), singular=True)

# y = ln |B(a, b)|                ∂y/∂a = ψ(a) − ψ(a+b),  ∂y/∂b = ψ(b) − ψ(a+b)
betaln = elementwise2("betaln", _typed("betaln"), lambda y, a, b: digamma(a) - digamma(a + b),
                      lambda y, a, b: digamma(b) - digamma(a + b), singular=True)

# --- incomplete B: y = Iₓ(a, b) -------------------------------------------------------------
# ∂y/∂x = x^(a−1)(1−x)^(b−1)/B(a, b);  ∂y/∂a, ∂y/∂b by _dparam (no closed form)
betainc = elementwise_n("betainc", _typed("betainc"),
                        (lambda y, a, b, x: _dI_da(a, b, x, y), lambda y, a, b, x: _dI_db(a, b, x, y),
                         lambda y, a, b, x: _betainc_dx(a, b, x)),
                        singular=(False, False, True))

# y = I⁻¹(a, b, q): I_y(a, b) = q  ∂y/∂q = 1/I_y,  ∂y/∂a = −∂ₐI/I_y,  ∂y/∂b = −∂_bI/I_y  (at y)
_binv_dq = lambda y, a, b: 1.0 / _betainc_dx(a, b, y)
_binv_da = lambda y, a, b, q: -_dI_da(a, b, y, q) / _betainc_dx(a, b, y)
_binv_db = lambda y, a, b, q: -_dI_db(a, b, y, q) / _betainc_dx(a, b, y)
betaincinv = elementwise_n("betaincinv", _typed("betaincinv"),
                           (_binv_da, _binv_db, lambda y, a, b, q: _binv_dq(y, a, b)),
                           singular=True)

# --- incomplete Γ: P(a, x) and Q(a, x) = 1 − P ---------------------------------------------
# y = P(a, x)                     ∂y/∂x = x^(a−1)e^(−x)/Γ(a);  ∂y/∂a by _dparam
gammainc = elementwise2("gammainc", _typed("gammainc"), lambda y, a, x: _dP_da(a, x, y),
                        lambda y, a, x: _gammainc_dx(a, x), singular=(False, True))

# y = Q(a, x)                     ∂y/∂x = −x^(a−1)e^(−x)/Γ(a);  ∂y/∂a by _dparam (of Q: exact
#                                 in the tails)
gammaincc = elementwise2("gammaincc", _typed("gammaincc"), lambda y, a, x: -_dP_da(a, x, 1.0 - y),
                         lambda y, a, x: -_gammainc_dx(a, x), singular=(False, True))

# y = P⁻¹(a, q): P(a, y) = q      ∂y/∂q = 1/P_y,  ∂y/∂a = −∂ₐP/P_y  (at y)
_ginv_dq = lambda y, a: E.exp(gammaln(a) + y - xlogy(a - 1.0, y))
_ginv_da = lambda y, a, q: -_dP_da(a, y, q) * _ginv_dq(y, a)
gammaincinv = elementwise2("gammaincinv", _typed("gammaincinv"), _ginv_da,
                           lambda y, a, q: _ginv_dq(y, a), singular=True)

# --- normal and Student-t -------------------------------------------------------------------
# y = erfc⁻¹ x                    f′ = −(√π/2) e^(y²)
erfcinv = elementwise("erfcinv", _typed("erfcinv"), lambda y, x: -_SQRT_PI_OVER_2 * E.exp(y * y),
                      singular=True)
# y = Φ⁻¹(p)                      f′ = √(2π) e^(y²/2)
ndtri = elementwise("ndtri", _typed("ndtri"), lambda y, x: _SQRT_2PI * E.exp(0.5 * y * y),
                    singular=True)
# y = ln Φ(x) (finite far into the left tail)   f′ = φ(x)/Φ(x) = e^(−x²/2 − ln√(2π) − y)
log_ndtr = elementwise("log_ndtr", _typed("log_ndtr"),
                       lambda y, x: E.exp(-0.5 * x * x - _HALF_LOG_2PI - y))

# y = F_ν(x), the Student-t CDF   ∂y/∂x = f_ν(x) (the density);  ∂y/∂ν by _dparam
stdtr = elementwise2("stdtr", _typed("stdtr"), lambda y, df, x: _dF_ddf(df, x, y),
                     lambda y, df, x: _t_pdf(df, x))

# y = F_ν⁻¹(p): F_ν(y) = p        ∂y/∂p = 1/f_ν(y),  ∂y/∂ν = −∂_νF/f_ν(y)  (at y)
_tinv_dp = lambda y, df: 1.0 / _t_pdf(df, y)
_tinv_ddf = lambda y, df, p: -_dF_ddf(df, y, p) / _t_pdf(df, y)
stdtrit = elementwise2("stdtrit", _typed("stdtrit"), _tinv_ddf, lambda y, df, p: _tinv_dp(y, df),
                       singular=True)

# --- entropies (0 · ln 0 = 0) ---------------------------------------------------------------
# y = −x ln x (x > 0), 0 (x = 0), −∞ (x < 0)    f′ = −(ln x + 1)
entr = elementwise("entr", _typed("entr"), lambda y, x: -(E.log(x) + 1.0), singular=True)


def _pos(x):
    """x where x > 0, else 1 (the double-where trick: the untaken branch stays finite)."""
    return E.where(primal_value(x) > 0, x, 1.0)


# y = x ln(x/y₂) (x, y₂ > 0), 0 (x = 0, y₂ ≥ 0), ∞ otherwise
#   ∂y/∂x = ln(x/y₂) + 1,  ∂y/∂y₂ = −x/y₂   (0 where x = 0)
_re_dx = lambda x, z: E.log(x) - E.log(z) + 1.0
_re_dz = lambda x, z: E.where(primal_value(x) != 0, -x / _pos(z), 0.0)
rel_entr = elementwise2("rel_entr", _typed("rel_entr"), lambda y, x, z: _re_dx(x, z),
                        lambda y, x, z: _re_dz(x, z), singular=True)

# y = x ln(x/y₂) − x + y₂         ∂y/∂x = ln(x/y₂),  ∂y/∂y₂ = 1 − x/y₂
_kl_dx = lambda x, z: E.log(x) - E.log(z)
_kl_dz = lambda x, z: 1.0 + _re_dz(x, z)
kl_div = elementwise2("kl_div", _typed("kl_div"), lambda y, x, z: _kl_dx(x, z),
                      lambda y, x, z: _kl_dz(x, z), singular=True)


# --- modified Bessel functions of the first kind ---------------------------------------------
def _over_x(v, x, at0):
    """v/x, with the limit ``at0`` at x = 0."""
    nz = primal_value(x) != 0
    return E.where(nz, v / E.where(nz, x, 1.0), at0)


# y = I₀(x)                       f′ = I₁(x)
i0 = elementwise("i0", _typed("i0"), lambda y, x: i1(x))
# y = I₁(x)                       f′ = I₀(x) − I₁(x)/x   (½ at 0)
i1 = elementwise("i1", _typed("i1"), lambda y, x: i0(x) - _over_x(y, x, 0.5))
# y = e^(−|x|) I₀(x)              f′ = I₁e(x) − sign(x) y
i0e = elementwise("i0e", _typed("i0e"), lambda y, x: i1e(x) - E.sign(x) * y)
# y = e^(−|x|) I₁(x)              f′ = I₀e(x) − I₁e(x)/x − sign(x) y   (½ at 0)
i1e = elementwise("i1e", _typed("i1e"), lambda y, x: i0e(x) - _over_x(y, x, 0.5) - E.sign(x) * y)
