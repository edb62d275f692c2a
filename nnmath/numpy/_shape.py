"""Shape and indexing: linear maps that move, copy or select elements.

Every primitive here is linear in its array argument(s): its JVP is the same operation applied to
the tangent, and its VJP is the transpose map (reshape back, transpose by the inverse permutation,
scatter-add what a gather picked, slice out what a pad added). Everything else (expand_dims, stack,
split, tile, repeat, flip, diagonal, take, sort, …) is a composite of these.

Vocabulary: ``g`` = ȳ, ``t`` = ẋ, ``y`` = forward output.
"""
from __future__ import annotations

import builtins
import math

import numpy as np

from .._core.batching import align
from .._core.declare import Variadic, defprimitive
from ._helpers import linear
from ._helpers import primal_value

# ---------------------------------------------------------------------------------------------
# Primitives (all linear with real coefficients, so their rules hold for complex values as
# they are: the transpose under the pairing Re(c·w) is the plain transpose)
# ---------------------------------------------------------------------------------------------


def _reshape_impl(x, shape):
    return np.reshape(x, shape)


# y = reshape(x)                  x̄ = reshape(ȳ, x.shape)
_reshape = linear("reshape", _reshape_impl, lambda g, y, x, shape: _reshape(g, shape=x.shape),
                  batch=lambda size, vals, bat, shape: _reshape(vals[0], shape=(size,) + tuple(shape)),
                  complex_rules=True)


def _transpose_impl(x, axes):
    return np.transpose(x, axes)


# y = transpose(x, p)             x̄ = transpose(ȳ, p⁻¹)
_transpose = linear("transpose", _transpose_impl,
                    lambda g, y, x, axes: _transpose(g, axes=tuple(np.argsort(axes))),
                    batch=lambda size, vals, bat, axes: _transpose(
                        vals[0], axes=(0,) + tuple(a + 1 for a in axes)),
                    complex_rules=True)


def _broadcast_to_impl(x, shape):
    if math.prod(shape) <= 4096:         # small: a copy is cheaper to make than a view
        return np.full(shape, x, dtype=x.dtype if hasattr(x, "dtype") else None)
    return np.broadcast_to(x, shape)


# y = broadcast(x)                x̄ = ȳ summed over broadcast axes (by fit_cotangent)
_broadcast_to = linear("broadcast_to", _broadcast_to_impl, lambda g, y, x, shape: g,
                       batch=lambda size, vals, bat, shape: _broadcast_to(
                           align(vals, bat, len(shape))[0], shape=(size,) + tuple(shape)),
                       complex_rules=True)


def _has_advanced(idx: tuple) -> bool:
    """Integer-array indices, which may repeat an element (so additions must accumulate)."""
    return any(isinstance(i, list) or (isinstance(i, np.ndarray) and i.dtype.kind in "iu")
               for i in idx)


def _getitem_impl(x, idx):
    return x[idx]


def _index_add_impl(x, v, idx):
    y = np.array(x, copy=True)
    if _has_advanced(idx):
        np.add.at(y, idx, v)      # repeated indices accumulate
    else:
        y[idx] += v
    return y


def _index_set_impl(x, v, idx):
    y = np.array(x, copy=True)
    y[idx] = v
    return y


# y = x[idx]  (a gather)          x̄ = zeros with ȳ added at idx (scatter-add)
def _scatter(g, x, idx):
    """zeros like x with g added at idx; staged when only the index is being recorded by jit
    (the cotangent of a sort under jit(grad(...)): indices computed from values)."""
    if not hasattr(g, "_trace"):
        staged = next((k for k in idx if getattr(k, "_staged", False)), None)
        if staged is not None:
            return staged._trace.stage(_index_add_impl, (np.zeros(x.shape, g.dtype), g), {"idx": idx})
    return _index_add(np.zeros(x.shape, g.dtype), g, idx=idx)


getitem = linear("getitem", _getitem_impl, lambda g, y, x, idx: _scatter(g, x, idx),
                 batch=lambda size, vals, bat, idx: _batch_getitem(size, vals, bat, idx),
                 complex_rules=True)
# y = x with v added at idx       x̄ = ȳ,  v̄ = ȳ[idx]          ẏ = ẋ + scatter(v̇)
_index_add = defprimitive(
    "index_add", _index_add_impl,
    vjp=(lambda g, y, x, v, idx: g, lambda g, y, x, v, idx: getitem(g, idx=idx)),
    jvp=(lambda t, y, x, v, idx: t,
         lambda t, y, x, v, idx: _index_add(np.zeros(y.shape, t.dtype), t, idx=idx)),
    batch=lambda size, vals, bat, idx: _batch_index_update(_index_add, size, vals, bat, idx),
    saves="none", complex_rules=True)
