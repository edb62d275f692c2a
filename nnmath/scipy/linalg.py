"""``nnmath.scipy.linalg``: differentiable matrix functions (scipy.linalg's names).

Vocabulary: ``g`` = Ȳ (output cotangent), ``t`` = Ȧ (input tangent), ``y`` = f(A).

Primary matrix functions f (expm, logm, sqrtm) share one rule, from the block-triangular identity
(Higham, *Functions of Matrices*, 2008, Thm. 3.6; Mathias 1996):

    f([[A, E], [0, A]]) = [[f(A), L_f(A, E)], [0, f(A)]]

where L_f(A, E) is the Fréchet derivative of f at A in the direction E. So

    JVP   Ẏ = L_f(A, Ȧ)              = the top-right block of f([[A, Ȧ], [0, A]])
    VJP   Ā = L_f(Aᵀ, Ȳ)             = the top-right block of f([[Aᵀ, Ȳ], [0, Aᵀ]])

(the adjoint of L_f(A, ·) under ⟨X, Y⟩ = Σ XᵢⱼYᵢⱼ is L_f(Aᵀ, ·) for a power series with real
coefficients). The rules call f itself, so every order follows. JAX's pairing for complex values
has no conjugate, so the same rules hold for complex A (``complex_rules=True``). logm and sqrtm
of a real matrix with negative eigenvalues are complex, as in scipy; the cotangent reaching the
real input is then its real part. Cost: one f of a 2n × 2n matrix per derivative.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg as _sl

from .._core.declare import defprimitive
from .._core.primitive import needs_rules
from ..numpy import _linalg as _nla
from ..numpy._helpers import primal_value
from ..numpy._shape import concatenate, swapaxes, tril, triu

__all__ = ["expm", "logm", "sqrtm", "solve_triangular"]


def _per_matrix(f):
    """``f`` of one matrix applied over leading axes, in the input's precision (scipy computes
    logm and sqrtm of float32 in float64)."""
    def impl(a):
        a = np.asarray(a)
        flat = a.reshape((-1,) + a.shape[-2:])
        outs = [np.asarray(f(m)) for m in flat]
        if not outs:
            return np.zeros(a.shape, a.dtype)
        kind = "c" if any(o.dtype.kind == "c" for o in outs) else a.dtype.kind
        dtype = np.result_type(a.dtype, np.complex64) if kind == "c" else (
            a.dtype if a.dtype.kind == "f" else np.float64)
        return np.stack([o.astype(dtype, copy=False) for o in outs]).reshape(a.shape)
    impl.__name__ = f.__name__
    return impl


def _block(a, e):
    """[[A, E], [0, A]] over the last two axes."""
    z = np.zeros(a.shape, np.result_type(a.dtype, e.dtype))
    return concatenate([concatenate([a, e], axis=-1), concatenate([z, a], axis=-1)], axis=-2)


def _frechet(f, a, e):
    n = a.shape[-1]
    return f(_block(a, e))[..., :n, n:]


def _matrix_function(name: str, impl):
    # Y = f(A)      Ā = L_f(Aᵀ, Ȳ)      Ẏ = L_f(A, Ȧ)      (L_f the Fréchet derivative, from the
    #                                                        block matrix f([[A, E], [0, A]]))
    p = defprimitive(name, impl, vjp=lambda g, y, a: _frechet(p, swapaxes(a, -1, -2), g),
                     jvp=lambda t, y, a: _frechet(p, a, t), batch="leading", saves="args",
                     complex_rules=True)
    return p


def _logm(a):
    return _sl.logm(a)


def _sqrtm(a):
    return _sl.sqrtm(a)


_expm = _matrix_function("scipy.linalg.expm", _sl.expm)           # y = eᴬ = Σ Aᵏ/k!
_logm_p = _matrix_function("scipy.linalg.logm", _per_matrix(_logm))      # y = log A (principal)
_sqrtm_p = _matrix_function("scipy.linalg.sqrtm", _per_matrix(_sqrtm))   # y = A^½ (principal)


def _square(fname, a):
    a = a if hasattr(a, "ndim") else np.asarray(a)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{fname}: expected a square matrix (or a stack of them), got shape "
                         f"{a.shape}")
    return a


def expm(A):
    """``scipy.linalg.expm``: the matrix exponential (Padé with scaling and squaring, scipy's),
    differentiable to any order through its Fréchet derivative (module docstring)."""
    return _expm(_square("expm", A))


def logm(A, disp=True):
    """``scipy.linalg.logm``: the principal matrix logarithm, differentiable (module docstring)."""
    return _logm_p(_square("logm", A))


def sqrtm(A, disp=True, blocksize=64):
    """``scipy.linalg.sqrtm``: the principal matrix square root, differentiable (module
    docstring); the derivative is singular where A has a zero eigenvalue."""
    return _sqrtm_p(_square("sqrtm", A))


def solve_triangular(a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False,
                     check_finite=True):
    """``scipy.linalg.solve_triangular``: x with op(T) x = b, T the ``lower`` or upper triangle of
    ``a`` (unit diagonal if asked), op = identity, transpose (1/'T') or conjugate transpose
    (2/'C'). Plain arrays go to scipy; traced ones solve with the triangle (``linalg.solve``),
    so only the triangle that is read gets a cotangent."""
    if not (needs_rules(a) or needs_rules(b)):
        return _sl.solve_triangular(primal_value(a), primal_value(b), trans=trans, lower=lower,
                                    unit_diagonal=unit_diagonal, check_finite=check_finite)
    a = a if hasattr(a, "ndim") else np.asarray(a)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"solve_triangular: expected a square matrix, got shape {a.shape}")
    t = tril(a) if lower else triu(a)
    if unit_diagonal:
        n = a.shape[0]
        t = (tril(a, -1) if lower else triu(a, 1)) + np.eye(n, dtype=a.dtype)
    if trans in (1, "T"):
        t = swapaxes(t, 0, 1)
    elif trans in (2, "C"):
        from ..numpy._elementwise import conj
        t = conj(swapaxes(t, 0, 1))
    elif trans not in (0, "N"):
        raise ValueError(f"solve_triangular: trans must be 0/'N', 1/'T' or 2/'C', got {trans!r}")
    return _nla.solve(t, b)
