"""Linear algebra: numpy.linalg's functions with their derivative rules.

Vocabulary: ``g`` = Ȳ (output cotangent), ``t`` = Ẋ (input tangent), ``y``/``ans`` = the forward
output; Aᵀ = swap of the last two axes, ∘ = elementwise product, sym(X) = ½(X + Xᵀ),
diag(v) = the matrix with v on its diagonal. Every function works on stacks of matrices (leading
batch axes) as numpy does; broadcast batch axes are summed back by ``fit_cotangent``, never here.

Primitives (a closed set, chosen where a composite would be unstable or slow): inv, det, slogdet,
solve, cholesky, eigh, svd, qr, pinv; eig (general matrices, complex) is in :mod:`._eig`.
Everything else (norm, matrix_power, multi_dot, cond, lstsq, …) is a composite of them and of
``nnmath.numpy``, in :mod:`._linalg_composites`. Rules are written with that
differentiable namespace, so they are themselves differentiable (Hessians for free).

Conventions (each tested in tests/test_linalg.py):
    * Symmetric input (cholesky, eigh, eigvalsh): numpy reads one triangle; the derivative is that
      of a function of a *symmetric* matrix, as in JAX: tangents enter as sym(Ȧ) and cotangents
      come out symmetric. Differentiate f(sym(X)) to get the derivative for a general X.
    * Degenerate spectra (eigh, svd): eigenvector / singular-vector derivatives contain
      1/(λⱼ − λᵢ) (resp. 1/(sⱼ² − sᵢ²)), undefined when two values are equal. Those terms are taken
      as 0 for exactly equal values, so derivatives stay finite. Derivatives through the eigen /
      singular values alone are then exact for any function symmetric in the tied values (Σλ²,
      the nuclear norm, …); derivatives through the vectors drop the coupling inside a repeated
      eigenspace, where no derivative exists. The 1/s terms of a non-square svd are 0 where s = 0.
    * Signs of eigen/singular vectors are those LAPACK returns; differentiate quantities that do
      not depend on them (eigenvalues, V diag(f(λ)) Vᵀ, U diag(s) Vᵀ, …).
    * ‖x‖ at x = 0 has gradient 0 for every order (sqrt′(0) = 0, abs′(0) = 0 in nnmath); the
      spectral and nuclear norms give a subgradient where singular values tie.
    * Complex matrices (JAX's convention, Ā paired as Re(Ā ∘ dA) summed, no conjugate): inv, solve
      and det are holomorphic, so their rules hold as written, with plain transposes Aᵀ; slogdet's
      sign e^{iθ} varies (ṡ = i s Im tr(A⁻¹Ȧ)) and has its own term. cholesky and eigh take
      Hermitian A (tangents enter as herm(Ȧ) = ½(Ȧ + Ȧᴴ); eigh's eigenvector derivative has no
      phase change, diag(Vᴴ V̇) = 0, as JAX's); svd and qr follow JAX's complex JVPs (the phase
      of U's columns, and a real diagonal of R, as LAPACK returns), their VJPs are the exact
      transposes, as is pinv's (Ȧᴴ for Ȧᵀ); eig (general A) is in :mod:`._eig`. Norms of
      complex x are real and are built on |x|.
    * Singular matrices: numpy's LinAlgError passes through (from the forward pass of inv and solve,
      and from the derivative of det and slogdet, which uses A⁻¹).

References:
    K. B. Petersen, M. S. Pedersen, The Matrix Cookbook (2012): "Cookbook eq. n".
    M. Giles, An extended collection of matrix derivative results for forward and reverse mode
    algorithmic differentiation (2008): "Giles 2008, <section title>".
    I. Murray, Differentiation of the Cholesky decomposition (2016).
    J. Townsend, Differentiating the singular value decomposition (2016).
    S. Walter, L. Lehmann, Algorithmic differentiation of linear algebra functions with application
    in optimum experimental design (2010); M. Seeger et al., Auto-differentiating linear algebra
    (2017); H.-J. Liao et al., Differentiable programming tensor networks (2019) — for QR.
    G. Golub, V. Pereyra, The differentiation of pseudo-inverses (1973).
"""
from __future__ import annotations

import builtins
from typing import Any, NamedTuple

import numpy as np

from .._core.batching import align, logical_ndim
from .._core.declare import defprimitive
from .._core.primitive import call_plain, is_tracer, needs_rules
from ._elementwise import astype, conjugate, imag, real, where
from ._helpers import nondifferentiable
from ._helpers import primal_value
from ._products import _matmul as _mm
from ._products import matmul, outer as _outer, tensordot
from ._reductions import sum
from ._shape import _arr, concatenate, expand_dims, matrix_transpose, reshape, tril
from ._shape import diagonal as _diagonal

