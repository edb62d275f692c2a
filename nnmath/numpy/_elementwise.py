"""Elementwise primitives: forward, VJP and JVP of each side by side.

Vocabulary: ``g`` = ȳ (output cotangent), ``t`` = ẋ (input tangent), ``y`` = forward output,
⊙ = elementwise product. Broadcasting of binary operations is undone in one place
(``nnmath._core.primitive.fit_cotangent``), never here.

Conventions at kinks and singular points (each tested in tests/test_edges.py):
    abs′(0) = sign(0) = 0;  maximum/minimum split ties equally (½ each);  clip passes the gradient
    on the closed interval [lo, hi] (like PyTorch);  sqrt′(0) = cbrt′(0) = 0 (the convention that
    gives ‖x‖ and sqrt(x²) a zero gradient at 0);  ∂(xʸ)/∂y = 0 at x = 0;  hypot′ = 0 at (0, 0);
    0 · ∞ = 0 in reverse mode (``safe_mul``), so ``where`` never leaks NaN from an untaken branch.

Complex values (JAX's convention): the cotangent z̄ of z is the c with df = Re(c·dz), a pairing
without conjugate. Holomorphic primitives (``holomorphic=True`` / ``complex_rules=True``) keep
their real rules, z̄ = ȳ ⊙ f′(z); the non-holomorphic conj, real, imag, abs, sign and angle have
their own (below); every other primitive is refused on a complex value by the derivative traces
(``nnmath._core.primitive.complex_error``). A cotangent reaching a real input is its real part.
At z = 0, abs′ and sign′ are taken as 0 (as for real x); angle′ at 0 is undefined (NaN).
"""
from __future__ import annotations

import numpy as np

from .._core.declare import defprimitive
from .._core.primitive import Tracer, needs_rules
from ._helpers import (bilinear, elementwise, elementwise2, elementwise_n, linear,
                       nondifferentiable)
from ._helpers import primal_value, safe_mul, strip_tracers

_LN2 = float(np.log(2.0))
_LN10 = float(np.log(10.0))


def _sqrt_deriv(y, x):
    # y > 0 for real x (NaN below 0 gets 0); y ≠ 0 for complex (an order on ℂ means nothing)
    ry = primal_value(y)
    pos = (ry != 0) if ry.dtype.kind == "c" else (ry > 0)
    return where(pos, 0.5 / where(pos, y, 1.0), 0.0)


def _cbrt_deriv(y, x):
    nz = primal_value(y) != 0
    ys = where(nz, y, 1.0)
    return where(nz, 1.0 / (3.0 * ys * ys), 0.0)


def _sinc_deriv(y, x):
    # sinc x = sin(πx)/(πx)    sinc′x = (cos(πx) − sinc x)/x,  sinc′0 = 0
    nz = primal_value(x) != 0
    xs = where(nz, x, 1.0)
    return where(nz, (cos(np.pi * xs) - y) / xs, 0.0)


# ---------------------------------------------------------------------------------------------
# Unary: y = f(x), given as f′ in terms of (y, x).     x̄ = ȳ ⊙ f′(x)    ẏ = ẋ ⊙ f′(x)
# ---------------------------------------------------------------------------------------------
# y = −x                          x̄ = −ȳ  (linear)
negative = linear("negative", np.negative, lambda g, y, x: negative(g), batch="elementwise",
                  complex_rules=True)
# y = eˣ                          f′ = y
exp = elementwise("exp", np.exp, lambda y, x: y, singular=True, holomorphic=True)
# y = 2ˣ                          f′ = y ln 2
exp2 = elementwise("exp2", np.exp2, lambda y, x: y * _LN2, singular=True, holomorphic=True)
# y = eˣ − 1                      f′ = y + 1
expm1 = elementwise("expm1", np.expm1, lambda y, x: y + 1.0, singular=True, holomorphic=True)
# y = ln x                        f′ = 1/x
log = elementwise("log", np.log, lambda y, x: 1.0 / x, singular=True, holomorphic=True)
# y = ln(1 + x)                   f′ = 1/(1 + x)
log1p = elementwise("log1p", np.log1p, lambda y, x: 1.0 / (1.0 + x), singular=True,
                    holomorphic=True)
