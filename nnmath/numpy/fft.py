"""``nnmath.numpy.fft``: differentiable discrete Fourier transforms (numpy.fft's names and semantics).

Every transform is linear, so it is one of four linear primitives over a tuple of ``axes`` with
the sizes ``s`` and the ``norm`` written out: ``fft.fftn``, ``fft.ifftn`` (complex → complex),
``fft.rfftn`` (real → half spectrum), ``fft.irfftn`` (half spectrum → real). fft, fft2, ifft, ifft2,
rfft, irfft, rfft2, irfft2, hfft and ihfft are these with one or two axes; fftshift, ifftshift,
fftfreq and rfftfreq are composites. The JVP of a linear map is the map applied to the tangent;
the VJP is its transpose under the pairing Re(c·w) of JAX's complex convention (the cotangent z̄
of z is the c with df = Re(c·dz)).

Vocabulary: ``g`` = ȳ, ``t`` = ẋ. F is the DFT matrix along ``axes`` (Fₖₙ = e^{−2πikn/N}, times
the ``norm`` scale: 1 for "backward", 1/√N for "ortho", 1/N for "forward"); P crops or zero-pads
the input to the sizes ``s`` (numpy's ``n``/``s``), so Pᵀ crops or zero-pads ȳ back.

* fftn:  y = F P x.  F is symmetric, so x̄ = Pᵀ F ȳ — the same transform, same norm.
* ifftn: y = F̃ P x with F̃ = conj(F)/N (backward norm), also symmetric: x̄ = Pᵀ F̃ ȳ.
* rfftn: y = C F P x for real x, C keeping the first M = N//2 + 1 entries of the last axis:
  x̄ = Re Pᵀ F Cᵀ ȳ (Cᵀ zero-pads ȳ to N). It is *not* irfft: irfft would fold the missing half
  of the spectrum back in.
* irfftn: y = P' F̃ H x, H extending the half spectrum Hermitian-ly (x_{N−k} = conj x_k, the
  imaginary parts of x₀ and of the Nyquist entry ignored). Written on Re x and Im x,
  yₙ = Σₖ wₖ (Re xₖ cos θ − Im xₖ sin θ)·scale with θ = 2πkn/N and weights w = (1, 2, …, 2, 1 if
  N is even), so x̄ = Pᵀ(w ⊙ conj(rfftn ȳ)), rfftn taken with the inverse's scale.

Each rule is written with these primitives, so derivatives of any order follow; each batches by
shifting its axes past the batch axis. The rfftn / irfftn transposes match ``jax.numpy.fft``
(tests/test_fft.py compares VJPs and JVPs with JAX).

>>> import numpy as np, nnmath as nm, nnmath.numpy as mnp
>>> x = np.array([1.0, 2.0, 0.0, -1.0])
>>> np.allclose(mnp.fft.rfft(x), np.fft.rfft(x))
True
>>> nm.grad(lambda x: mnp.sum(mnp.abs(mnp.fft.fft(x)) ** 2))(x)     # Parseval: ‖Fx‖² = N‖x‖²
array([ 8., 16.,  0., -8.])
"""
from __future__ import annotations

import operator
from typing import Any

import numpy as np

from .._core.primitive import Tracer
from ._elementwise import conjugate, real
from ._helpers import linear
from ._shape import concatenate, roll

__all__ = ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2",
           "rfftn", "irfftn", "hfft", "ihfft", "fftshift", "ifftshift", "fftfreq", "rfftfreq"]

_NORMS = ("backward", "ortho", "forward")
#: the norm of the forward transform whose scale is that of the inverse with this norm
_SWAP = {"backward": "forward", "ortho": "ortho", "forward": "backward"}


# ---------------------------------------------------------------------------------------------
# Helpers of the rules
# ---------------------------------------------------------------------------------------------


def _resize(c: Any, sizes, axes: tuple) -> Any:
    """``c`` cropped or zero-padded along each axis in ``axes`` to ``sizes``: P of numpy's n/s,
    and its transpose Pᵀ (crop what was padded, pad what was cropped)."""
    for a, n in zip(axes, sizes):
        m = c.shape[a]
        if m > n:
            c = c[(slice(None),) * a + (slice(0, n),)]
        elif m < n:
            shape = list(c.shape)
            shape[a] = n - m
            c = concatenate([c, np.zeros(shape, c.dtype)], axis=a)
    return c