LinAlgError = np.linalg.LinAlgError


class SlogdetResult(NamedTuple):
    sign: Any
    logabsdet: Any


class EighResult(NamedTuple):
    eigenvalues: Any
    eigenvectors: Any


class SVDResult(NamedTuple):
    U: Any
    S: Any
    Vh: Any


class QRResult(NamedTuple):
    Q: Any
    R: Any


class LstsqResult(NamedTuple):
    x: Any
    residuals: Any
    rank: Any
    singular_values: Any


# ---------------------------------------------------------------------------------------------
# Helpers (all differentiable)
# ---------------------------------------------------------------------------------------------


_T = matrix_transpose       # Aᵀ of every matrix in a stack


def _sym(x):
    return 0.5 * (x + _T(x))


def _eye(n: int, like) -> np.ndarray:
    return np.eye(n, dtype=like.dtype)


def _diag_embed(v):
    """diag(v) for a stack of vectors v: (…, n) → (…, n, n)."""
    return expand_dims(v, -1) * _eye(v.shape[-1], v)


def _per_matrix(c):
    """A scalar per matrix (…,) reshaped to (…, 1, 1), so that it scales whole matrices."""
    return expand_dims(c, (-2, -1))


def _rsolve(x, r):
    """X R⁻¹ = (R⁻ᵀ Xᵀ)ᵀ."""
    return _T(_solve(_T(r), _T(x)))


def _inv_gaps(d):
    """1/d where d ≠ 0, and 0 where d = 0 exactly (the diagonal and repeated eigen/singular values).
    The double ``where`` keeps both the value and every derivative finite."""
    nz = primal_value(d) != 0
    return where(nz, 1.0 / where(nz, d, 1.0), 0.0)


def _is_zero(g) -> bool:
    """A cotangent that is a plain all-zero array (an output nobody used): its terms can be skipped.
    A traced zero is kept, since its own derivative need not be zero."""
    return not is_tracer(g) and not np.any(g)


def _check_matrix(fname: str, a, square: bool = False, argname: str = "a") -> None:
    if a.ndim < 2:
        raise LinAlgError(f"{fname}: {argname} must be a matrix or a stack of matrices (ndim ≥ 2), "
                          f"got shape {a.shape}")
    if square and a.shape[-1] != a.shape[-2]:
        raise LinAlgError(f"{fname}: {argname} must be square in its last two axes, got shape "
                          f"{a.shape}")


# ---------------------------------------------------------------------------------------------
# Primitives: forward, VJP and JVP of each side by side
# ---------------------------------------------------------------------------------------------

# Y = A⁻¹                 Ā = −Yᵀ Ȳ Yᵀ      Ẏ = −Y Ȧ Y       (Cookbook eq. 40; Giles 2008, Inverse)
_inv = defprimitive("linalg.inv", np.linalg.inv,
                    vjp=lambda g, y, a: -_mm(_T(y), _mm(g, _T(y))),
                    jvp=lambda t, y, a: -_mm(y, _mm(t, y)), batch="leading", complex_rules=True)

# X = A⁻¹ B  (B a stack of matrices)     B̄ = A⁻ᵀ X̄,  Ā = −B̄ Xᵀ      Ẋ = A⁻¹(Ḃ − Ȧ X)
#                                        (Giles 2008, Matrix inverse product)
#                                        vmap: the batch axes of A and B broadcast as
#                                        elementwise operands do
_solve = defprimitive("linalg.solve", np.linalg.solve,
                      vjp=(lambda g, x, a, b: -_mm(_solve(_T(a), g), _T(x)),
                           lambda g, x, a, b: _solve(_T(a), g)),
                      jvp=(lambda t, x, a, b: -_solve(a, _mm(t, x)),
                           lambda t, x, a, b: _solve(a, t)),
                      batch=lambda size, vals, bat: _solve(*align(vals, bat, logical_ndim(vals, bat))),
                      complex_rules=True)

# y = det A                       Ā = ȳ y A⁻ᵀ       ẏ = y tr(A⁻¹ Ȧ)   (Cookbook eqs. 42, 49)
_det = defprimitive("linalg.det", np.linalg.det,
                    vjp=lambda g, y, a: _per_matrix(g * y) * _T(_inv(a)),
                    jvp=lambda t, y, a: y * trace(_solve(a, t)), batch="leading",
                    complex_rules=True)