# y = log₂ x                      f′ = 1/(x ln 2)
log2 = elementwise("log2", np.log2, lambda y, x: 1.0 / (x * _LN2), singular=True, holomorphic=True)
# y = log₁₀ x                     f′ = 1/(x ln 10)
log10 = elementwise("log10", np.log10, lambda y, x: 1.0 / (x * _LN10), singular=True,
                    holomorphic=True)
# y = √x                          f′ = 1/(2y), taken as 0 at x = 0
sqrt = elementwise("sqrt", np.sqrt, _sqrt_deriv, singular=True, holomorphic=True)
# y = ∛x                          f′ = 1/(3y²), taken as 0 at x = 0
cbrt = elementwise("cbrt", np.cbrt, _cbrt_deriv, singular=True)
# y = x²                          f′ = 2x
square = elementwise("square", np.square, lambda y, x: 2.0 * x, singular=True, holomorphic=True)
# y = 1/x                         f′ = −y²
reciprocal = elementwise("reciprocal", np.reciprocal, lambda y, x: -(y * y), singular=True,
                         holomorphic=True)


def _csign(z):
    """z/|z|, 0 at 0 (differentiable: on ℂ the sign is not piecewise constant)."""
    nz = primal_value(z) != 0
    return where(nz, z / where(nz, absolute(z), 1.0), 0.0)


def _abs_vjp(g, y, x):
    if x.dtype.kind == "c":
        return g * conjugate(_csign(x))
    return g * _sign_real(x)


def _abs_jvp(t, y, x):
    if x.dtype.kind == "c":
        return real(conjugate(_csign(x)) * t)
    return t * _sign_real(x)


# y = |x|                         x̄ = ȳ ⊙ sign x              ẋ ↦ ẋ ⊙ sign x   (0 at 0)
# y = |z|                         z̄ = ȳ ⊙ z̄/|z|               ż ↦ Re(z̄ ż)/|z|   (0 at 0)
absolute = defprimitive("absolute", np.absolute, vjp=_abs_vjp, jvp=_abs_jvp, batch="elementwise",
                        saves="args", complex_rules=True)
# y = conj z                      z̄ = conj ȳ  (Re(ȳ·conj dz) = Re(conj ȳ·dz))      ż ↦ conj ż
_conj = linear("conj", np.conjugate, lambda g, y, x: _conj(g), batch="elementwise",
               complex_rules=True)
# y = Re z                        z̄ = ȳ, as complex (fit_cotangent casts)          ż ↦ Re ż
_real = linear("real", np.real, lambda g, y, x: g, batch="elementwise", complex_rules=True)
# y = Im z                        z̄ = −i ȳ  (ȳ·Im dz = Re(−i ȳ·dz))                ż ↦ Im ż
_imag = linear("imag", np.imag, lambda g, y, x: g * -1j, batch="elementwise", complex_rules=True)
# y = sin x                       f′ = cos x
sin = elementwise("sin", np.sin, lambda y, x: cos(x), holomorphic=True)
# y = cos x                       f′ = −sin x
cos = elementwise("cos", np.cos, lambda y, x: negative(sin(x)), holomorphic=True)
# y = tan x                       f′ = 1 + y²
tan = elementwise("tan", np.tan, lambda y, x: 1.0 + y * y, singular=True, holomorphic=True)
# y = arcsin x                    f′ = 1/√(1 − x²)
arcsin = elementwise("arcsin", np.arcsin, lambda y, x: 1.0 / sqrt(1.0 - x * x), singular=True,
                     holomorphic=True)