# y = x with v written at idx     x̄ = ȳ with 0 at idx, v̄ = ȳ[idx]
_index_set = defprimitive(
    "index_set", _index_set_impl,
    vjp=(lambda g, y, x, v, idx: _index_set(g, 0.0, idx=idx),
         lambda g, y, x, v, idx: getitem(g, idx=idx)),
    jvp=(lambda t, y, x, v, idx: _index_set(t, 0.0, idx=idx),
         lambda t, y, x, v, idx: _index_set(np.zeros(y.shape, t.dtype), t, idx=idx)),
    batch=lambda size, vals, bat, idx: _batch_index_update(_index_set, size, vals, bat, idx),
    saves="none", complex_rules=True)


def _concatenate_impl(*xs, axis):
    return np.concatenate(xs, axis=axis)


def _concat_vjp(i, g, y, *xs, axis):
    start = int(np.sum([x.shape[axis] for x in xs[:i]]))
    sl = [slice(None)] * g.ndim
    sl[axis] = slice(start, start + xs[i].shape[axis])
    return getitem(g, idx=tuple(sl))


def _concat_jvp(i, t, y, *xs, axis):
    parts = [t if j == i else np.zeros(x.shape, t.dtype) for j, x in enumerate(xs)]
    return _concatenate(*parts, axis=axis)


# y = [x₁ x₂ … ] along axis       x̄ᵢ = the slice of ȳ that xᵢ filled
_concatenate = defprimitive("concatenate", _concatenate_impl, vjp=Variadic(_concat_vjp),
                            jvp=Variadic(_concat_jvp),
                            batch=lambda size, vals, bat, axis: _batch_concatenate(size, vals, bat, axis),
                            saves="none", complex_rules=True)


def _pad_impl(x, pad_width, constant_values):
    return np.pad(x, pad_width, mode="constant", constant_values=constant_values)


def _unpad(g, pad_width):
    return getitem(g, idx=tuple(slice(lo, n - hi) for (lo, hi), n in zip(pad_width, g.shape)))


# y = x framed by constants       x̄ = the interior of ȳ
_pad = defprimitive(
    "pad", _pad_impl, vjp=lambda g, y, x, pad_width, constant_values: _unpad(g, pad_width),
    jvp=lambda t, y, x, pad_width, constant_values: _pad(t, pad_width=pad_width, constant_values=0),
    batch=lambda size, vals, bat, pad_width, constant_values: _pad(
        vals[0], pad_width=((0, 0),) + pad_width, constant_values=constant_values),
    saves="none", complex_rules=True)


def _roll_impl(x, shift, axis):
    return np.roll(x, shift, axis)


def _neg(shift):
    return tuple(-s for s in shift) if isinstance(shift, tuple) else -shift


# y = roll(x, s)                  x̄ = roll(ȳ, −s)
_roll = linear("roll", _roll_impl, lambda g, y, x, shift, axis: _roll(g, shift=_neg(shift), axis=axis),
               batch=lambda size, vals, bat, shift, axis: _batch_roll(size, vals, bat, shift, axis),
               complex_rules=True)


def _triu_impl(x, k):
    return np.triu(x, k)


def _tril_impl(x, k):
    return np.tril(x, k)


# y = upper triangle of x         x̄ = upper triangle of ȳ (a projection: its own transpose)
_triu = linear("triu", _triu_impl, lambda g, y, x, k: _triu(g, k=k), batch="leading",
               complex_rules=True)
# y = lower triangle of x         x̄ = lower triangle of ȳ
_tril = linear("tril", _tril_impl, lambda g, y, x, k: _tril(g, k=k), batch="leading",
               complex_rules=True)

# ---------------------------------------------------------------------------------------------
# Batching rules (vmap): the batch axis is axis 0 of every stacked value
# ---------------------------------------------------------------------------------------------


def _stacked(size, v, b):
    """A stacked copy of ``v``: itself if batched, else broadcast along a new leading axis."""
    return v if b else broadcast_to(v, (size,) + tuple(np.shape(v) if not hasattr(v, "shape") else v.shape))