def _slogdet_impl(a):
    sign, logabsdet = np.linalg.slogdet(a)
    return sign, logabsdet


def _slogdet_vjp(g, ans, a):
    gs, gy = g
    if a.dtype.kind == "c":
        gy = gy + 1j * imag(gs * ans[0])
    return _per_matrix(gy) * _T(_inv(a))


def _slogdet_jvp(t, ans, a):
    tau = trace(_solve(a, t))
    if a.dtype.kind == "c":
        return ans[0] * (tau - real(tau)), real(tau)
    return np.zeros(ans[0].shape, ans[0].dtype), tau


# (s, y) = (sign det A, ln|det A|), τ = tr(A⁻¹ Ȧ)        (Cookbook eqs. 43, 57)
#   real A:     Ā = ȳ A⁻ᵀ                     ẏ = τ,     ṡ = 0
#   complex A:  Ā = (ȳ + i Im(s̄̄ s)) A⁻ᵀ      ẏ = Re τ,  ṡ = i s Im τ    (s̄̄ = the cotangent of s)
_slogdet = defprimitive("linalg.slogdet", _slogdet_impl, vjp=_slogdet_vjp, jvp=_slogdet_jvp,
                        batch="leading", multiple_results=True, complex_rules=True)


def _phi(x):
    """Φ(X): the lower triangle of X with its diagonal halved (Murray 2016)."""
    return tril(x) - 0.5 * _diag_embed(diagonal(x))


def _H(x):
    """Xᴴ = conj(X)ᵀ (Xᵀ for real X)."""
    return _T(conjugate(x)) if x.dtype.kind == "c" else _T(x)


def _herm(x):
    """herm(X) = ½(X + Xᴴ): sym for real X."""
    return 0.5 * (x + _H(x)) if x.dtype.kind == "c" else _sym(x)


def _cholesky_vjp(g, l, a):
    p = _phi(_mm(_T(l), g))
    if l.dtype.kind == "c":     # S̄ = L⁻ᵀ M̄ conj(L)⁻¹ (herm(Xᵀ) ≠ herm(X) for complex X)
        return _herm(_solve(_T(l), _T(_solve(_H(l), _T(p)))))
    return _sym(_solve(_T(l), _T(_solve(_T(l), p))))


def _cholesky_jvp(t, l, a):
    x = _solve(l, _herm(t))
    return _mm(l, _phi(_solve(l, _H(x))))


# L = chol A (lower)              Ā = sym(L⁻ᵀ Φ(Lᵀ L̄) L⁻¹)      L̇ = L Φ(L⁻¹ sym(Ȧ) L⁻ᵀ)
#                                 (Murray 2016 §3; Giles 2008, Cholesky factorisation)
# Hermitian A = L Lᴴ: L̇ = L Φ(L⁻¹ herm(Ȧ) L⁻ᴴ); its transpose under Re Σ X∘Y (JAX's pairing)
#                                 Ā = herm(L⁻ᵀ Φ(Lᵀ L̄) conj(L)⁻¹)
_cholesky = defprimitive("linalg.cholesky", np.linalg.cholesky, vjp=_cholesky_vjp,
                         jvp=_cholesky_jvp, batch="leading", complex_rules=True)


def _eigh_impl(a, UPLO):
    w, v = np.linalg.eigh(a, UPLO=UPLO)
    return w, v


def _eigh_gaps(w):
    """F with Fᵢⱼ = 1/(λⱼ − λᵢ), and 0 on the diagonal and for equal eigenvalues."""
    return _inv_gaps(expand_dims(w, -2) - expand_dims(w, -1))


def _eigh_vjp(g, ans, a, UPLO):
    gw, gv = g
    w, v = ans
    inner = _diag_embed(gw)
    if not _is_zero(gv):
        inner = inner + _eigh_gaps(w) * _mm(_T(v), gv)
    if v.dtype.kind == "c":     # S̄ = conj(V) K̄ Vᵀ, the transpose of K = Vᴴ Ṡ V
        return _herm(_mm(conjugate(v), _mm(inner, _T(v))))
    return _sym(_mm(v, _mm(inner, _T(v))))


def _eigh_jvp(t, ans, a, UPLO):
    w, v = ans
    m = _mm(_H(v), _mm(_herm(t), v))
    dw = real(diagonal(m)) if m.dtype.kind == "c" else diagonal(m)
    return dw, _mm(v, _eigh_gaps(w) * m)