# y = arccos x                    f′ = −1/√(1 − x²)
arccos = elementwise("arccos", np.arccos, lambda y, x: -1.0 / sqrt(1.0 - x * x), singular=True,
                     holomorphic=True)
# y = arctan x                    f′ = 1/(1 + x²)
arctan = elementwise("arctan", np.arctan, lambda y, x: 1.0 / (1.0 + x * x), holomorphic=True)
# y = sinh x                      f′ = cosh x
sinh = elementwise("sinh", np.sinh, lambda y, x: cosh(x), singular=True, holomorphic=True)
# y = cosh x                      f′ = sinh x
cosh = elementwise("cosh", np.cosh, lambda y, x: sinh(x), singular=True, holomorphic=True)
# y = tanh x                      f′ = 1 − y²
tanh = elementwise("tanh", np.tanh, lambda y, x: 1.0 - y * y, holomorphic=True)
# y = arsinh x                    f′ = 1/√(x² + 1)
arcsinh = elementwise("arcsinh", np.arcsinh, lambda y, x: 1.0 / sqrt(x * x + 1.0), holomorphic=True)
# y = arcosh x                    f′ = 1/√(x² − 1)
arccosh = elementwise("arccosh", np.arccosh, lambda y, x: 1.0 / sqrt(x * x - 1.0), singular=True)
# y = artanh x                    f′ = 1/(1 − x²)
arctanh = elementwise("arctanh", np.arctanh, lambda y, x: 1.0 / (1.0 - x * x), singular=True,
                      holomorphic=True)
# y = sin(πx)/(πx)                f′ = (cos(πx) − y)/x, 0 at 0
sinc = elementwise("sinc", np.sinc, _sinc_deriv)


# Composites (linear: no rules of their own): y = x·π/180 and y = x·180/π, numpy's constants.
def deg2rad(x):
    """``numpy.deg2rad`` (= ``radians``): x·π/180."""
    return multiply(x, np.pi / 180.0) if isinstance(x, Tracer) else np.deg2rad(x)


def rad2deg(x):
    """``numpy.rad2deg`` (= ``degrees``): x·180/π."""
    return multiply(x, 180.0 / np.pi) if isinstance(x, Tracer) else np.rad2deg(x)


# ---------------------------------------------------------------------------------------------
# Binary: y = f(x₁, x₂).   x̄ᵢ = ȳ ⊙ ∂f/∂xᵢ    ẏ = Σᵢ ẋᵢ ⊙ ∂f/∂xᵢ
# ---------------------------------------------------------------------------------------------
# y = a + b  (linear)             ā = ȳ, b̄ = ȳ                ẏ = ȧ + ḃ
add = defprimitive("add", np.add, vjp=(lambda g, y, a, b: g, lambda g, y, a, b: g),
                   jvp=(lambda t, y, a, b: t, lambda t, y, a, b: t), batch="elementwise",
                   saves="none", complex_rules=True)
# y = a − b  (linear)             ā = ȳ, b̄ = −ȳ               ẏ = ȧ − ḃ
subtract = defprimitive("subtract", np.subtract,
                        vjp=(lambda g, y, a, b: g, lambda g, y, a, b: negative(g)),
                        jvp=(lambda t, y, a, b: t, lambda t, y, a, b: negative(t)),
                        batch="elementwise", saves="none", complex_rules=True)
# y = a ⊙ b  (bilinear)           ā = ȳ ⊙ b, b̄ = ȳ ⊙ a        ẏ = ȧ ⊙ b + a ⊙ ḃ
multiply = bilinear("multiply", np.multiply, lambda g, y, a, b: safe_mul(g, b),
                    lambda g, y, a, b: safe_mul(g, a), batch="elementwise", complex_rules=True)