def _advanced_split(idx: tuple) -> bool:
    """Are the advanced (array or integer) indices separated by a slice, None or Ellipsis? Then
    numpy puts their dimensions first, in front of the batch axis."""
    arrays = [k for k, i in enumerate(idx) if isinstance(i, (np.ndarray, list))]
    if not arrays:
        return False
    adv = [k for k, i in enumerate(idx) if isinstance(i, (np.ndarray, list, int, np.integer))]
    return any(not isinstance(idx[k], (np.ndarray, list, int, np.integer)) for k in range(adv[0], adv[-1]))


def _batch_getitem(size, vals, bat, idx):
    x = vals[0]
    y = getitem(x, idx=(slice(None),) + idx)
    if _advanced_split(idx):
        nadv = np.broadcast_shapes(*[np.shape(i) for i in idx if isinstance(i, (np.ndarray, list))])
        y = moveaxis(y, len(nadv), 0)
    return y


def _batch_index_update(prim, size, vals, bat, idx):
    if _advanced_split(idx):
        raise NotImplementedError("x.at[idx] with advanced indices separated by slices is not "
                                  "supported inside vmap")
    x, v = _stacked(size, vals[0], bat[0]), vals[1]
    full = (slice(None),) + idx
    sub = np.broadcast_to(np.empty((), bool), tuple(x.shape))[full].shape
    if bat[1]:
        v = v.reshape((size,) + (1,) * (len(sub) - v.ndim) + tuple(v.shape[1:]))
    return prim(x, v, idx=full)


def _batch_concatenate(size, vals, bat, axis):
    return _concatenate(*[_stacked(size, v, b) for v, b in zip(vals, bat)], axis=axis + 1)


def _batch_roll(size, vals, bat, shift, axis):
    x = vals[0]
    if axis is None:
        return reshape(_roll(reshape(x, (size, -1)), shift=shift, axis=1), x.shape)
    axis = tuple(a + 1 if a >= 0 else a for a in axis) if isinstance(axis, tuple) else (
        axis + 1 if axis >= 0 else axis)
    return _roll(x, shift=shift, axis=axis)



# ---------------------------------------------------------------------------------------------
# Public functions (numpy signatures)
# ---------------------------------------------------------------------------------------------


def _arr(a):
    return a if hasattr(a, "ndim") else np.asarray(a)


def reshape(a, shape, order="C"):
    """``numpy.reshape`` (C order)."""
    if order != "C":
        raise NotImplementedError(f"reshape: order={order!r} is not supported; use order='C'")
    a = _arr(a)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
    if -1 in shape:
        shape = _resolve_shape(a.size, shape)
    if shape == a.shape:
        return a
    if math.prod(shape) != a.size:
        raise ValueError(f"reshape: cannot reshape array of shape {a.shape} (size {a.size}) into "
                         f"shape {shape}")
    return _reshape(a, shape=shape)