# A = V diag(λ) Vᵀ (ascending λ)  Ā = sym(V (diag(λ̄) + F ∘ (Vᵀ V̄)) Vᵀ)    λ̇ = diag(Vᵀ Ȧ V),
# Fᵢⱼ = 1/(λⱼ − λᵢ), Ȧ ↦ sym(Ȧ)   V̇ = V (F ∘ (Vᵀ Ȧ V))   (Giles 2008, Eigenvalues and eigenvectors)
# Hermitian A = V diag(λ) Vᴴ (real λ): K = Vᴴ herm(Ȧ) V, λ̇ = Re diag K, V̇ = V (F ∘ K) (no phase
# change: diag(Vᴴ V̇) = 0, JAX's gauge); transpose: Ā = herm(conj(V) (diag(λ̄) + F ∘ (Vᵀ V̄)) Vᵀ)
_eigh = defprimitive("linalg.eigh", _eigh_impl, vjp=_eigh_vjp, jvp=_eigh_jvp, batch="leading",
                     multiple_results=True, complex_rules=True)


def _svd_impl(a, full_matrices, hermitian):
    u, s, vh = np.linalg.svd(a, full_matrices=full_matrices, hermitian=hermitian)
    return u, s, vh


def _svd_parts(ans, a, full_matrices):
    m, n = a.shape[-2:]
    if full_matrices and m != n:
        raise NotImplementedError(
            f"svd: derivatives need full_matrices=False for a non-square matrix (shape {a.shape}): "
            f"the extra singular vectors are not determined by A")
    u, s, vh = ans
    s2 = s * s
    f = _inv_gaps(expand_dims(s2, -2) - expand_dims(s2, -1))    # Fᵢⱼ = 1/(sⱼ² − sᵢ²)
    s_inv = _inv_gaps(s)                                          # 1/s, 0 where s = 0
    return u, s, _H(vh), f, s_inv, m, n


def _svd_vjp(g, ans, a, full_matrices, hermitian):
    if ans[0].dtype.kind == "c":
        return _svd_vjp_complex(g, ans, a, full_matrices)
    gu, gs, gvh = g
    u, s, v, f, s_inv, m, n = _svd_parts(ans, a, full_matrices)
    inner = _diag_embed(gs)
    rest = None
    if not _is_zero(gu):
        utgu = _mm(_T(u), gu)
        inner = inner + f * (utgu - _T(utgu)) * expand_dims(s, -2)
        if m > n:
            rest = _mm((gu - _mm(u, utgu)) * expand_dims(s_inv, -2), _T(v))
    if not _is_zero(gvh):
        gv = _T(gvh)
        vtgv = _mm(_T(v), gv)
        inner = inner + expand_dims(s, -1) * (f * (vtgv - _T(vtgv)))
        if n > m:
            r = _mm(u, _T((gv - _mm(v, vtgv)) * expand_dims(s_inv, -2)))
            rest = r if rest is None else rest + r
    out = _mm(u, _mm(inner, _T(v)))
    return out if rest is None else out + rest


def _svd_vjp_complex(g, ans, a, full_matrices):
    # the transpose of _svd_jvp's complex map under Re Σ X∘Y (derivation in the comment below)
    gu, gs, gvh = g
    u, s, v, f, s_inv, m, n = _svd_parts(ans, a, full_matrices)
    inner = _diag_embed(astype(gs, u.dtype))
    rest = None
    cu = conjugate(u)
    if not _is_zero(gu):
        utgu = _mm(_T(u), gu)
        inner = (inner + f * (utgu - _H(utgu)) * expand_dims(s, -2)
                 + _diag_embed(1j * imag(diagonal(utgu)) * s_inv))
        if m > n:
            rest = _mm((gu - _mm(cu, utgu)) * expand_dims(s_inv, -2), _T(v))
    if not _is_zero(gvh):
        gv = _H(gvh)
        vtgv = _mm(_T(v), gv)
        inner = inner + expand_dims(s, -1) * (f * (vtgv - _H(vtgv)))
        if n > m:
            r = _mm(cu, _H((gv - _mm(conjugate(v), vtgv)) * expand_dims(s_inv, -2)))
            rest = r if rest is None else rest + r
    out = _mm(cu, _mm(inner, _T(v)))
    return out if rest is None else out + rest