# y = a / b                       ā = ȳ / b, b̄ = −ȳ ⊙ y / b    ẏ = ȧ / b − ḃ ⊙ y / b
# (explicit rather than elementwise2: ȧ / b is one rounding, ȧ ⊙ (1/b) would be two)
divide = defprimitive("divide", np.divide,
                      vjp=(lambda g, y, a, b: safe_mul(g, 1.0 / b),
                           lambda g, y, a, b: safe_mul(g, -y / b)),
                      jvp=(lambda t, y, a, b: t / b, lambda t, y, a, b: -t * y / b),
                      batch="elementwise", complex_rules=True)
true_divide = divide


def _power_dbase(y, a, b):
    # ∂aᵇ/∂a = b·aᵇ⁻¹, taken as 0 at b = 0 for every a, a = 0 included: x⁰ ≡ 1 is constant, so
    # its derivative is 0 there too (as HIPS autograd; JAX's formula gives 0·0⁻¹ = NaN).
    if type(b) is float or type(b) is int:
        return b * power(a, b - 1) if b != 0 else 0.0
    at0 = (primal_value(b) == 0) & (primal_value(a) == 0)
    if not np.any(strip_tracers(at0)):
        return b * power(a, b - 1)
    return where(at0, 0.0, b * power(where(at0, 1.0, a), b - 1))


def _power_dexp(y, a, b):
    # ∂aᵇ/∂b = aᵇ ln a, taken as 0 at a = 0 (the limit for b > 0)
    nz = primal_value(a) != 0
    return where(nz, y * log(where(nz, a, 1.0)), 0.0)


# y = aᵇ                          ∂y/∂a = b aᵇ⁻¹, ∂y/∂b = aᵇ ln a
power = elementwise2("power", np.power, _power_dbase, _power_dexp, singular=True, holomorphic=True)


def _tie_share(a, b, sign):
    """∂max(a, b)/∂a (sign=+1) or ∂min(a, b)/∂a (sign=−1): 1 where a wins, ½ at ties, 0 else."""
    ra, rb = primal_value(a), primal_value(b)
    wins = (ra > rb) if sign > 0 else (ra < rb)
    return wins * 1.0 + (ra == rb) * 0.5


# y = max(a, b)                   ∂y/∂a = [a > b] + ½[a = b]  (ties split equally)
maximum = elementwise2("maximum", np.maximum, lambda y, a, b: _tie_share(a, b, 1),
                       lambda y, a, b: _tie_share(b, a, 1))
# y = min(a, b)                   ∂y/∂a = [a < b] + ½[a = b]
minimum = elementwise2("minimum", np.minimum, lambda y, a, b: _tie_share(a, b, -1),
                       lambda y, a, b: _tie_share(b, a, -1))
# y = atan2(a, b)                 ∂y/∂a = b/(a² + b²), ∂y/∂b = −a/(a² + b²)
arctan2 = elementwise2("arctan2", np.arctan2, lambda y, a, b: b / (a * a + b * b),
                       lambda y, a, b: -a / (a * a + b * b), singular=True)


def _hypot_d(y, a):
    nz = primal_value(y) != 0
    return where(nz, a / where(nz, y, 1.0), 0.0)


# y = √(a² + b²)                  ∂y/∂a = a/y, ∂y/∂b = b/y  (0 at the origin)
hypot = elementwise2("hypot", np.hypot, lambda y, a, b: _hypot_d(y, a),
                     lambda y, a, b: _hypot_d(y, b))
# y = ln(eᵃ + eᵇ)                 ∂y/∂a = e^(a−y), ∂y/∂b = e^(b−y)
logaddexp = elementwise2("logaddexp", np.logaddexp, lambda y, a, b: exp(a - y),
                         lambda y, a, b: exp(b - y))
# y = log₂(2ᵃ + 2ᵇ)               ∂y/∂a = 2^(a−y), ∂y/∂b = 2^(b−y)
logaddexp2 = elementwise2("logaddexp2", np.logaddexp2, lambda y, a, b: exp2(a - y),
                          lambda y, a, b: exp2(b - y))