def _resolve_shape(size: int, shape: tuple) -> tuple:
    known = math.prod(s for s in shape if s != -1)
    if shape.count(-1) > 1 or known == 0 or size % known:
        raise ValueError(f"reshape: cannot reshape array of size {size} into shape {shape}")
    return tuple(size // known if s == -1 else s for s in shape)


def ravel(a, order="C"):
    """``numpy.ravel``."""
    return reshape(a, (-1,), order)


def transpose(a, axes=None):
    """``numpy.transpose``."""
    a = _arr(a)
    axes = tuple(range(a.ndim))[::-1] if axes is None else tuple(int(i) % a.ndim for i in axes)
    if sorted(axes) != list(range(a.ndim)):
        raise ValueError(f"transpose: axes {axes} are not a permutation of the {a.ndim} axes")
    if axes == tuple(range(a.ndim)):
        return a
    return _transpose(a, axes=axes)


def matrix_transpose(a):
    """Swap the last two axes."""
    return swapaxes(a, -1, -2)


def swapaxes(a, axis1, axis2):
    """``numpy.swapaxes``."""
    a = _arr(a)
    axes = list(range(a.ndim))
    i, j = int(axis1) % a.ndim, int(axis2) % a.ndim
    axes[i], axes[j] = axes[j], axes[i]
    return transpose(a, axes)


def moveaxis(a, source, destination):
    """``numpy.moveaxis``."""
    a = _arr(a)
    src = [int(s) % a.ndim for s in np.atleast_1d(source)]
    dst = [int(d) % a.ndim for d in np.atleast_1d(destination)]
    order = [n for n in range(a.ndim) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(a, order)


def expand_dims(a, axis):
    """``numpy.expand_dims``."""
    a = _arr(a)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    ndim = a.ndim + len(axes)
    axes = sorted(int(x) % ndim for x in axes)
    shape = list(a.shape)
    for ax in axes:
        shape.insert(ax, 1)
    return reshape(a, tuple(shape))


def squeeze(a, axis=None):
    """``numpy.squeeze``."""
    a = _arr(a)
    if axis is None:
        axes = [i for i, n in enumerate(a.shape) if n == 1]
    else:
        axes = [int(x) % a.ndim for x in np.atleast_1d(axis)]
        bad = [x for x in axes if a.shape[x] != 1]
        if bad:
            raise ValueError(f"squeeze: cannot select axis {bad[0]}: it has size {a.shape[bad[0]]}, "
                             f"not 1 (shape {a.shape})")
    return reshape(a, tuple(n for i, n in enumerate(a.shape) if i not in axes))


def broadcast_to(array, shape):
    """``numpy.broadcast_to``."""
    array = _arr(array)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if array.shape == shape:
        return array
    try:
        np.broadcast_shapes(array.shape, shape)
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast an array of shape {array.shape} to shape "
                         f"{shape}") from None
    return _broadcast_to(array, shape=shape)


def broadcast_arrays(*args):
    """``numpy.broadcast_arrays``."""
    shape = np.broadcast_shapes(*[np.shape(a) if not hasattr(a, "shape") else a.shape for a in args])
    return [broadcast_to(a, shape) for a in args]


def concatenate(arrays, axis=0):
    """``numpy.concatenate`` (``axis=None`` flattens first)."""
    arrays = [_arr(a) for a in arrays]
    if not arrays:
        raise ValueError("concatenate: need at least one array to concatenate")
    if axis is None:
        arrays, axis = [ravel(a) for a in arrays], 0
    ndim = arrays[0].ndim
    axis = int(axis) % max(ndim, 1)
    for k, a in enumerate(arrays):
        if a.ndim != ndim or any(a.shape[d] != arrays[0].shape[d] for d in range(ndim) if d != axis):
            raise ValueError(f"concatenate: array {k} has shape {a.shape}, which does not fit array "
                             f"0 of shape {arrays[0].shape} along axis {axis}")
    if len(arrays) == 1:
        return arrays[0]
    return _concatenate(*arrays, axis=axis)


def stack(arrays, axis=0):
    """``numpy.stack``."""
    arrays = [_arr(a) for a in arrays]
    if not arrays:
        raise ValueError("stack: need at least one array to stack")
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"stack: all input arrays must have the same shape, got {sorted(shapes)}")
    return concatenate([expand_dims(a, axis) for a in arrays], axis=axis)


def hstack(tup):
    """``numpy.hstack``."""
    arrs = [atleast_1d(a) for a in tup]
    return concatenate(arrs, axis=0 if arrs[0].ndim == 1 else 1)


def vstack(tup):
    """``numpy.vstack``."""
    return concatenate([atleast_2d(a) for a in tup], axis=0)


def dstack(tup):
    """``numpy.dstack``."""
    return concatenate([atleast_3d(a) for a in tup], axis=2)


def column_stack(tup):
    """``numpy.column_stack``."""
    return concatenate([reshape(a, (-1, 1)) if _arr(a).ndim == 1 else a for a in tup], axis=1)


def atleast_1d(a):
    a = _arr(a)
    return reshape(a, (1,)) if a.ndim == 0 else a


def atleast_2d(a):
    a = _arr(a)
    return reshape(a, (1,) * (2 - a.ndim) + a.shape) if a.ndim < 2 else a


def atleast_3d(a):
    a = _arr(a)
    if a.ndim == 0:
        return reshape(a, (1, 1, 1))
    if a.ndim == 1:
        return reshape(a, (1, a.shape[0], 1))
    if a.ndim == 2:
        return reshape(a, a.shape + (1,))
    return a


def _split_points(n: int, indices_or_sections, strict: bool):
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k <= 0:
            raise ValueError(f"split: number of sections must be positive, got {k}")
        if strict and n % k:
            raise ValueError(f"split: array of length {n} does not divide into {k} equal sections")
        sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
        return np.cumsum([0] + sizes)
    return np.concatenate([[0], np.asarray(indices_or_sections, dtype=int), [n]])


def _split(ary, indices_or_sections, axis, strict):
    ary = _arr(ary)
    axis = int(axis) % ary.ndim
    points = _split_points(ary.shape[axis], indices_or_sections, strict)
    out = []
    for lo, hi in zip(points[:-1], points[1:]):
        sl = [slice(None)] * ary.ndim
        sl[axis] = slice(int(lo), int(hi))
        out.append(ary[tuple(sl)])
    return out