def _svd_jvp(t, ans, a, full_matrices, hermitian):
    if ans[0].dtype.kind == "c":
        return _svd_jvp_complex(t, ans, a, full_matrices)
    u, s, v, f, s_inv, m, n = _svd_parts(ans, a, full_matrices)
    ds = _mm(_T(u), _mm(t, v))
    dss = ds * expand_dims(s, -2)                                 # dS S
    sds = expand_dims(s, -1) * ds                                 # S dS
    du = _mm(u, f * (dss + _T(dss)))
    dv = _mm(v, f * (sds + _T(sds)))
    if m > n:
        tv = _mm(t, v)
        du = du + (tv - _mm(u, _mm(_T(u), tv))) * expand_dims(s_inv, -2)
    if n > m:
        tu = _mm(_T(t), u)
        dv = dv + (tu - _mm(v, _mm(_T(v), tu))) * expand_dims(s_inv, -2)
    return du, diagonal(ds), _T(dv)


def _svd_jvp_complex(t, ans, a, full_matrices):
    u, s, v, f, s_inv, m, n = _svd_parts(ans, a, full_matrices)
    ds = _mm(_H(u), _mm(t, v))
    dss = ds * expand_dims(s, -2)
    sds = expand_dims(s, -1) * ds
    phase = 0.5 * (ds - _H(ds)) * _diag_embed(s_inv)              # i Im(dSᵢᵢ)/sᵢ on the diagonal
    du = _mm(u, f * (dss + _H(dss)) + phase)
    dv = _mm(v, f * (sds + _H(sds)))
    if m > n:
        tv = _mm(t, v)
        du = du + (tv - _mm(u, _mm(_H(u), tv))) * expand_dims(s_inv, -2)
    if n > m:
        tu = _mm(_H(t), u)
        dv = dv + (tu - _mm(v, _mm(_H(v), tu))) * expand_dims(s_inv, -2)
    return du, real(diagonal(ds)), _H(dv)


# A = U diag(s) Vᵀ (reduced), Fᵢⱼ = 1/(sⱼ² − sᵢ²), J = F ∘ (UᵀŪ − ŪᵀU), K = F ∘ (VᵀV̄ − V̄ᵀV):
#   Ā = U (J S + diag(s̄) + S K) Vᵀ + (I − UUᵀ) Ū S⁻¹ Vᵀ + U S⁻¹ V̄ᵀ (I − VVᵀ)     (Townsend 2016)
#   ṡ = diag(Uᵀ Ȧ V),  U̇ = U (F ∘ (dS S + S dSᵀ)) + (I − UUᵀ) Ȧ V S⁻¹,  dS = Uᵀ Ȧ V, V̇ likewise
# Complex A = U S Vᴴ (JAX's JVP): dS = Uᴴ Ȧ V, ṡ = Re diag dS, U̇ = U (F ∘ (dS S + S dSᴴ) +
#   ½(dS − dSᴴ) ∘ S⁻¹) + (I − UUᴴ) Ȧ V S⁻¹ (the phase goes to U), V̇ = V (F ∘ (S dS + dSᴴ S)) +
#   (I − VVᴴ) Ȧᴴ U S⁻¹. Its transpose under Re Σ X∘Y, with Z_u = Uᵀ Ū, Z_v = Vᵀ V̄ (V̄ = V̄ᴴ̄ᴴ):
#   Ā = conj(U) (F∘(Z_u − Z_uᴴ) S + diag(s̄ + i Im diag(Z_u)/s) + S F∘(Z_v − Z_vᴴ)) Vᵀ
#       + (Ū − conj(U) Z_u) S⁻¹ Vᵀ + conj(U) ((V̄ − conj(V) Z_v) S⁻¹)ᴴ
_svd = defprimitive("linalg.svd", _svd_impl, vjp=_svd_vjp, jvp=_svd_jvp, batch="leading",
                     multiple_results=True, complex_rules=True)


def _copyltu(x):
    """The symmetric matrix with the lower triangle of X."""
    low = tril(x, -1)
    return low + _T(low) + _diag_embed(diagonal(x))


def _qr_impl(a):
    q, r = np.linalg.qr(a)
    return q, r


def _qr_vjp(g, ans, a):
    gq, gr = g
    q, r = ans
    if q.dtype.kind == "c":     # N = Qᵀ Q̄ − R̄ Rᵀ, Q1̄ = −N + tril(N − Nᴴ, −1) + i Im diag N
        nn = _mm(_T(q), gq) - _mm(gr, _T(r))
        q1 = -nn + tril(nn - _H(nn), -1) + _diag_embed(1j * imag(diagonal(nn)))
        return _rsolve(gq + _mm(conjugate(q), q1), _T(r))
    m = _mm(r, _T(gr)) - _mm(_T(gq), q)
    return _rsolve(gq + _mm(q, _copyltu(m)), _T(r))