def _batched(prim_ref: list):
    """The vmap rule of every transform here: the batch axis is first, so shift ``axes`` by 1."""
    def rule(size, vals, batched, s, axes, norm):
        return prim_ref[0](vals[0], s=s, axes=tuple(a + 1 for a in axes), norm=norm)
    return rule


def _half_weights(n: int, ndim: int, axis: int, dtype) -> np.ndarray:
    """w = (1, 2, …, 2, 1 if n is even) over the n//2 + 1 entries of a half spectrum, shaped to
    broadcast along ``axis`` of an ``ndim``-dimensional array."""
    w = np.full(n // 2 + 1, 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    shape = [1] * ndim
    shape[axis] = w.size
    return w.reshape(shape).astype(np.zeros((), dtype).real.dtype)


# ---------------------------------------------------------------------------------------------
# The four primitives
# ---------------------------------------------------------------------------------------------


def _fftn_impl(x, s, axes, norm):
    return np.fft.fftn(x, s=s, axes=axes, norm=norm)


def _ifftn_impl(x, s, axes, norm):
    return np.fft.ifftn(x, s=s, axes=axes, norm=norm)


def _rfftn_impl(x, s, axes, norm):
    return np.fft.rfftn(x, s=s, axes=axes, norm=norm)


def _irfftn_impl(x, s, axes, norm):
    return np.fft.irfftn(x, s=s, axes=axes, norm=norm)


_FFTN, _IFFTN, _RFFTN, _IRFFTN = [None], [None], [None], [None]

# y = F P x                        x̄ = Pᵀ F ȳ   (F symmetric)                 ẋ ↦ F P ẋ
_fftn = linear(
    "fft.fftn", _fftn_impl,
    lambda g, y, x, s, axes, norm: _resize(_fftn(g, s=s, axes=axes, norm=norm),
                                           [x.shape[a] for a in axes], axes),
    batch=_batched(_FFTN), complex_rules=True)
# y = F̃ P x, F̃ = conj(F)/N         x̄ = Pᵀ F̃ ȳ   (F̃ symmetric)                ẋ ↦ F̃ P ẋ
_ifftn = linear(
    "fft.ifftn", _ifftn_impl,
    lambda g, y, x, s, axes, norm: _resize(_ifftn(g, s=s, axes=axes, norm=norm),
                                           [x.shape[a] for a in axes], axes),
    batch=_batched(_IFFTN), complex_rules=True)


def _rfftn_transpose(g, y, x, s, axes, norm):
    # x̄ = Re Pᵀ F Cᵀ ȳ: zero-pad the half spectrum to the full length, transform, keep Re
    full = _resize(g, s[-1:], axes[-1:])
    return _resize(real(_fftn(full, s=s, axes=axes, norm=norm)), [x.shape[a] for a in axes], axes)


def _irfftn_transpose(g, y, x, s, axes, norm):
    # x̄ = Pᵀ(w ⊙ conj(rfftn ȳ)), rfftn with the inverse's scale (norm swapped)
    h = conjugate(_rfftn(g, s=s, axes=axes, norm=_SWAP[norm]))
    h = h * _half_weights(s[-1], h.ndim, axes[-1], h.dtype)
    return _resize(h, [x.shape[a] for a in axes], axes)


# y = C F P x  (x real)            x̄ = Re Pᵀ F Cᵀ ȳ                          ẋ ↦ C F P ẋ
_rfftn = linear("fft.rfftn", _rfftn_impl, _rfftn_transpose, batch=_batched(_RFFTN),
                complex_rules=True)
# y = P' F̃ H x  (y real)           x̄ = Pᵀ(w ⊙ conj(rfftn ȳ))                 ẋ ↦ P' F̃ H ẋ
_irfftn = linear("fft.irfftn", _irfftn_impl, _irfftn_transpose, batch=_batched(_IRFFTN),
                 complex_rules=True)
_FFTN[0], _IFFTN[0], _RFFTN[0], _IRFFTN[0] = _fftn, _ifftn, _rfftn, _irfftn


# ---------------------------------------------------------------------------------------------
# Public functions (numpy signatures)
# ---------------------------------------------------------------------------------------------


def _arr(a):
    return a if hasattr(a, "ndim") else np.asarray(a)


def _norm(fname: str, norm) -> str:
    if norm is None:
        return "backward"
    if norm not in _NORMS:
        raise ValueError(f"{fname}: norm must be None, 'backward', 'ortho' or 'forward', got {norm!r}")
    return norm


def _size(fname: str, what: str, n) -> int:
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"{fname}: {what} must be an integer, got {n!r}") from None
    if n < 1:
        raise ValueError(f"{fname}: {what} must be at least 1 (the number of data points), got {n}")
    return n