def split(ary, indices_or_sections, axis=0):
    """``numpy.split``."""
    return _split(ary, indices_or_sections, axis, strict=True)


def array_split(ary, indices_or_sections, axis=0):
    """``numpy.array_split``."""
    return _split(ary, indices_or_sections, axis, strict=False)


def flip(m, axis=None):
    """``numpy.flip``."""
    m = _arr(m)
    axes = range(m.ndim) if axis is None else [int(a) % m.ndim for a in np.atleast_1d(axis)]
    idx = [slice(None)] * m.ndim
    for a in axes:
        idx[a] = slice(None, None, -1)
    return m[tuple(idx)]


def fliplr(m):
    return flip(m, 1)


def flipud(m):
    return flip(m, 0)


def roll(a, shift, axis=None):
    """``numpy.roll``."""
    a = _arr(a)
    shift = tuple(int(s) for s in shift) if isinstance(shift, (tuple, list)) else int(shift)
    axis = tuple(int(s) for s in axis) if isinstance(axis, (tuple, list)) else axis
    return _roll(a, shift=shift, axis=axis)


def tile(A, reps):
    """``numpy.tile``, as a broadcast and a reshape."""
    A = _arr(A)
    reps = (int(reps),) if isinstance(reps, (int, np.integer)) else tuple(int(r) for r in reps)
    d = builtins.max(A.ndim, len(reps))
    shape = (1,) * (d - A.ndim) + A.shape
    reps = (1,) * (d - len(reps)) + reps
    x = reshape(A, tuple(s for n in shape for s in (1, n)))
    x = broadcast_to(x, tuple(s for r, n in zip(reps, shape) for s in (r, n)))
    return reshape(x, tuple(r * n for r, n in zip(reps, shape)))


def repeat(a, repeats, axis=None):
    """``numpy.repeat``, as a gather."""
    a = _arr(a)
    if axis is None:
        a, axis = ravel(a), 0
    axis = int(axis) % a.ndim
    index = np.repeat(np.arange(a.shape[axis]), primal_value(repeats))
    return take(a, index, axis=axis)


def _gather(a, key: tuple):
    """``a[key]``, also for a plain array indexed by index arrays that jit is recording."""
    if not hasattr(a, "_trace"):
        staged = next((k for k in key if getattr(k, "_staged", False)), None)
        if staged is not None:
            return staged._trace.stage(_getitem_impl, (a,), {"idx": key})
    return a[key]


def take(a, indices, axis=None):
    """``numpy.take``, as indexing."""
    a = _arr(a)
    if axis is None:
        return _gather(ravel(a), (_index_array(indices),))
    axis = int(axis) % a.ndim
    return _gather(a, (slice(None),) * axis + (_index_array(indices),))


def take_along_axis(arr, indices, axis):
    """``numpy.take_along_axis``, as indexing with broadcast index arrays."""
    arr = _arr(arr)
    indices = _index_array(indices)
    if axis is None:
        return _gather(ravel(arr), (indices,))
    axis = int(axis) % arr.ndim
    idx = [np.arange(n).reshape([-1 if i == d else 1 for i in range(indices.ndim)])
           for d, n in enumerate(indices.shape)]
    idx[axis] = indices
    return _gather(arr, tuple(idx))


def sort(a, axis=-1):
    """``numpy.sort``: a permutation, so its derivative routes each cotangent to where the element
    came from."""
    a = _arr(a)
    if axis is None:
        a, axis = ravel(a), 0
    return take_along_axis(a, np.argsort(primal_value(a), axis=axis, kind="stable"), axis)


def diagonal(a, offset=0, axis1=0, axis2=1):
    """``numpy.diagonal`` (as a gather; the diagonal comes last)."""
    a = _arr(a)
    x = moveaxis(a, (int(axis1) % a.ndim, int(axis2) % a.ndim), (-2, -1))
    n, m = x.shape[-2], x.shape[-1]
    k = int(offset)
    length = builtins.max(0, builtins.min(n, m - k) if k >= 0 else builtins.min(n + k, m))
    rows = np.arange(length) + builtins.max(-k, 0)
    cols = np.arange(length) + builtins.max(k, 0)
    return x[..., rows, cols]