def _qr_jvp(t, ans, a):
    q, r = ans
    t_rinv = _rsolve(t, r)
    qt = _mm(_H(q), t_rinv)
    low = tril(qt, -1)
    omega = low - _H(low)                                         # skew-symmetric (Hermitian) QᵀQ̇
    if qt.dtype.kind == "c":    # keeps diag R real, as LAPACK's R is (JAX's correction)
        omega = omega + _diag_embed(1j * imag(diagonal(qt)))
    return _mm(q, omega - qt) + t_rinv, _mm(qt - omega, r)


# A = Q R (m ≥ n, reduced)   M = R R̄ᵀ − Q̄ᵀ Q,  Ā = (Q̄ + Q copyltu(M)) R⁻ᵀ     (Liao et al. 2019)
#   Ω = tril(Qᵀ Ȧ R⁻¹, −1) − its transpose,  Q̇ = Q (Ω − Qᵀ Ȧ R⁻¹) + Ȧ R⁻¹,  Ṙ = (Qᵀ Ȧ R⁻¹ − Ω) R
#                                 (Walter & Lehmann 2010; Seeger et al. 2017)
# Complex A (diag R real): Qᴴ for Qᵀ, Ω += i Im diag(Qᴴ Ȧ R⁻¹) (JAX's JVP); its transpose:
#   N = Qᵀ Q̄ − R̄ Rᵀ,  Ā = (Q̄ + conj(Q)(−N + tril(N − Nᴴ, −1) + i Im diag N)) R⁻ᵀ
_qr = defprimitive("linalg.qr", _qr_impl, vjp=_qr_vjp, jvp=_qr_jvp, batch="leading",
                   multiple_results=True, complex_rules=True)


def _pinv_impl(a, rcond, hermitian):
    return np.linalg.pinv(a, rcond=rcond, hermitian=hermitian)


def _pinv_vjp(g, p, a, rcond, hermitian):
    pt, gt = _T(p), _H(g)
    cp, ca = (conjugate(p), conjugate(a)) if p.dtype.kind == "c" else (p, a)
    return (-_mm(pt, _mm(g, pt))
            + _mm(gt - _mm(ca, _mm(cp, gt)), _mm(cp, pt))
            + _mm(_mm(pt, cp), gt - _mm(gt, _mm(cp, ca))))


def _pinv_jvp(t, p, a, rcond, hermitian):
    tt = _H(t)
    return (-_mm(p, _mm(t, p))
            + _mm(_mm(p, _H(p)), tt - _mm(tt, _mm(a, p)))
            + _mm(tt - _mm(p, _mm(a, tt)), _mm(_H(p), p)))


# P = A⁺ (constant rank)          Ā = −Pᵀ Ȳ Pᵀ + (I − AP) Ȳᵀ P Pᵀ + Pᵀ P Ȳᵀ (I − PA)
#   Ṗ = −P Ȧ P + P Pᵀ Ȧᵀ (I − A P) + (I − P A) Ȧᵀ Pᵀ P         (Golub & Pereyra 1973)
# Complex A: ᴴ for ᵀ in Ṗ; its transpose under Re Σ X∘Y (conj(X) written X*):
#   Ā = −Pᵀ Ȳ Pᵀ + (I − A* P*) Ȳᴴ P* Pᵀ + Pᵀ P* Ȳᴴ (I − P* A*)
_pinv = defprimitive("linalg.pinv", _pinv_impl, vjp=_pinv_vjp, jvp=_pinv_jvp, batch="leading",
                     complex_rules=True)

# ---------------------------------------------------------------------------------------------
# Public functions (numpy.linalg signatures)
# ---------------------------------------------------------------------------------------------


def inv(a):
    """``numpy.linalg.inv``: A⁻¹ for each square matrix in ``a`` (…, n, n).

    Raises:
        LinAlgError (a ValueError): ``a`` is not square, or is singular.
    """
    a = _arr(a)
    _check_matrix("inv", a, square=True)
    return _inv(a)


def det(a):
    """``numpy.linalg.det``: det A for each square matrix in ``a``; shape ``a.shape[:-2]``.

    The derivative ȳ det(A) A⁻ᵀ needs A⁻¹, so differentiating at a singular A raises LinAlgError.
    """
    a = _arr(a)
    _check_matrix("det", a, square=True)
    return _det(a)


