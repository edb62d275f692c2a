"""Products: matmul and einsum (bilinear/multilinear primitives) and the composites on them
(dot, vdot, inner, outer, tensordot, kron).

Vocabulary: ``g`` = Ȳ, ``t`` = Ẋ. For Y = AB (Matrix Cookbook eq. 37; Giles 2008 §2.2.1):
    Ā = Ȳ Bᵀ,   B̄ = Aᵀ Ȳ,   Ẏ = Ȧ B + A Ḃ.
For einsum, the cotangent of operand i is the einsum of Ȳ with every other operand onto operand
i's indices; indices that appear in operand i alone are broadcast back, repeated indices (a
diagonal) are put back on the diagonal.

Complex operands: the rules hold as written (JAX's convention, z̄ paired as Re(z̄·dz)): plain
transposes Bᵀ, never conjugate ones Bᴴ.
"""
from __future__ import annotations

import string

import numpy as np

from .._core.batching import align, logical_ndim
from .._core.declare import Variadic
from ._elementwise import conjugate
from ._helpers import bilinear
from ._shape import _transpose, broadcast_to, expand_dims, ravel, reshape


def _matmul_impl(a, b):
    return np.matmul(a, b)


def _mT(x):
    """Swap the last two axes (the primitive directly: this sits on every matmul's backward)."""
    n = x.ndim
    return _transpose(x, axes=tuple(range(n - 2)) + (n - 1, n - 2))


def _batch_matmul(size, vals, bat):
    # numpy's stacked matmul broadcasts the batch itself; measured as fast as folding the batch
    # into one GEMM by hand, and it never copies a transposed operand.
    return _matmul(*align(vals, bat, logical_ndim(vals, bat)))


# Y = A B  (batched, ndim ≥ 2; bilinear)    Ā = Ȳ Bᵀ, B̄ = Aᵀ Ȳ      Ẏ = Ȧ B + A Ḃ
_matmul = bilinear("matmul", _matmul_impl, lambda g, y, a, b: _matmul(g, _mT(b)),
                   lambda g, y, a, b: _matmul(_mT(a), g), batch=_batch_matmul, complex_rules=True)


def _arr(a):
    return a if hasattr(a, "ndim") else np.asarray(a)


def matmul(a, b):
    """``numpy.matmul`` (``@``), with 1-D operands promoted and demoted as numpy does."""
    a, b = _arr(a), _arr(b)
    if a.ndim == 2 and b.ndim == 2 and a.shape[1] == b.shape[0]:
        return _matmul(a, b)            # the common case, without the general checks
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must not be scalars, got shapes {a.shape} and {b.shape}")
    ka = a.shape[-1]
    kb = b.shape[-2] if b.ndim >= 2 else b.shape[0]
    if ka != kb:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align: the last axis of "
                         f"the first ({ka}) must equal the {'first' if b.ndim == 1 else 'second-to-last'}"
                         f" axis of the second ({kb})")
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: batch dimensions of shapes {a.shape} and {b.shape} do not "
                         f"broadcast") from None
    va, vb = a.ndim == 1, b.ndim == 1
    if va:
        a = reshape(a, (1, a.shape[0]))
    if vb:
        b = reshape(b, (b.shape[0], 1))
    y = _matmul(a, b)
    if va and vb:
        return reshape(y, ())
    if va:
        return reshape(y, y.shape[:-2] + y.shape[-1:])
    if vb:
        return reshape(y, y.shape[:-1])
    return y


# ---------------------------------------------------------------------------------------------
# einsum
# ---------------------------------------------------------------------------------------------


def _einsum_impl(*operands, subscripts):
    return np.einsum(subscripts, *operands, optimize=len(operands) > 2)


def _parse(subscripts: str):
    ins, out = subscripts.split("->")
    return ins.split(","), out


def _einsum_vjp(i, g, y, *ops, subscripts):
    ins, out = _parse(subscripts)
    target = ins[i]
    others = [ins[j] for j in range(len(ops)) if j != i]
    present = set(out).union(*others) if others else set(out)
    unique = list(dict.fromkeys(target))
    kept = [c for c in unique if c in present]
    sizes = {c: ops[i].shape[target.index(c)] for c in unique}
    spec = ",".join([out] + others) + "->" + "".join(kept)
    r = _einsum(g, *[ops[j] for j in range(len(ops)) if j != i], subscripts=spec)
    # Indices only in operand i: broadcast (their sum's transpose).
    if len(kept) < len(unique):
        r = reshape(r, tuple(sizes[c] if c in kept else 1 for c in unique))
        r = broadcast_to(r, tuple(sizes[c] for c in unique))
    # Repeated indices: back on the diagonal.
    if len(unique) < len(target):
        first = {}
        shape = []
        for p, c in enumerate(target):
            shape.append(sizes[c] if c not in first else 1)
            first.setdefault(c, p)
        r = reshape(r, tuple(shape))
        mask = np.ones(ops[i].shape, dtype=bool)
        for p, c in enumerate(target):
            q = first[c]
            if q != p:
                eye_shape = [1] * len(target)
                eye_shape[q] = eye_shape[p] = sizes[c]
                eye = np.eye(sizes[c], dtype=bool)
                mask = mask & eye.reshape(eye_shape)
        r = r * mask.astype(r.dtype)
    return r


def _batch_einsum(size, vals, bat, subscripts):
    ins, out = _parse(subscripts)
    letter = next(c for c in string.ascii_letters if c not in subscripts)
    ins = [letter + term if b else term for term, b in zip(ins, bat)]
    return _einsum(*vals, subscripts=",".join(ins) + "->" + letter + out)