# y = a − b·⌊a/b⌋                 ā = ȳ, b̄ = −ȳ ⊙ ⌊a/b⌋  (a.e.)
remainder = defprimitive("remainder", np.remainder,
                         vjp=(lambda g, y, a, b: g,
                              lambda g, y, a, b: g * -floor_divide(primal_value(a), primal_value(b))),
                         jvp=(lambda t, y, a, b: t,
                              lambda t, y, a, b: t * -floor_divide(primal_value(a), primal_value(b))),
                         batch="elementwise", saves="args")
mod = remainder

# ---------------------------------------------------------------------------------------------
# Selection
# ---------------------------------------------------------------------------------------------
# y = c ? a : b                   ā = c ? ȳ : 0, b̄ = c ? 0 : ȳ   (exact zeros: see safe_mul)
_where3 = defprimitive("where", np.where,
                       vjp=(None, lambda g, y, c, a, b: _where3(c, g, 0.0),
                            lambda g, y, c, a, b: _where3(c, 0.0, g)),
                       jvp=(None, lambda t, y, c, a, b: _where3(c, t, 0.0),
                            lambda t, y, c, a, b: _where3(c, 0.0, t)),
                       batch="elementwise", saves="args", complex_rules=True)


def where(condition, x=None, y=None):
    """``numpy.where``: with three arguments, select elementwise (differentiable in x and y);
    with one, the indices where ``condition`` holds (non-differentiable)."""
    if x is None and y is None:
        return np.nonzero(primal_value(condition))
    if x is None or y is None:
        raise ValueError("where: either both or neither of x and y must be given")
    return _where3(primal_value(condition), x, y)


def _clip_pass(x, lo, hi):
    rx = primal_value(x)
    return ((rx >= primal_value(lo)) & (rx <= primal_value(hi))).astype(rx.dtype)


def _clip_impl(x, lo, hi):
    return np.clip(x, lo, hi)


# y = min(max(x, lo), hi)         ∂y/∂x = [lo ≤ x ≤ hi] (the gradient passes on the closed
#                                 interval), ∂y/∂lo = [x < lo], ∂y/∂hi = [x > hi]
_clip = elementwise_n("clip", _clip_impl, (lambda y, x, lo, hi: _clip_pass(x, lo, hi),
                                           lambda y, x, lo, hi: less(primal_value(x), primal_value(lo)),
                                           lambda y, x, lo, hi: greater(primal_value(x), primal_value(hi))))


def clip(a, a_min=None, a_max=None):
    """``numpy.clip``; the gradient passes where lo ≤ x ≤ hi (the boundary included)."""
    if a_min is None and a_max is None:
        raise ValueError("clip: at least one of a_min and a_max must be given")
    if a_min is None:
        return _clip(a, -np.inf, a_max)
    if a_max is None:
        return _clip(a, a_min, np.inf)
    return _clip(a, a_min, a_max)


def _astype_impl(x, dtype):
    return np.asarray(x).astype(dtype)


# y = x cast to dtype             x̄ = ȳ cast back (done by fit_cotangent),  ẏ = ẋ cast
#                                 (real → complex: x̄ = Re ȳ;  complex → real, numpy's Re z: z̄ = ȳ)
_astype = linear("astype", _astype_impl, lambda g, y, x, dtype: g, batch="elementwise",
                 complex_rules=True)


def astype(x, dtype):
    """Cast to ``dtype`` (differentiable: the cotangent is cast back)."""
    return _astype(x, dtype=np.dtype(dtype))