def slogdet(a) -> SlogdetResult:
    """``numpy.linalg.slogdet``: ``(sign, logabsdet)`` with det A = sign · exp(logabsdet).

    ``logabsdet`` is differentiable (∂ ln|det A|/∂A = A⁻ᵀ); ``sign`` is piecewise constant.

    >>> import numpy as np, nnmath as nm
    >>> from nnmath.numpy import linalg
    >>> a = np.array([[2.0, 1.0], [1.0, -3.0]])
    >>> linalg.slogdet(a).sign
    np.float64(-1.0)
    >>> np.allclose(nm.grad(lambda x: linalg.slogdet(x).logabsdet)(a), np.linalg.inv(a).T)
    True
    """
    a = _arr(a)
    _check_matrix("slogdet", a, square=True)
    sign, logabsdet = _slogdet(a)
    return SlogdetResult(sign, logabsdet)


def solve(a, b):
    """``numpy.linalg.solve``: X with A X = B (numpy 2 semantics).

    Args:
        a: (…, n, n) coefficient matrices.
        b: (n,) — a single vector, for every matrix in ``a`` — or (…, n, k) stacks of matrices;
            batch axes broadcast.

    Returns:
        (…, n) if ``b`` is 1-D, else the broadcast (…, n, k).
    """
    a, b = _arr(a), _arr(b)
    _check_matrix("solve", a, square=True)
    n = a.shape[-1]
    if b.ndim == 1:
        if b.shape[0] != n:
            raise ValueError(f"solve: b of shape {b.shape} does not match a of shape {a.shape}")
        return _solve(a, reshape(b, (n, 1)))[..., 0]
    if b.ndim == 0 or b.shape[-2] != n:
        raise ValueError(f"solve: b must have shape (n,) or (..., n, k) with n = {n} (a has shape "
                         f"{a.shape}), got {b.shape}")
    return _solve(a, b)


def cholesky(a, /, *, upper: bool = False):
    """``numpy.linalg.cholesky``: L lower triangular with A = L Lᵀ (or Lᵀ if ``upper``).

    Reads the lower (``upper``: upper) triangle of A, as numpy does; the derivative treats A as
    symmetric (see the module docstring). Raises LinAlgError if A is not positive definite.
    """
    a = _arr(a)
    _check_matrix("cholesky", a, square=True)
    if upper:
        return _T(_cholesky(_T(a)))
    return _cholesky(a)