def _axes_and_sizes(fname: str, a, s, axes, inverse_real: bool = False):
    """numpy's rules for ``s`` and ``axes``: axes default to all (or the last len(s)), sizes to
    the input's (for irfftn the last one to 2·(m − 1)); returned non-negative and checked."""
    nd = a.ndim
    if axes is None:
        axes = tuple(range(nd)) if s is None else tuple(range(nd - len(s), nd))
    elif isinstance(axes, (int, np.integer)):
        axes = (axes,)
    axes = tuple(axes)
    out = []
    for ax in axes:
        try:
            ax = operator.index(ax)
        except TypeError:
            raise TypeError(f"{fname}: axes must be integers, got {axes!r}") from None
        if not -nd <= ax < nd:
            raise ValueError(f"{fname}: axis {ax} is out of range for an array of {nd} "
                             f"dimension(s) (shape {tuple(a.shape)})")
        out.append(ax % nd)
    if not out:
        raise ValueError(f"{fname}: axes is empty; give at least one axis to transform")
    if len(set(out)) != len(out):
        raise ValueError(f"{fname}: axes {axes!r} repeats an axis; nnmath needs distinct axes")
    axes = tuple(out)
    if s is None:
        sizes = [a.shape[ax] for ax in axes]
        if inverse_real:
            sizes[-1] = 2 * (sizes[-1] - 1)
        if inverse_real and sizes[-1] < 1:
            raise ValueError(f"{fname}: the last axis has length {a.shape[axes[-1]]}, giving "
                             f"{sizes[-1]} output points; pass n (or s) explicitly")
        s = tuple(sizes)
    else:
        s = (s,) if isinstance(s, (int, np.integer)) else tuple(s)
        if len(s) != len(axes):
            raise ValueError(f"{fname}: s has {len(s)} entries but there are {len(axes)} axes "
                             f"({axes}); give one size per axis")
        s = tuple(_size(fname, "each entry of s (or n)", n) for n in s)
    return s, axes


def _one_axis(fname, prim, a, n, axis, norm, inverse_real=False):
    a = _arr(a)
    s, axes = _axes_and_sizes(fname, a, None if n is None else (n,), (axis,), inverse_real)
    return prim(a, s=s, axes=axes, norm=_norm(fname, norm))


def _n_axes(fname, prim, a, s, axes, norm, inverse_real=False):
    a = _arr(a)
    s, axes = _axes_and_sizes(fname, a, s, axes, inverse_real)
    return prim(a, s=s, axes=axes, norm=_norm(fname, norm))


def fft(a, n=None, axis=-1, norm=None):
    """``numpy.fft.fft``: yₖ = Σₙ xₙ e^{−2πikn/N} along ``axis`` (N = ``n``: crop or zero-pad)."""
    return _one_axis("fft", _fftn, a, n, axis, norm)


def ifft(a, n=None, axis=-1, norm=None):
    """``numpy.fft.ifft``: yₙ = (1/N) Σₖ xₖ e^{2πikn/N} along ``axis``."""
    return _one_axis("ifft", _ifftn, a, n, axis, norm)


def fftn(a, s=None, axes=None, norm=None):
    """``numpy.fft.fftn``: the DFT over ``axes`` (default all, or the last ``len(s)``)."""
    return _n_axes("fftn", _fftn, a, s, axes, norm)


def ifftn(a, s=None, axes=None, norm=None):
    """``numpy.fft.ifftn``: the inverse DFT over ``axes``."""
    return _n_axes("ifftn", _ifftn, a, s, axes, norm)


