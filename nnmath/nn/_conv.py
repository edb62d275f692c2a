"""Convolution primitives (channels-last, as Keras): conv2d and the two maps its derivatives need.

Vocabulary: ``g`` = ȳ, the output cotangent; ``t`` = an input tangent; ``y`` = the forward output.
Shapes: x (N, H, W, C), kernel w (KH, KW, C, O), y (N, OH, OW, O). Static parameters: ``strides``
(sh, sw), ``dilation`` (dh, dw) and ``padding`` ((top, bottom), (left, right)), zeros added around x
(xₚ below). The convolution is a cross-correlation, as in Keras, TensorFlow and PyTorch:

    y[n,i,j,o] = Σ_{a,b,c} xₚ[n, i·sh + a·dh, j·sw + b·dw, c] · w[a,b,c,o]
    OH = ⌊(H + top + bottom − dh·(KH − 1) − 1) / sh⌋ + 1   (likewise OW)

It is bilinear in (x, w), so three primitives close under differentiation (Dumoulin & Visin 2016,
"A guide to convolution arithmetic", §4; TensorFlow's Conv2DBackpropInput / Conv2DBackpropFilter):

    conv2d(x, w, b)               = y                                   the convolution
    conv2d_backprop_input(g, w)   = x̄,  ⟨x̄, u⟩ = ⟨g, conv2d(u, w)⟩     the transposed convolution
    conv2d_backprop_filter(x, g)  = w̄,  ⟨w̄, v⟩ = ⟨g, conv2d(x, v)⟩     the kernel gradient

Each is bilinear, so each JVP is the map applied to one tangent at a time, and each VJP is one of
the other two maps; the rules call the primitives themselves, so every order of every mode works.
conv2d also takes the bias b (or None), added in place to the GEMM's output: b̄ = Σ_{n,i,j} ȳ is a
GEMV with a row of ones, cheaper than numpy's strided sum over three axes.

Implementation: im2col. The windows of xₚ are a strided view (N, OH, OW, KH, KW, C); one copy makes
it the matrix X (N·OH·OW, KH·KW·C) and one GEMM gives y = X · W (KH·KW·C, O). The kernel gradient
is the GEMM Xᵀ · Ḡ; the transposed convolution is one batched GEMM Ḡ · W[a,b]ᵀ per kernel offset
(a, b), each added into its strided window of a zero x̄ₚ (col2im), whose padding is cut off.
"""
from __future__ import annotations

import math
import threading
from typing import Any, Sequence

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .._core.declare import defprimitive
from .. import numpy as mnp

__all__ = ["conv2d", "conv1d", "conv2d_transpose", "conv1d_transpose", "conv_output_length",
           "conv_transpose_output_length", "conv_padding", "normalize_tuple"]


# ---------------------------------------------------------------------------------------------
# Shapes and padding (shared with pooling)
# ---------------------------------------------------------------------------------------------