def eigh(a, UPLO: str = "L") -> EighResult:
    """``numpy.linalg.eigh``: eigenvalues (ascending) and orthonormal eigenvectors of a symmetric
    matrix, reading its ``UPLO`` triangle.

    Derivatives treat A as symmetric. Eigenvector derivatives need distinct eigenvalues: for
    exactly repeated ones the undefined 1/(λⱼ − λᵢ) terms are taken as 0, so values stay finite
    but the coupling inside the repeated eigenspace is dropped (see the module docstring).
    """
    a = _arr(a)
    _check_matrix("eigh", a, square=True)
    if UPLO not in ("L", "U"):
        raise ValueError(f"eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    w, v = _eigh(a, UPLO=UPLO)
    return EighResult(w, v)


def eigvalsh(a, UPLO: str = "L"):
    """``numpy.linalg.eigvalsh``: the eigenvalues of a symmetric matrix; λ̄ ↦ V diag(λ̄) Vᵀ."""
    a = _arr(a)
    if not needs_rules(a):
        return call_plain(np.linalg.eigvalsh, a, UPLO=UPLO)
    return eigh(a, UPLO)[0]


def svd(a, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False):
    """``numpy.linalg.svd``: A = U diag(S) Vh with S descending.

    Derivatives of U and Vh need ``full_matrices=False`` unless A is square (the extra columns of a
    full U or V are not determined by A): differentiating a non-square full SVD raises
    NotImplementedError. Singular values alone (``compute_uv=False``) are always differentiable.
    See the module docstring for repeated and zero singular values.
    """
    a = _arr(a)
    _check_matrix("svd", a)
    if not compute_uv:
        if not needs_rules(a):
            return call_plain(np.linalg.svd, a, compute_uv=False, hermitian=hermitian)
        return _svd(a, full_matrices=False, hermitian=hermitian)[1]
    u, s, vh = _svd(a, full_matrices=bool(full_matrices), hermitian=bool(hermitian))
    return SVDResult(u, s, vh)


def svdvals(x, /):
    """``numpy.linalg.svdvals``: the singular values, descending."""
    return svd(x, compute_uv=False)


def qr(a, mode: str = "reduced"):
    """``numpy.linalg.qr``: A = Q R with Q orthonormal columns and R upper triangular.

    Differentiable for ``mode`` 'reduced' and 'r' (any shape; a wide A = [X Y] is factored as
    X = Q R₁, R = [R₁ QᵀY]), and 'complete' for square or wide A. 'raw' is not differentiable.
    """
    a = _arr(a)
    _check_matrix("qr", a)
    if mode not in ("reduced", "complete", "r", "raw"):
        raise ValueError(f"qr: mode must be 'reduced', 'complete', 'r' or 'raw', got {mode!r}")
    if not needs_rules(a):
        if mode == "r":
            return call_plain(np.linalg.qr, a, mode=mode)
        out = call_plain(np.linalg.qr, a, mode=mode, multiple_results=True)
        return tuple(out) if mode == "raw" else QRResult(*out)
    m, n = a.shape[-2:]
    if mode == "raw" or (mode == "complete" and m > n):
        raise NotImplementedError(f"qr: mode={mode!r} is not differentiable for shape {a.shape}; "
                                  f"use mode='reduced'")
    if m < n:
        q, r1 = _qr(a[..., :m])
        r = concatenate([r1, _mm(_T(q), a[..., m:])], axis=-1)
    else:
        q, r = _qr(a)
    return r if mode == "r" else QRResult(q, r)


def pinv(a, rcond=None, hermitian: bool = False, *, rtol=np._NoValue):
    """``numpy.linalg.pinv``: the Moore–Penrose pseudo-inverse A⁺ (via the SVD, singular values
    below ``rcond`` · max s dropped).

    The derivative (Golub & Pereyra 1973) holds where the rank is locally constant, e.g. for any
    full-rank A.
    """
    a = _arr(a)
    _check_matrix("pinv", a)
    if rcond is None:
        if rtol is np._NoValue:
            rcond = 1e-15
        elif rtol is None:
            rcond = builtins.max(a.shape[-2:]) * np.finfo(a.dtype).eps
        else:
            rcond = rtol
    elif rtol is not np._NoValue:
        raise ValueError("pinv: `rtol` and `rcond` can't be both set")
    return _pinv(a, rcond=primal_value(rcond), hermitian=bool(hermitian))


def _no_rule(f, hint: str):
    def g(*args, **kwargs):
        if any(needs_rules(x) for x in args):
            raise NotImplementedError(f"numpy.linalg.{f.__name__} has no derivative rule in nnmath "
                                      f"({hint}); use nnmath.stop_gradient(x) for its value")
        return call_plain(f, *args, **kwargs)

    g.__name__ = g.__qualname__ = f.__name__
    g.__doc__ = f"``numpy.linalg.{f.__name__}`` on plain arrays; not differentiable ({hint})."
    return g


tensorinv = _no_rule(np.linalg.tensorinv, "reshape and use inv")
tensorsolve = _no_rule(np.linalg.tensorsolve, "reshape and use solve")
matrix_rank = nondifferentiable(np.linalg.matrix_rank)


# Array-API names numpy.linalg also has (acting on the last axes; the rules above use them too)
def diagonal(x, /, *, offset: int = 0):
    """``numpy.linalg.diagonal``: the diagonals of the last two axes."""
    return _diagonal(x, offset, -2, -1)


def trace(x, /, *, offset: int = 0, dtype=None):
    """``numpy.linalg.trace``: the sum of the diagonals of the last two axes."""
    y = sum(diagonal(x, offset=offset), axis=-1)
    return y if dtype is None else astype(y, dtype)


def outer(x1, x2, /):
    """``numpy.linalg.outer``: the outer product of two vectors."""
    x1, x2 = _arr(x1), _arr(x2)
    if x1.ndim != 1 or x2.ndim != 1:
        raise ValueError(f"outer: both inputs must be 1-D, got shapes {x1.shape} and {x2.shape}")
    return _outer(x1, x2)


def vecdot(x1, x2, /, *, axis: int = -1):
    """``numpy.linalg.vecdot``: Σ x̄1 x2 along ``axis`` (broadcasting the rest; x1 conjugated)."""
    return sum(conjugate(x1) * x2, axis=axis)


__all__ = [
    "LinAlgError", "SlogdetResult", "EighResult", "SVDResult", "QRResult", "LstsqResult",
    "inv", "det", "slogdet", "solve", "cholesky", "eigh", "eigvalsh", "svd", "svdvals", "qr",
    "pinv", "tensorinv", "tensorsolve", "matrix_rank", "diagonal", "trace", "outer",
    "vecdot", "matmul", "matrix_transpose", "tensordot",
]