def diag(v, k=0):
    """``numpy.diag``: the k-th diagonal of a matrix, or a matrix with v on its k-th diagonal."""
    v = _arr(v)
    if v.ndim == 2:
        return diagonal(v, k)
    if v.ndim != 1:
        raise ValueError(f"diag: input must be 1-D or 2-D, got shape {v.shape}")
    n = v.shape[0] + abs(int(k))
    rows = np.arange(v.shape[0]) + builtins.max(-int(k), 0)
    cols = np.arange(v.shape[0]) + builtins.max(int(k), 0)
    return _index_set(np.zeros((n, n), v.dtype), v, idx=(rows, cols))


def trace(a, offset=0, axis1=0, axis2=1):
    """``numpy.trace``: Σ of a diagonal."""
    from ._reductions import sum
    return sum(diagonal(a, offset, axis1, axis2), axis=-1)


def triu(m, k=0):
    """``numpy.triu``."""
    return _triu(_arr(m), k=int(k))


def tril(m, k=0):
    """``numpy.tril``."""
    return _tril(_arr(m), k=int(k))


def _normalize_pad_width(pad_width, ndim: int) -> tuple:
    pw = np.broadcast_to(np.asarray(primal_value(pad_width), dtype=int), (ndim, 2))
    if np.any(pw < 0):
        raise ValueError(f"pad: pad_width must be non-negative, got {pad_width!r}")
    return tuple((int(lo), int(hi)) for lo, hi in pw)


def pad(array, pad_width, mode="constant", constant_values=0, **kwargs):
    """``numpy.pad``. Constant mode is a primitive; every other mode is a gather (the index pattern
    numpy's pad produces on ``arange``), so all modes are differentiable."""
    array = _arr(array)
    pw = _normalize_pad_width(pad_width, array.ndim)
    if mode == "constant":
        return _pad(array, pad_width=pw, constant_values=primal_value(constant_values))
    if mode not in ("edge", "reflect", "symmetric", "wrap") or kwargs.get("reflect_type", "even") != "even":
        raise NotImplementedError(
            f"pad: mode={mode!r}{' with reflect_type=' + repr(kwargs['reflect_type']) if 'reflect_type' in kwargs else ''}"
            f" is not differentiable in nnmath; supported: 'constant', 'edge', 'reflect', 'symmetric', "
            f"'wrap' (even reflection)")
    index = np.pad(np.arange(array.size).reshape(array.shape), pw, mode=mode, **kwargs)
    return ravel(array)[index]


def copy(a):
    """``numpy.copy`` (values are immutable under tracing, so the identity)."""
    return a if hasattr(a, "_trace") else np.copy(a)


def _index_of(key):
    """The index as numpy takes it: traced index arrays become constants, except under jit, where
    a staged index array stays a variable of the plan."""
    key = key if isinstance(key, tuple) else (key,)
    return tuple(_index_array(k) if hasattr(k, "_trace") else k for k in key)


def _index_array(k):
    k = primal_value(k)
    return k if getattr(k, "_staged", False) else np.asarray(k)


class _IndexUpdate:
    """``x.at[idx].set(v)``: JAX's functional update, for traced and plain arrays alike."""

    __slots__ = ("x", "idx")

    def __init__(self, x, idx):
        self.x, self.idx = x, idx

    def get(self):
        return getitem(self.x, idx=self.idx)

    def set(self, values):
        return _index_set(self.x, values, idx=self.idx)

    def add(self, values):
        return _index_add(self.x, values, idx=self.idx)

    def multiply(self, values):
        if _has_advanced(self.idx):
            hit = np.zeros(self.x.shape, np.int64)
            np.add.at(hit, self.idx, 1)
            if hit.max() > 1:
                if hasattr(values, "_trace"):
                    raise NotImplementedError("x.at[idx].multiply(v) with repeated indices and a traced "
                                              "v is not supported; combine the repeated factors first")
                factor = np.ones(self.x.shape, np.result_type(self.x.dtype, values))
                np.multiply.at(factor, self.idx, values)      # repeated indices multiply repeatedly
                return self.x * factor.astype(self.x.dtype, copy=False)
        factor = _index_set(np.ones(self.x.shape, self.x.dtype), values, idx=self.idx)
        return self.x * factor

    mul = multiply


class _At:
    __slots__ = ("x",)

    def __init__(self, x):
        self.x = x

    def __getitem__(self, key):
        return _IndexUpdate(self.x, _index_of(key))


def at(x):
    """``mnp.at(x)[idx].set(v)``: the functional update for plain arrays too (traced arrays also
    have ``x.at[idx]``)."""
    return _At(_arr(x))