# Y = einsum(s, X₁, …, Xₙ)  (multilinear)   X̄ᵢ = einsum(Ȳ, Xⱼ≠ᵢ → indices of Xᵢ)
#                                           Ẏ = Σᵢ einsum(X₁, …, Ẋᵢ, …, Xₙ)
_einsum = bilinear("einsum", _einsum_impl, Variadic(_einsum_vjp), batch=_batch_einsum,
                   complex_rules=True)


def _normalize_subscripts(subscripts: str, shapes: list) -> str:
    """Explicit form without ellipses or spaces; checks the operand count and index sizes."""
    s = subscripts.replace(" ", "")
    if "->" in s:
        ins, out = s.split("->")
    else:
        ins, out = s, None
    ins = ins.split(",")
    if len(ins) != len(shapes):
        raise ValueError(f"einsum: subscripts {subscripts!r} name {len(ins)} operand(s) but "
                         f"{len(shapes)} were given")
    used = set("".join(ins) + (out or "")) - {"."}
    free = [c for c in string.ascii_letters if c not in used]
    n_ell = max([len(sh) - len(term.replace("...", "")) for term, sh in zip(ins, shapes)
                 if "..." in term] or [0])
    ell = "".join(free[:n_ell])
    new_ins = []
    for term, sh in zip(ins, shapes):
        if "..." in term:
            k = len(sh) - len(term.replace("...", ""))
            term = term.replace("...", ell[n_ell - k:] if k else "")
        if len(term) != len(sh):
            raise ValueError(f"einsum: subscripts {term!r} have {len(term)} indices but the operand "
                             f"has shape {sh}")
        new_ins.append(term)
    if out is None:
        counts = {}
        for c in "".join(new_ins):
            counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, k in counts.items() if k == 1 and c not in ell))
    else:
        out = out.replace("...", ell)
    sizes: dict = {}
    for k, (term, sh) in enumerate(zip(new_ins, shapes)):
        for c, n in zip(term, sh):
            if c in sizes and sizes[c][0] != n and 1 not in (n, sizes[c][0]):
                j = sizes[c][1]
                raise ValueError(f"einsum {subscripts!r}: index {c!r} has size {sizes[c][0]} in "
                                 f"operand {j} (shape {shapes[j]}) but {n} in operand {k} "
                                 f"(shape {sh})")
            if c not in sizes or sizes[c][0] == 1:
                sizes[c] = (n, k)
    return ",".join(new_ins) + "->" + out


def einsum(subscripts, *operands, optimize=None):
    """``numpy.einsum`` (string subscripts, ellipses allowed)."""
    ops = [_arr(o) for o in operands]
    spec = _normalize_subscripts(subscripts, [o.shape for o in ops])
    return _einsum(*ops, subscripts=spec)


# ---------------------------------------------------------------------------------------------
# Composites
# ---------------------------------------------------------------------------------------------


def dot(a, b):
    """``numpy.dot``."""
    a, b = _arr(a), _arr(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.ndim <= 2 and b.ndim <= 2:
        return matmul(a, b)
    return tensordot(a, b, axes=([a.ndim - 1], [b.ndim - 2 if b.ndim >= 2 else 0]))


def vdot(a, b):
    """``numpy.vdot``: Σ āᵢbᵢ over the flattened arrays (the first conjugated)."""
    return dot(conjugate(ravel(a)), ravel(b))


def inner(a, b):
    """``numpy.inner``: contraction over the last axes."""
    a, b = _arr(a), _arr(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    return tensordot(a, b, axes=([a.ndim - 1], [b.ndim - 1]))


def outer(a, b):
    """``numpy.outer``: aᵢbⱼ over the flattened arrays."""
    return expand_dims(ravel(a), 1) * expand_dims(ravel(b), 0)


def tensordot(a, b, axes=2):
    """``numpy.tensordot``, as an einsum."""
    a, b = _arr(a), _arr(b)
    if isinstance(axes, (int, np.integer)):
        axes_a = list(range(a.ndim - int(axes), a.ndim))
        axes_b = list(range(int(axes)))
    else:
        axes_a, axes_b = [list(np.atleast_1d(x)) for x in axes]
    axes_a = [int(x) % a.ndim for x in axes_a]
    axes_b = [int(x) % b.ndim for x in axes_b]
    if len(axes_a) != len(axes_b):
        raise ValueError(f"tensordot: axes {axes!r} pair {len(axes_a)} axes of a with "
                         f"{len(axes_b)} of b")
    for x, y in zip(axes_a, axes_b):
        if a.shape[x] != b.shape[y]:
            raise ValueError(f"tensordot: shape mismatch for sum: axis {x} of a {a.shape} has size "
                             f"{a.shape[x]} but axis {y} of b {b.shape} has size {b.shape[y]}")
    letters = iter(string.ascii_letters)
    sa = [next(letters) for _ in range(a.ndim)]
    sb = [next(letters) for _ in range(b.ndim)]
    for x, y in zip(axes_a, axes_b):
        sb[y] = sa[x]
    out = [c for k, c in enumerate(sa) if k not in axes_a] + [c for k, c in enumerate(sb) if k not in axes_b]
    return _einsum(a, b, subscripts="".join(sa) + "," + "".join(sb) + "->" + "".join(out))


def kron(a, b):
    """``numpy.kron``: the Kronecker product, as an outer product and a reshape."""
    a, b = _arr(a), _arr(b)
    nd = max(a.ndim, b.ndim)
    a = reshape(a, (1,) * (nd - a.ndim) + a.shape)
    b = reshape(b, (1,) * (nd - b.ndim) + b.shape)
    x = reshape(a, tuple(s for n in a.shape for s in (n, 1))) * \
        reshape(b, tuple(s for n in b.shape for s in (1, n)))
    return reshape(x, tuple(m * n for m, n in zip(a.shape, b.shape)))

