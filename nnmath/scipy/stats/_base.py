"""What every distribution shares: argument parsing in scipy's order, domain checks that name the
parameter and the value, the support mask, frozen distributions and sampling through scipy.

Conventions (scipy's): a continuous distribution is a standard form f(z; shapes) moved and
stretched, x = loc + scale·z, so logpdf(x) = log f((x − loc)/scale) − log scale, cdf(x) = F(z),
ppf(q) = loc + scale·F⁻¹(q). A discrete one is shifted only, k = loc + j. Outside the support,
logpdf is −∞, pdf 0, cdf 0 or 1 (values, not errors: x is data); parameters outside their domain
raise ``ValueError`` (scipy returns NaN). The checks read the numbers beneath every derivative
level (``strip_tracers``), so they hold under grad/jvp/vmap, and under ``jit`` they are recorded as
guards.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ...numpy import _elementwise as E
from ...numpy._helpers import nondifferentiable, concrete_value, strip_tracers, primal_value

_INF = float("inf")


def is_const(v: Any, c: float) -> bool:
    """``v`` is the Python number ``c`` (the default loc/scale: the shift or stretch is skipped)."""
    return type(v) in (int, float) and v == c


def require(dist: str, name: str, value: Any, ok: Callable, what: str) -> None:
    """Raise ``ValueError`` naming ``dist``'s parameter ``name`` unless ``ok(value)`` holds for
    every element (NaN fails every test)."""
    v = strip_tracers(value)
    good = ok(v)
    if not np.all(good):
        vals, oks = np.broadcast_arrays(np.asarray(concrete_value(value)), np.asarray(concrete_value(good), bool))
        bad = vals[~oks]
        shown = (repr(float(bad[0])) if bad.size == 1
                 else np.array2string(bad[:5], precision=6, separator=", "))
        more = f" ({bad.size} values outside the domain)" if bad.size > 5 else ""
        raise ValueError(f"{dist}: {name} must be {what}; got {name} = {shown}{more}")


positive = (lambda v: v > 0, "> 0")
nonnegative = (lambda v: v >= 0, ">= 0")
probability = (lambda v: (v >= 0) & (v <= 1), "in [0, 1]")
count = (lambda v: (v >= 0) & (v == np.floor(v)), "a non-negative integer")


def within(z: Any, lo: float, hi: float, f: Callable, below: Any, above: Any, safe: float,
           hi_arr: Any = None) -> Any:
    """``f(z)`` on lo ≤ z ≤ hi, ``below``/``above`` outside; NaN stays NaN.

    The double-``where`` trick: outside the support ``f`` sees ``safe`` instead of z, so its
    (unused) branch never produces the NaN or ∞ that would poison a gradient. When every point is
    inside (the common case) no mask is built (a formula choice on the values: a guard under jit).
    ``hi_arr``: an upper bound that is an array (binom's n) instead of the number ``hi``.
    """
    upper = hi if hi_arr is None else hi_arr
    pz = strip_tracers(z)
    pu = strip_tracers(upper)
    out_lo = pz < lo if lo > -_INF else False
    out_hi = pz > pu if (hi_arr is not None or hi < _INF) else False
    outside = out_lo | out_hi
    if not np.any(outside):
        return f(z)
    rz, ru = primal_value(z), primal_value(upper)
    m_lo = rz < lo if lo > -_INF else np.zeros(np.shape(rz), bool)
    m_hi = rz > ru if (hi_arr is not None or hi < _INF) else np.zeros(np.shape(rz), bool)
    inside = ~(m_lo | m_hi)
    val = f(E.where(inside, z, safe))
    return E.where(m_lo, below, E.where(m_hi, above, val))


def log_prob(p: Any, complement: Callable) -> Any:
    """log p, as log1p(−(1 − p)) where p > ½ (``complement()`` gives 1 − p, computed directly):
    log of a probability near 1 keeps the digits that 1 − p carries."""
    pp = strip_tracers(p)
    hi = pp > 0.5
    if not np.any(hi):
        return E.log(p)
    c = complement()
    if np.all(hi):
        return E.log1p(-c)
    rp = primal_value(p)
    return E.where(rp > 0.5, E.log1p(-E.where(rp > 0.5, c, 0.0)), E.log(E.where(rp > 0.5, 1.0, p)))


class rv_generic:
    """A distribution with scipy's calling conventions: shape parameters first (positional or by
    name), then ``loc`` (and ``scale`` for continuous ones); ``dist(*params)`` freezes them."""

    name: str = ""
    shapes: tuple = ()
    has_scale: bool = True

    def _names(self) -> tuple:
        return self.shapes + (("loc", "scale") if self.has_scale else ("loc",))

    def _parse(self, method: str, args: tuple, kwds: dict) -> dict:
        names = self._names()
        if len(args) > len(names):
            raise TypeError(f"{self.name}.{method}() takes at most {len(names)} parameters "
                            f"({', '.join(names)}), got {len(args)}")
        vals = dict(zip(names, args))
        for k, v in kwds.items():
            if k not in names:
                raise TypeError(f"{self.name}.{method}() got an unexpected keyword argument {k!r} "
                                f"(parameters: {', '.join(names)})")
            if k in vals:
                raise TypeError(f"{self.name}.{method}() got multiple values for {k!r}")
            vals[k] = v
        for k in self.shapes:
            if k not in vals:
                raise TypeError(f"{self.name}.{method}() missing the shape parameter {k!r}")
        vals.setdefault("loc", 0.0)
        if self.has_scale:
            vals.setdefault("scale", 1.0)
            if not is_const(vals["scale"], 1.0):
                require(self.name, "scale", vals["scale"], *positive)
        self._check(**{k: vals[k] for k in self.shapes})
        return vals

    def _check(self, **shapes) -> None:
        """Raise ValueError for shape parameters outside their domain (each distribution's own)."""

    def __call__(self, *args, **kwds) -> "rv_frozen":
        return rv_frozen(self, args, kwds)

    def rvs(self, *args, size=None, random_state=None, **kwds):
        """Samples from ``scipy.stats`` (plain numbers, not differentiated)."""
        import scipy.stats
        vals = self._parse("rvs", args, kwds)
        return getattr(scipy.stats, self.name).rvs(
            **{k: np.asarray(concrete_value(v)) for k, v in vals.items()}, size=size, random_state=random_state)

    def _scipy_method(self, method: str, x, vals: dict):
        """``scipy.stats.<name>.<method>`` on the numbers: for piecewise-constant results
        (discrete ppf/isf), whose derivative is zero; vmap and jit record it like floor."""
        import scipy.stats
        names = list(vals)
        fn = getattr(getattr(scipy.stats, self.name), method)
        call = nondifferentiable(lambda x, *p: fn(x, **dict(zip(names, p))),
                                 name=f"{self.name}.{method}", kind="elementwise")
        return call(x, *[vals[k] for k in names])

    def __repr__(self) -> str:
        return f"<nnmath.scipy.stats.{self.name}>"


class rv_frozen:
    """A distribution with its parameters fixed: ``norm(loc, scale).logpdf(x)``. The parameters
    may be traced values; derivatives flow to them as to the unfrozen calls."""

    def __init__(self, dist: rv_generic, args: tuple, kwds: dict):
        self.dist = dist
        self.kwds = dist._parse("freeze", args, kwds)

    def __getattr__(self, method: str):
        if method.startswith("_") or not hasattr(self.dist, method):
            raise AttributeError(f"frozen {self.dist.name} has no method {method!r}")
        fn = getattr(self.dist, method)
        return lambda *a, **k: fn(*a, **self.kwds, **k)

    def __repr__(self) -> str:
        return f"<frozen nnmath.scipy.stats.{self.dist.name}>"
