"""The eigendecomposition of a general (non-symmetric) matrix: ``linalg.eig`` and ``eigvals``.

Vocabulary as in :mod:`nnmath.numpy._linalg`: ``g`` = (λ̄, V̄), ``t`` = Ȧ, ``ans`` = (λ, V);
Aᵀ swaps the last two axes (no conjugate), ∘ is the elementwise product.

A V = V diag(λ), with LAPACK's normalisation of each eigenvector (column) vⱼ: ‖vⱼ‖₂ = 1 and
its largest-magnitude component v_{kⱼ j} real. For distinct eigenvalues (Giles 2008,
"Eigenvalues and eigenvectors"; JAX's ``eig`` JVP; Boeddeker et al. 2017):

    P = V⁻¹ Ȧ V,   Fᵢⱼ = 1/(λⱼ − λᵢ) (0 on the diagonal and where two λ are equal)
    λ̇ = diag(P)
    V̇ = U + V diag(c),   U = V (F ∘ P),
    cⱼ = −Re(vⱼᴴ uⱼ) − i Im(u_{kⱼ j}) / v_{kⱼ j}      (keeps both normalisation constraints)

The VJP is the transpose of this map under the pairing Re Σ X ∘ Y of JAX's complex convention:

    sⱼ = Σᵢ V̄ᵢⱼ Vᵢⱼ,    Ū = V̄ − conj(V) diag(Re s) − i M diag(Im s / v_k)   (M: 1 at (kⱼ, j))
    P̄ = diag(λ̄) + F ∘ (Vᵀ Ū),        Ā = V⁻ᵀ P̄ Vᵀ      (Re Ā for a real A)

The map A ↦ λ is holomorphic (λ̄ alone gives Ā = V⁻ᵀ diag(λ̄) Vᵀ); V is not, because of the
normalisation. numpy returns real λ and V when every eigenvalue of a real A is real, and complex
ones otherwise; the rules hold in both cases. Repeated eigenvalues: the eigenvalue derivative
stays right for functions symmetric in the tied values; eigenvector derivatives do not exist
there (the coupling terms are dropped, as for eigh).
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .._core.declare import defprimitive
from .._core.primitive import call_plain, needs_rules
from ._elementwise import conjugate, imag, real
from ._helpers import primal_value
from ._linalg import _T, _check_matrix, _diag_embed, _inv_gaps, _is_zero, _mm, _solve, diagonal
from ._reductions import sum
from ._shape import _arr, expand_dims

__all__ = ["EigResult", "eig", "eigvals"]


class EigResult(NamedTuple):
    eigenvalues: Any
    eigenvectors: Any


def _eig_impl(a):
    w, v = np.linalg.eig(a)
    return w, v


def _gaps(w):
    """F with Fᵢⱼ = 1/(λⱼ − λᵢ), 0 on the diagonal and for equal eigenvalues."""
    return _inv_gaps(expand_dims(w, -2) - expand_dims(w, -1))


def _largest(v):
    """(M, v_k): the mask of each column's largest-magnitude entry (a constant, LAPACK's choice)
    and that entry, real by LAPACK's normalisation."""
    mag = np.abs(primal_value(v))
    k = np.argmax(mag, axis=-2)
    mask = (np.arange(mag.shape[-2])[:, None] == k[..., None, :]).astype(mag.dtype)
    return mask, real(sum(v * mask, axis=-2))


def _eig_jvp(t, ans, a):
    w, v = ans
    p = _solve(v, _mm(t, v))                    # P = V⁻¹ Ȧ V
    dw = diagonal(p)
    u = _mm(v, _gaps(w) * p)                     # U = V (F ∘ P)
    if v.dtype.kind != "c":                      # real λ and V: c = −vᵀu
        c = -sum(v * u, axis=-2)
    else:
        mask, vk = _largest(v)
        c = -real(sum(conjugate(v) * u, axis=-2)) - 1j * imag(sum(mask * u, axis=-2)) / vk
    return dw, u + v * expand_dims(c, -2)


def _eig_vjp(g, ans, a):
    gw, gv = g
    w, v = ans
    pbar = _diag_embed(gw)
    if not _is_zero(gv):
        s = sum(gv * v, axis=-2)
        if v.dtype.kind != "c":
            ubar = gv - v * expand_dims(s, -2)
        else:
            mask, vk = _largest(v)
            ubar = (gv - conjugate(v) * expand_dims(real(s), -2)
                    - 1j * mask * expand_dims(imag(s) / vk, -2))
        pbar = pbar + _gaps(w) * _mm(_T(v), ubar)
    return _solve(_T(v), _mm(pbar, _T(v)))         # Ā = V⁻ᵀ P̄ Vᵀ


# A V = V diag(λ)     Ā = V⁻ᵀ (diag(λ̄) + F ∘ (Vᵀ Ū)) Vᵀ     λ̇ = diag(V⁻¹ Ȧ V),
#                     V̇ = V (F ∘ (V⁻¹ Ȧ V)) + V diag(c)     (Giles 2008; see the module docstring)
_eig = defprimitive("linalg.eig", _eig_impl, vjp=_eig_vjp, jvp=_eig_jvp, batch="leading",
                    saves="ans", multiple_results=True, complex_rules=True)


def eig(a) -> EigResult:
    """``numpy.linalg.eig``: eigenvalues λ and unit right eigenvectors V (columns) of a square
    matrix (or stack), A V = V diag(λ); complex unless every eigenvalue of a real A is real.

    Differentiable for distinct eigenvalues, in both modes and for complex A (see the module
    docstring for the formulas). Eigenvectors are LAPACK's (unit norm, largest component real),
    and their derivative keeps that normalisation, as JAX's does.

    >>> import numpy as np, nnmath as nm, nnmath.numpy as mnp
    >>> A = np.array([[2.0, 1.0], [0.0, 3.0]])
    >>> nm.grad(lambda a: mnp.sum(mnp.linalg.eig(a)[0]))(A)     # Σλ = tr A
    array([[1., 0.],
           [0., 1.]])
    """
    a = _arr(a)
    _check_matrix("eig", a, square=True)
    if not needs_rules(a):
        return EigResult(*call_plain(np.linalg.eig, a, multiple_results=True))
    return EigResult(*_eig(a))


def eigvals(a):
    """``numpy.linalg.eigvals``: the eigenvalues of a square matrix; differentiable for distinct
    eigenvalues (λ̄ ↦ Ā = V⁻ᵀ diag(λ̄) Vᵀ; λ is holomorphic in A)."""
    a = _arr(a)
    _check_matrix("eigvals", a, square=True)
    if not needs_rules(a):
        return call_plain(np.linalg.eigvals, a)
    return _eig(a)[0]