def fft2(a, s=None, axes=(-2, -1), norm=None):
    """``numpy.fft.fft2``: :func:`fftn` over the last two axes."""
    return _n_axes("fft2", _fftn, a, s, axes, norm)


def ifft2(a, s=None, axes=(-2, -1), norm=None):
    """``numpy.fft.ifft2``: :func:`ifftn` over the last two axes."""
    return _n_axes("ifft2", _ifftn, a, s, axes, norm)


def rfft(a, n=None, axis=-1, norm=None):
    """``numpy.fft.rfft``: the N//2 + 1 non-negative frequencies of the DFT of a real signal."""
    return _one_axis("rfft", _rfftn, a, n, axis, norm)


def irfft(a, n=None, axis=-1, norm=None):
    """``numpy.fft.irfft``: the real signal (length ``n``, default 2(m − 1)) whose rfft is ``a``
    (imaginary parts of the zero and Nyquist frequencies are ignored, as numpy does)."""
    return _one_axis("irfft", _irfftn, a, n, axis, norm, inverse_real=True)


def rfftn(a, s=None, axes=None, norm=None):
    """``numpy.fft.rfftn``: fftn of a real array, the last axis halved to N//2 + 1."""
    return _n_axes("rfftn", _rfftn, a, s, axes, norm)


def irfftn(a, s=None, axes=None, norm=None):
    """``numpy.fft.irfftn``: the inverse of :func:`rfftn` (last size default 2(m − 1))."""
    return _n_axes("irfftn", _irfftn, a, s, axes, norm, inverse_real=True)


def rfft2(a, s=None, axes=(-2, -1), norm=None):
    """``numpy.fft.rfft2``: :func:`rfftn` over the last two axes."""
    return _n_axes("rfft2", _rfftn, a, s, axes, norm)


def irfft2(a, s=None, axes=(-2, -1), norm=None):
    """``numpy.fft.irfft2``: :func:`irfftn` over the last two axes."""
    return _n_axes("irfft2", _irfftn, a, s, axes, norm, inverse_real=True)


def hfft(a, n=None, axis=-1, norm=None):
    """``numpy.fft.hfft``: the real spectrum of a Hermitian-symmetric signal given by its first
    half, = irfft(conj a) with the norm's direction swapped (numpy's definition)."""
    return _one_axis("hfft", _irfftn, conjugate(_arr(a)), n, axis, _SWAP[_norm("hfft", norm)],
                     inverse_real=True)


def ihfft(a, n=None, axis=-1, norm=None):
    """``numpy.fft.ihfft``: the inverse of :func:`hfft`, = conj(rfft a) with the norm swapped."""
    return conjugate(_one_axis("ihfft", _rfftn, a, n, axis, _SWAP[_norm("ihfft", norm)]))


def _shift(x, axes, sign: int):
    x = _arr(x)
    if axes is None:
        axes = tuple(range(x.ndim))
    elif isinstance(axes, (int, np.integer)):
        axes = (int(axes),)
    axes = tuple(int(ax) for ax in axes)
    shift = tuple(sign * (x.shape[ax] // 2) for ax in axes)
    return roll(x, shift, axes)


def fftshift(x, axes=None):
    """``numpy.fft.fftshift``: the zero frequency moved to the centre, a roll by ⌊n/2⌋ per axis."""
    if not isinstance(x, Tracer):
        return np.fft.fftshift(x, axes)
    return _shift(x, axes, 1)


def ifftshift(x, axes=None):
    """``numpy.fft.ifftshift``: the inverse of :func:`fftshift`, a roll by −⌊n/2⌋ per axis."""
    if not isinstance(x, Tracer):
        return np.fft.ifftshift(x, axes)
    return _shift(x, axes, -1)


def fftfreq(n, d=1.0, device=None):
    """``numpy.fft.fftfreq``: the sample frequencies k/(n·d); differentiable in the spacing ``d``."""
    if isinstance(d, Tracer):
        return np.fft.fftfreq(n, 1.0) / d
    return np.fft.fftfreq(n, d)


def rfftfreq(n, d=1.0, device=None):
    """``numpy.fft.rfftfreq``: the non-negative sample frequencies k/(n·d), k = 0 … n//2."""
    if isinstance(d, Tracer):
        return np.fft.rfftfreq(n, 1.0) / d
    return np.fft.rfftfreq(n, d)