# ---------------------------------------------------------------------------------------------
# Piecewise constant or discrete: derivative zero wherever it exists; results are constants.
# ---------------------------------------------------------------------------------------------
_sign_real = nondifferentiable(np.sign, "sign", kind="elementwise")
floor = nondifferentiable(np.floor, kind="elementwise")
ceil = nondifferentiable(np.ceil, kind="elementwise")
trunc = nondifferentiable(np.trunc, kind="elementwise")
fix = nondifferentiable(np.fix, kind="elementwise")
rint = nondifferentiable(np.rint, kind="elementwise")
round = nondifferentiable(np.round, "round", kind="elementwise")
around = round
floor_divide = nondifferentiable(np.floor_divide, kind="elementwise")
heaviside = nondifferentiable(np.heaviside, kind="elementwise")
equal = nondifferentiable(np.equal, kind="elementwise")
not_equal = nondifferentiable(np.not_equal, kind="elementwise")
less = nondifferentiable(np.less, kind="elementwise")
less_equal = nondifferentiable(np.less_equal, kind="elementwise")
greater = nondifferentiable(np.greater, kind="elementwise")
greater_equal = nondifferentiable(np.greater_equal, kind="elementwise")
logical_and = nondifferentiable(np.logical_and, kind="elementwise")
logical_or = nondifferentiable(np.logical_or, kind="elementwise")
logical_not = nondifferentiable(np.logical_not, kind="elementwise")
logical_xor = nondifferentiable(np.logical_xor, kind="elementwise")
bitwise_and = nondifferentiable(np.bitwise_and, kind="elementwise")
bitwise_or = nondifferentiable(np.bitwise_or, kind="elementwise")
bitwise_xor = nondifferentiable(np.bitwise_xor, kind="elementwise")
invert = nondifferentiable(np.invert, kind="elementwise")
isnan = nondifferentiable(np.isnan, kind="elementwise")
isinf = nondifferentiable(np.isinf, kind="elementwise")
isfinite = nondifferentiable(np.isfinite, kind="elementwise")
signbit = nondifferentiable(np.signbit, kind="elementwise")
isclose = nondifferentiable(np.isclose, kind="elementwise")
allclose = nondifferentiable(np.allclose)
array_equal = nondifferentiable(np.array_equal)

abs = absolute
fabs = absolute


def positive(x):
    """``numpy.positive``: the identity."""
    return x


def float_power(a, b):
    """``numpy.float_power``: aᵇ computed in float64 (complex128 for complex input)."""
    if not hasattr(a, "dtype"):
        return power(a, b)
    return power(astype(a, np.complex128 if a.dtype.kind == "c" else np.float64), b)


def _is_complex(x) -> bool:
    return np.iscomplexobj(x) if not isinstance(x, Tracer) else x.dtype.kind == "c"


def sign(x):
    """``numpy.sign``: piecewise constant (derivative 0) for real x; z/|z| for complex z, which
    varies on the circle and is differentiated as such (0 at 0)."""
    if needs_rules(x) and x.dtype.kind == "c":
        return _csign(x)
    return _sign_real(x)


def conjugate(x):
    """``numpy.conjugate``: z̄ (the identity on real input)."""
    if _is_complex(x):
        return _conj(x)
    return x if isinstance(x, Tracer) else np.conjugate(x)


conj = conjugate


def real(val):
    """``numpy.real``: Re z (the identity on real input)."""
    if _is_complex(val):
        return _real(val)
    return val if isinstance(val, Tracer) else np.real(val)


def imag(val):
    """``numpy.imag``: Im z (a constant 0 on real input)."""
    if _is_complex(val):
        return _imag(val)
    return np.zeros(val.shape, val.dtype) if isinstance(val, Tracer) else np.imag(val)


_angle_real = nondifferentiable(np.angle, "angle", kind="elementwise")


def angle(z, deg=False):
    """``numpy.angle``: arg z = atan2(Im z, Re z), in degrees if ``deg`` (piecewise constant, 0
    or π, on real input; its derivative at z = 0 is undefined)."""
    if needs_rules(z) and z.dtype.kind == "c":
        a = arctan2(_imag(z), _real(z))
        return a * (180.0 / np.pi) if deg else a
    return _angle_real(z, deg=deg)