def normalize_tuple(value: Any, n: int, name: str, allow_zero: bool = False) -> tuple:
    """An int or a sequence of ``n`` ints as an n-tuple of positive (or ≥ 0) ints; else ValueError
    naming the argument."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        out = (int(value),) * n
    else:
        try:
            out = tuple(int(v) for v in value)
        except (TypeError, ValueError):
            raise ValueError(f"`{name}` must be an int or a tuple of {n} ints, received "
                             f"{name}={value!r}") from None
        if len(out) != n or any(isinstance(v, bool) for v in value):
            raise ValueError(f"`{name}` must be an int or a tuple of {n} ints, received "
                             f"{name}={value!r}")
    low = 0 if allow_zero else 1
    if any(v < low for v in out):
        raise ValueError(f"`{name}` must be {'non-negative' if allow_zero else 'positive'}, "
                         f"received {name}={value!r}")
    return out


def conv_output_length(length: int | None, size: int, padding: str, stride: int,
                       dilation: int = 1) -> int | None:
    """Keras's output length of one spatial axis ('valid', 'same' or 'causal')."""
    if length is None:
        return None
    span = dilation * (size - 1) + 1
    if padding == "valid":
        return max((length - span) // stride + 1, 0)
    return -(-length // stride)                      # 'same', 'causal': ⌈length / stride⌉


def conv_transpose_output_length(length: int | None, size: int, padding: str, stride: int,
                                 dilation: int = 1, output_padding: int | None = None) -> int | None:
    """Keras's ``deconv_output_length``: the output length of a transposed convolution.

    With k̂ = d(k − 1) + 1 and no ``output_padding``: "valid" L·s + max(k̂ − s, 0), "same" L·s.
    With ``output_padding`` p: (L − 1)·s + k̂ − 2·pad + p, pad = 0 ("valid") or ⌊k̂/2⌋ ("same").
    """
    if length is None:
        return None
    span = dilation * (size - 1) + 1
    if output_padding is None:
        return length * stride + max(span - stride, 0) if padding == "valid" else length * stride
    pad = 0 if padding == "valid" else span // 2
    return (length - 1) * stride + span - 2 * pad + output_padding


def conv_padding(length: int, size: int, padding: str, stride: int, dilation: int = 1) -> tuple:
    """(before, after) zeros on one axis for Keras's padding mode.

    'same' follows TensorFlow: output ⌈L / s⌉, total = max((out − 1)·s + d(k − 1) + 1 − L, 0),
    before = ⌊total / 2⌋, after = total − before (the extra zero goes after for even kernels,
    unlike PyTorch's symmetric ``padding=``). 'causal' (1-D) puts d(k − 1) zeros before.
    """
    span = dilation * (size - 1) + 1
    if padding == "valid":
        return (0, 0)
    if padding == "causal":
        return (span - 1, 0)
    out = -(-length // stride)
    total = max((out - 1) * stride + span - length, 0)
    return (total // 2, total - total // 2)


def _out_len(length: int, size: int, pad: tuple, stride: int, dilation: int) -> int:
    return (length + pad[0] + pad[1] - dilation * (size - 1) - 1) // stride + 1


def pad_spatial(x: np.ndarray, padding: tuple, value: Any = 0) -> np.ndarray:
    """x (N, H, W, C) with ``padding`` ((top, bottom), (left, right)) of ``value`` around H, W."""
    (pt, pb), (pl, pr) = padding
    if not (pt or pb or pl or pr):
        return x
    n, h, w, c = x.shape
    out = np.full((n, h + pt + pb, w + pl + pr, c), value, dtype=x.dtype)
    out[:, pt:pt + h, pl:pl + w] = x
    return out


def windows(xp: np.ndarray, size: tuple, out_hw: tuple, strides: tuple, dilation: tuple) -> np.ndarray:
    """The read-only strided view (N, OH, OW, KH, KW, C) of the windows of padded ``xp``."""
    n, _, _, c = xp.shape
    s0, s1, s2, s3 = xp.strides
    (kh, kw), (oh, ow), (sh, sw), (dh, dw) = size, out_hw, strides, dilation
    return as_strided(xp, (n, oh, ow, kh, kw, c), (s0, s1 * sh, s2 * sw, s1 * dh, s2 * dw, s3),
                      writeable=False)


def window_slice(a: int, b: int, out_hw: tuple, strides: tuple, dilation: tuple) -> tuple:
    """The index of the elements of xₚ that kernel offset (a, b) meets: xₚ[:, rows, cols]."""
    (oh, ow), (sh, sw), (dh, dw) = out_hw, strides, dilation
    return (slice(None), slice(a * dh, a * dh + sh * (oh - 1) + 1, sh),
            slice(b * dw, b * dw + sw * (ow - 1) + 1, sw))


_SCRATCH = threading.local()
_SCRATCH_MAX = 1 << 26          # 64 MiB; larger temporaries are allocated per call


def _scratch(shape: tuple, dtype) -> np.ndarray:
    """An uninitialised array in a per-thread workspace that is reused from call to call (as
    cuDNN's workspace): a fresh multi-MiB temporary costs page faults comparable to the GEMM at
    these sizes. Only for temporaries that never leave the function that asked for them."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > _SCRATCH_MAX:
        return np.empty(shape, dtype)
    buf = getattr(_SCRATCH, "buf", None)
    if buf is None or buf.nbytes < nbytes:
        buf = _SCRATCH.buf = np.empty(nbytes, np.uint8)
    return buf[:nbytes].view(dtype).reshape(shape)


def _im2col(x, size, padding, strides, dilation) -> tuple:
    """The window matrix X (N·OH·OW, KH·KW·C), C-contiguous (in the workspace), and (OH, OW)."""
    n, h, w, c = x.shape
    kh, kw = size
    oh = _out_len(h, kh, padding[0], strides[0], dilation[0])
    ow = _out_len(w, kw, padding[1], strides[1], dilation[1])
    if oh <= 0 or ow <= 0:
        raise ValueError(f"conv2d: input of spatial size {(h, w)} with padding {padding} is smaller "
                         f"than the dilated kernel {(dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1)}")
    xp = pad_spatial(x, padding)
    out = _scratch((n, oh, ow, kh, kw, c), x.dtype)
    if c >= 8:      # long contiguous runs: one copy of the strided view
        np.copyto(out, windows(xp, size, (oh, ow), strides, dilation))
    else:           # few channels: one (strided, but long-run) copy per kernel offset is faster
        for a in range(kh):
            for b in range(kw):
                out[:, :, :, a, b, :] = xp[window_slice(a, b, (oh, ow), strides, dilation)]
    return out.reshape(n * oh * ow, kh * kw * c), (oh, ow)


# ---------------------------------------------------------------------------------------------
# Implementations on plain arrays
# ---------------------------------------------------------------------------------------------


def _conv2d_impl(x, w, b, strides, padding, dilation):
    kh, kw, c, o = w.shape
    if x.shape[-1] != c:
        raise ValueError(f"conv2d: input has {x.shape[-1]} channels (shape {x.shape}) but the kernel "
                         f"of shape {w.shape} expects {c}")
    cols, (oh, ow) = _im2col(x, (kh, kw), padding, strides, dilation)
    y = np.matmul(cols, w.reshape(kh * kw * c, o))
    if b is not None:       # the bias is added in place: no second output-sized array
        y = np.add(y, b, out=y) if np.result_type(y, b) == y.dtype else y + b
    return y.reshape(x.shape[0], oh, ow, o)


def _backprop_filter_impl(x, g, kernel_hw, strides, padding, dilation):
    cols, (oh, ow) = _im2col(x, kernel_hw, padding, strides, dilation)
    o = g.shape[-1]
    wbar = np.matmul(cols.T, g.reshape(-1, o))
    return wbar.reshape(kernel_hw + (x.shape[-1], o))


def _backprop_input_impl(g, w, in_hw, strides, padding, dilation):
    kh, kw, c, o = w.shape
    n, oh, ow, _ = g.shape
    (pt, pb), (pl, pr) = padding
    # cols[a, b] = Ḡ (N·OH·OW, O) · W[a, b]ᵀ (O, C): one batched GEMM, offset-major so that each
    # offset's block is contiguous when it is added into its window.
    wt = np.ascontiguousarray(np.swapaxes(w, 2, 3)).reshape(kh * kw, o, c)
    dtype = np.result_type(g, w)
    cols = np.matmul(g.reshape(1, n * oh * ow, o), wt,
                     out=_scratch((kh * kw, n * oh * ow, c), dtype)).reshape(kh, kw, n, oh, ow, c)
    xp = np.zeros((n, in_hw[0] + pt + pb, in_hw[1] + pl + pr, c), dtype=dtype)
    for a in range(kh):
        for b in range(kw):
            xp[window_slice(a, b, (oh, ow), strides, dilation)] += cols[a, b]
    return xp[:, pt:pt + in_hw[0], pl:pl + in_hw[1]]


# ---------------------------------------------------------------------------------------------
# Batching rules (vmap): the vmapped axis B is folded into an axis the map already treats
# independently — the batch axis N of x (or of ḡ), or the channel axis of an argument whose
# channels are independent. When both arguments are batched, the examples are looped over.
# ---------------------------------------------------------------------------------------------


def _fold_front(v):
    """(B, N, …) → (B·N, …)."""
    return mnp.reshape(v, (v.shape[0] * v.shape[1],) + tuple(v.shape[2:]))


def _unfold_front(v, size):
    return mnp.reshape(v, (size, v.shape[0] // size) + tuple(v.shape[1:]))


def _fold_into(v, axis):
    """(B, …) → the batch axis merged into ``axis`` (of the logical shape), B outermost."""
    v = mnp.moveaxis(v, 0, axis)
    shape = tuple(v.shape)
    return mnp.reshape(v, shape[:axis] + (shape[axis] * shape[axis + 1],) + shape[axis + 2:])


def _unfold_from(v, axis, size):
    """Undo :func:`_fold_into`: split ``axis`` into (B, rest) and move B to the front."""
    shape = tuple(v.shape)
    v = mnp.reshape(v, shape[:axis] + (size, shape[axis] // size) + shape[axis + 1:])
    return mnp.moveaxis(v, axis, 0)


def _loop(prim, size, vals, params):
    return mnp.stack([prim(*[None if v is None else v[k] for v in vals], **params)
                      for k in range(size)])


def _batch_conv(size, vals, bat, **p):
    x, w, b = vals
    bx, bw, bb = bat
    if bx and not bw and not bb:                    # examples of x: more images
        return _unfold_front(_conv(_fold_front(x), w, b, **p), size)
    if bx and bw:
        y = _loop(_conv, size, [x, w, None], p)
    elif bx:
        y = _unfold_front(_conv(_fold_front(x), w, None, **p), size)
    elif bw:                                        # kernels: more output channels
        y = _unfold_from(_conv(x, _fold_into(w, 3), None, **p), 3, size)
    else:                                           # only the bias: y is the same for all
        y = _conv(x, w, None, **p)
    if b is None:
        return y
    return y + (mnp.reshape(b, (size, 1, 1, 1, b.shape[-1])) if bat[2] else b)


def _batch_bp_input(size, vals, bat, **p):
    g, w = vals
    if bat[0] and not bat[1]:                       # cotangents: more images
        return _unfold_front(_bp_input(_fold_front(g), w, **p), size)
    if bat[1] and not bat[0]:                       # kernels: more input channels
        return _unfold_from(_bp_input(g, _fold_into(w, 2), **p), 3, size)
    return _loop(_bp_input, size, vals, p)


def _batch_bp_filter(size, vals, bat, **p):
    x, g = vals
    if bat[0] and not bat[1]:                       # inputs: more input channels
        return _unfold_from(_bp_filter(_fold_into(x, 3), g, **p), 2, size)
    if bat[1] and not bat[0]:                       # cotangents: more output channels
        return _unfold_from(_bp_filter(x, _fold_into(g, 3), **p), 3, size)
    return _loop(_bp_filter, size, vals, p)


# ---------------------------------------------------------------------------------------------
# Primitives and their rules (each one entry; the batching rules above)
# ---------------------------------------------------------------------------------------------


def _sum_but_channels(g):
    """Σ_{n,i,j} g[n,i,j,:] as a GEMV (1, N·OH·OW) · (N·OH·OW, O): BLAS, not a strided reduction."""
    o = g.shape[-1]
    ones = np.ones((1, g.size // o), dtype=g.dtype)
    return mnp.reshape(mnp.matmul(ones, mnp.reshape(g, (g.size // o, o))), (o,))


# y = x ⋆ w + b            x̄ = conv2d_backprop_input(ȳ, w)    w̄ = conv2d_backprop_filter(x, ȳ)
#                          b̄ = Σ_{n,i,j} ȳ[n,i,j,:]
#                          ẏ = ẋ ⋆ w + x ⋆ ẇ + ḃ
# (b may be None: no bias; its rules then never run.)
_conv = defprimitive(
    "conv2d", _conv2d_impl,
    vjp=(lambda g, y, x, w, b, **p: _bp_input(g, w, in_hw=x.shape[1:3], **p),
         lambda g, y, x, w, b, **p: _bp_filter(x, g, kernel_hw=w.shape[:2], **p),
         lambda g, y, x, w, b, **p: _sum_but_channels(g)),
    jvp=(lambda t, y, x, w, b, **p: _conv(t, w, None, **p),
         lambda t, y, x, w, b, **p: _conv(x, t, None, **p),
         lambda t, y, x, w, b, **p: t),
    batch=_batch_conv, saves="args")

# x̄ = Bᵢ(g, w), with ⟨Bᵢ(g, w), u⟩ = ⟨g, u ⋆ w⟩:   ḡ = ū ⋆ w    w̄ = conv2d_backprop_filter(ū, g)
#                          ẋ̄ = Bᵢ(ġ, w) + Bᵢ(g, ẇ)
_bp_input = defprimitive(
    "conv2d_backprop_input", _backprop_input_impl,
    vjp=(lambda u, y, g, w, in_hw, **p: _conv(u, w, None, **p),
         lambda u, y, g, w, in_hw, **p: _bp_filter(u, g, kernel_hw=w.shape[:2], **p)),
    jvp=(lambda t, y, g, w, **p: _bp_input(t, w, **p),
         lambda t, y, g, w, **p: _bp_input(g, t, **p)),
    batch=_batch_bp_input, saves="args")

# w̄ = B_f(x, g), with ⟨B_f(x, g), v⟩ = ⟨x ⋆ v, g⟩:  x̄ = conv2d_backprop_input(g, v̄)   ḡ = x ⋆ v̄
#                          ẇ̄ = B_f(ẋ, g) + B_f(x, ġ)
_bp_filter = defprimitive(
    "conv2d_backprop_filter", _backprop_filter_impl,
    vjp=(lambda v, y, x, g, kernel_hw, **p: _bp_input(g, v, in_hw=x.shape[1:3], **p),
         lambda v, y, x, g, kernel_hw, **p: _conv(x, v, None, **p)),
    jvp=(lambda t, y, x, g, **p: _bp_filter(t, g, **p),
         lambda t, y, x, g, **p: _bp_filter(x, t, **p)),
    batch=_batch_bp_filter, saves="args")


# ---------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------


def _explicit_padding(padding: Any, in_hw: Sequence, size: tuple, strides: tuple,
                      dilation: tuple) -> tuple:
    if isinstance(padding, str):
        mode = padding.lower()
        if mode not in ("valid", "same", "causal"):
            raise ValueError(f"`padding` must be 'valid', 'same' or 'causal', received "
                             f"padding={padding!r}")
        return tuple(conv_padding(n, k, mode, s, d) for n, k, s, d in zip(in_hw, size, strides, dilation))
    try:
        pads = tuple((int(lo), int(hi)) for lo, hi in padding)
    except (TypeError, ValueError):
        pads = ()
    if len(pads) != len(size) or any(v < 0 for pr in pads for v in pr):
        raise ValueError(f"`padding` must be 'valid', 'same' or {len(size)} non-negative "
                         f"(before, after) pairs, received padding={padding!r}")
    return pads


def conv2d(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1):
    """2-D cross-correlation, channels last: x (N, H, W, C), kernel (KH, KW, C, O), optional bias
    (O,) → (N, OH, OW, O).

    y[n,i,j,o] = Σ_{a,b,c} xₚ[n, i·sh + a·dh, j·sw + b·dw, c] · w[a,b,c,o] + b[o]  (as
    ``keras.ops.conv`` and ``torch.nn.functional.conv2d`` up to layout). ``padding``: "valid",
    "same" (TensorFlow's: an odd extra zero goes after) or explicit ((top, bottom), (left, right)).

    >>> import numpy as np
    >>> conv2d(np.ones((1, 3, 3, 1)), np.ones((2, 2, 1, 1)))[0, :, :, 0]
    array([[4., 4.],
           [4., 4.]])
    """
    x, kernel = _arr(x), _arr(kernel)
    if x.ndim != 4 or kernel.ndim != 4:
        raise ValueError(f"conv2d: expected x of rank 4 (N, H, W, C) and kernel of rank 4 "
                         f"(KH, KW, C, O), received shapes {x.shape} and {kernel.shape}")
    if x.shape[3] != kernel.shape[2]:
        raise ValueError(f"conv2d: x has {x.shape[3]} channels (shape {x.shape}) but the kernel "
                         f"(shape {kernel.shape}) expects {kernel.shape[2]}")
    strides = normalize_tuple(strides, 2, "strides")
    dilation = normalize_tuple(dilation_rate, 2, "dilation_rate")
    if isinstance(padding, str) and padding.lower() == "causal":
        raise ValueError("conv2d: padding='causal' is for 1-D convolutions (conv1d); received "
                         "padding='causal'")
    size = tuple(kernel.shape[:2])
    pads = _explicit_padding(padding, x.shape[1:3], size, strides, dilation)
    for n, k, pr, d, axis in zip(x.shape[1:3], size, pads, dilation, ("height", "width")):
        if n + pr[0] + pr[1] < d * (k - 1) + 1:
            raise ValueError(f"conv2d: input {axis} {n} (padded {n + pr[0] + pr[1]}) is smaller "
                             f"than the dilated kernel {d * (k - 1) + 1}; x shape {x.shape}, "
                             f"kernel shape {kernel.shape}")
    if bias is not None:
        bias = _arr(bias)
        if bias.shape != (kernel.shape[3],):
            raise ValueError(f"conv2d: bias must have shape ({kernel.shape[3]},) for a kernel of "
                             f"shape {kernel.shape}, received {bias.shape}")
    return _conv(x, kernel, bias, strides=strides, padding=pads, dilation=dilation)


def conv1d(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1):
    """1-D cross-correlation, channels last: x (N, L, C), kernel (K, C, O), optional bias (O,)
    → (N, OL, O), as a conv2d over a height of 1. ``padding``: "valid", "same", "causal" (d(K − 1) zeros before) or
    an explicit (before, after).

    >>> import numpy as np
    >>> conv1d(np.arange(4.0).reshape(1, 4, 1), np.ones((2, 1, 1)))[0, :, 0]
    array([1., 3., 5.])
    """
    x, kernel = _arr(x), _arr(kernel)
    if x.ndim != 3 or kernel.ndim != 3:
        raise ValueError(f"conv1d: expected x of rank 3 (N, L, C) and kernel of rank 3 (K, C, O), "
                         f"received shapes {x.shape} and {kernel.shape}")
    (stride,) = normalize_tuple(strides, 1, "strides")
    (dil,) = normalize_tuple(dilation_rate, 1, "dilation_rate")
    if isinstance(padding, str):
        pads = ((0, 0), _explicit_padding(padding, x.shape[1:2], kernel.shape[:1], (stride,), (dil,))[0])
    else:
        pads = ((0, 0),) + _explicit_padding((padding,), x.shape[1:2], kernel.shape[:1], (stride,), (dil,))
    y = conv2d(mnp.expand_dims(x, 1), mnp.expand_dims(kernel, 0), bias, strides=(1, stride),
               padding=pads, dilation_rate=(1, dil))
    return mnp.squeeze(y, 1)


def conv2d_transpose(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1,
                     output_padding=None):
    """2-D transposed convolution, channels last (Keras's ``conv_transpose``; Dumoulin & Visin
    2016, §4): x (N, H, W, C), kernel (KH, KW, O, C) — *output* channels before input channels, as
    Keras stores it — optional bias (O,) → (N, OH, OW, O), OH from
    :func:`conv_transpose_output_length`.

    It is the adjoint of the convolution u ↦ u ⋆ kernel of an (N, OH, OW, O) input u with
    TensorFlow's padding for that size (``conv2d_backprop_input``): ⟨y, u⟩ = ⟨x, u ⋆ kernel⟩,
    so its derivatives are a convolution and a kernel gradient (all orders, every mode).

    >>> import numpy as np
    >>> conv2d_transpose(np.ones((1, 2, 2, 1)), np.ones((2, 2, 1, 1)), strides=2)[0, :, :, 0]
    array([[1., 1., 1., 1.],
           [1., 1., 1., 1.],
           [1., 1., 1., 1.],
           [1., 1., 1., 1.]])
    """
    x, kernel = _arr(x), _arr(kernel)
    if x.ndim != 4 or kernel.ndim != 4:
        raise ValueError(f"conv2d_transpose: expected x of rank 4 (N, H, W, C) and kernel of rank 4 "
                         f"(KH, KW, O, C), received shapes {x.shape} and {kernel.shape}")
    if x.shape[3] != kernel.shape[3]:
        raise ValueError(f"conv2d_transpose: x has {x.shape[3]} channels (shape {x.shape}) but the "
                         f"kernel (shape {kernel.shape}, (KH, KW, O, C)) expects {kernel.shape[3]}")
    strides = normalize_tuple(strides, 2, "strides")
    dilation = normalize_tuple(dilation_rate, 2, "dilation_rate")
    mode = padding.lower() if isinstance(padding, str) else padding
    if mode not in ("valid", "same"):
        raise ValueError(f"conv2d_transpose: `padding` must be 'valid' or 'same', received "
                         f"padding={padding!r}")
    ops = (None, None) if output_padding is None else normalize_tuple(
        output_padding, 2, "output_padding", allow_zero=True)
    for p, s in zip(ops, strides):
        if p is not None and p >= s:
            raise ValueError(f"conv2d_transpose: `output_padding` must be smaller than the strides "
                             f"{strides}, received output_padding={output_padding!r}")
    size = tuple(kernel.shape[:2])
    out_hw = tuple(conv_transpose_output_length(n, k, mode, s, d, p) for n, k, s, d, p in
                   zip(x.shape[1:3], size, strides, dilation, ops))
    pads = tuple(conv_padding(n, k, mode, s, d) for n, k, s, d in zip(out_hw, size, strides, dilation))
    for n, k, pr, s, d, got in zip(out_hw, size, pads, strides, dilation, x.shape[1:3]):
        if n <= 0 or _out_len(n, k, pr, s, d) != got:
            raise ValueError(f"conv2d_transpose: no output size fits input {x.shape} with kernel "
                             f"{kernel.shape}, strides {strides}, padding {padding!r} and "
                             f"output_padding {output_padding!r}")
    if bias is not None:
        bias = _arr(bias)
        if bias.shape != (kernel.shape[2],):
            raise ValueError(f"conv2d_transpose: bias must have shape ({kernel.shape[2]},) for a "
                             f"kernel of shape {kernel.shape}, received {bias.shape}")
    y = _bp_input(x, kernel, in_hw=out_hw, strides=strides, padding=pads, dilation=dilation)
    return y if bias is None else y + bias


def conv1d_transpose(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1,
                     output_padding=None):
    """1-D transposed convolution, channels last: x (N, L, C), kernel (K, O, C), optional bias
    (O,) → (N, OL, O), as :func:`conv2d_transpose` over a height of 1.

    >>> import numpy as np
    >>> conv1d_transpose(np.array([[[1.0], [2.0]]]), np.ones((2, 1, 1)))[0, :, 0]
    array([1., 3., 2.])
    """
    x, kernel = _arr(x), _arr(kernel)
    if x.ndim != 3 or kernel.ndim != 3:
        raise ValueError(f"conv1d_transpose: expected x of rank 3 (N, L, C) and kernel of rank 3 "
                         f"(K, O, C), received shapes {x.shape} and {kernel.shape}")
    (stride,) = normalize_tuple(strides, 1, "strides")
    (dil,) = normalize_tuple(dilation_rate, 1, "dilation_rate")
    op = None if output_padding is None else (0, normalize_tuple(output_padding, 1,
                                                                 "output_padding", allow_zero=True)[0])
    y = conv2d_transpose(mnp.expand_dims(x, 1), mnp.expand_dims(kernel, 0), bias,
                         strides=(1, stride), padding=padding, dilation_rate=(1, dil),
                         output_padding=op)
    return mnp.squeeze(y, 1)


def _arr(a):
    return a if hasattr(a, "ndim") else np.asarray(a)
