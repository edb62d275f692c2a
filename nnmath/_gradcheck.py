"""Check derivatives against central finite differences, in float64, to any order.

For each differentiable argument i, a random direction vᵢ in that argument and a random output
cotangent u:

    forward mode:   J vᵢ          ≈ (f(x + ε vᵢ) − f(x − ε vᵢ)) / 2ε
    reverse mode:   ⟨Jᵀu, vᵢ⟩     ≈ ⟨u, (f(x + ε vᵢ) − f(x − ε vᵢ)) / 2ε⟩

The central difference has error O(ε²). Order k > 1 checks the functions x ↦ J(x) v and
x ↦ J(x)ᵀ u the same way, recursively (as HIPS autograd and JAX do).

Complex arguments and outputs (JAX's convention): a complex leaf z gets a complex direction
v = a + ib, so the step z ± εv moves its real and imaginary parts together, and a complex output a
complex cotangent u. The pairing is ⟨a, b⟩ = Re Σ aᵢbᵢ (no conjugate: the cotangent z̄ of z is
the c with df = Re(c·dz)), so the reverse check is Re⟨Jᵀu, v⟩ ≈ Re⟨u, Jv⟩.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ._core.transforms import jvp, vjp
from ._core.tree import tree_flatten, tree_unflatten

__all__ = ["check_grads"]


def _to_float64(x: Any) -> Any:
    x = np.asarray(x)
    if x.dtype.kind == "f":
        return x.astype(np.float64)
    return x.astype(np.complex128) if x.dtype.kind == "c" else x


def _vdot(a: list, b: list) -> float:
    """Re Σ aᵢbᵢ over every leaf: the real pairing of cotangents with tangents."""
    total = 0.0
    for x, y in zip(a, b):
        x, y = np.asarray(x), np.asarray(y)
        if x.dtype.kind == "c" or y.dtype.kind == "c":
            total += float(np.real(np.sum(x.astype(np.complex128) * y.astype(np.complex128))))
        else:
            total += float(np.vdot(np.asarray(x, np.float64), np.asarray(y, np.float64)))
    return total


def _inexact(x: Any) -> bool:
    return np.asarray(x).dtype.kind in "fc"


def _random_like(rng: np.random.Generator, x: Any) -> np.ndarray:
    """A standard normal direction shaped like ``x``; complex (a + ib) for a complex ``x``."""
    shape = np.shape(x)
    if np.asarray(x).dtype.kind == "c":
        return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    return rng.standard_normal(shape)


def _as64(x: Any) -> np.ndarray:
    x = np.asarray(x)
    return x.astype(np.complex128) if x.dtype.kind == "c" else np.asarray(x, np.float64)


def check_grads(fun: Callable, args: Sequence, order: int = 2, modes: Sequence[str] = ("fwd", "rev"),
                eps: float | None = None, rtol: float | None = None, atol: float | None = None,
                seed: int = 0) -> None:
    """Assert that ``fun``'s derivatives match central finite differences up to ``order``.

    Args:
        fun: a function of the positional ``args`` (pytrees of arrays) returning a pytree of arrays.
        args: the point to check at. Floating leaves are cast to float64 (complex ones to
            complex128, perturbed in their real and imaginary parts); others are held fixed.
        order: the highest derivative order to check.
        modes: any of ``"fwd"`` (JVP) and ``"rev"`` (VJP).
        eps: the finite-difference step (default 1e-4 · max(1, max |x|)).
        rtol, atol: the tolerance: ‖analytic − numeric‖ ≤ atol + rtol · max(‖analytic‖, ‖numeric‖)
            (defaults 1e-5 and 1e-6).
        seed: seeds the random directions.

    Raises:
        AssertionError: naming the argument, the mode, the order, both values and the relative error.
    """
    if isinstance(order, (bool, np.bool_)) or not isinstance(order, (int, np.integer)) or order < 1:
        raise ValueError(f"check_grads: order must be an int ≥ 1 (the highest derivative order to "
                         f"check), got {order!r}; order < 1 would check nothing")
    if isinstance(modes, str):
        modes = (modes,)
    if not modes:
        raise ValueError("check_grads: modes is empty, so nothing would be checked; use "
                         "('fwd', 'rev'), 'fwd' or 'rev'")
    for m in modes:
        if m not in ("fwd", "rev"):
            raise ValueError(f"check_grads: unknown mode {m!r}; use 'fwd' and/or 'rev'")
    if not isinstance(args, (tuple, list)):
        raise TypeError(f"check_grads: args must be a tuple of arguments, got {type(args).__name__}")
    leaves, treedef = tree_flatten(tuple(args))
    leaves = [_to_float64(x) for x in leaves]
    args = tree_unflatten(treedef, leaves)
    rng = np.random.default_rng(seed)
    rtol = 1e-5 if rtol is None else rtol
    atol = 1e-6 if atol is None else atol
    if eps is None:
        scale = max([1.0] + [float(np.max(np.abs(x))) for x in leaves if _inexact(x) and x.size])
        eps = 1e-4 * scale
    _check(fun, args, order, tuple(modes), eps, rtol, atol, rng, level=1)


def _check(fun, args, order, modes, eps, rtol, atol, rng, level):
    leaves, treedef = tree_flatten(tuple(args))
    floats = [i for i, x in enumerate(leaves) if _inexact(x)]
    diff_mask = [_inexact(x) for x in leaves]
    out = fun(*args)
    out_leaves, out_def = tree_flatten(out)
    out_leaves = [np.asarray(o) for o in out_leaves]

    def shifted(i, v, s):
        moved = list(leaves)
        moved[i] = leaves[i] + s * v
        return [_as64(o) for o in tree_flatten(fun(*tree_unflatten(treedef, moved)))[0]]

    for i in floats:
        x = leaves[i]
        v = _random_like(rng, x)
        plus, minus = shifted(i, v, eps), shifted(i, v, -eps)
        numeric = [(p - m) / (2 * eps) for p, m in zip(plus, minus)]
        where = f"argument leaf {i} (shape {np.shape(x)})"
        if "fwd" in modes:
            _, t_out = _jvp_only(fun, args, treedef, leaves, diff_mask, i, v)
            analytic = [_as64(t) for t in tree_flatten(t_out)[0]]
            _compare(analytic, numeric, rtol, atol, "fwd", level, where)
        if "rev" in modes:
            u = [_random_like(rng, o) for o in out_leaves]
            _, pullback = vjp(lambda *fl: fun(*tree_unflatten(treedef, _merge(leaves, diff_mask, fl))),
                              *[leaves[k] for k in range(len(leaves)) if diff_mask[k]])
            ct = tree_unflatten(out_def, [uu.astype(o.dtype) if o.dtype.kind in "fc" else uu
                                          for uu, o in zip(u, out_leaves)])
            grads = pullback(ct)
            g_i = grads[sum(diff_mask[:i])]
            analytic_dot = _vdot([g_i], [v])
            numeric_dot = _vdot(u, numeric)
            _compare([np.asarray(analytic_dot)], [np.asarray(numeric_dot)], rtol, atol, "rev", level, where)

    if order > 1:
        for i in floats:
            v = _random_like(rng, leaves[i])
            if "fwd" in modes:
                def f_jvp(*a, i=i, v=v):
                    fl = tree_flatten(tuple(a))[0]
                    return _jvp_only(fun, a, treedef, fl, diff_mask, i, v)[1]
                _check(f_jvp, args, order - 1, modes, eps, rtol, atol, rng, level + 1)
            if "rev" in modes:
                u = [_random_like(rng, o) for o in out_leaves]

                def f_vjp(*a, u=u):
                    fl = tree_flatten(tuple(a))[0]
                    _, pb = vjp(lambda *d: fun(*tree_unflatten(treedef, _merge(fl, diff_mask, d))),
                                *[fl[k] for k in range(len(fl)) if diff_mask[k]])
                    return pb(tree_unflatten(out_def, [uu.astype(o.dtype) for uu, o in zip(u, out_leaves)]))
                _check(f_vjp, args, order - 1, modes, eps, rtol, atol, rng, level + 1)
            break   # one direction per order keeps the cost linear in the order


def _merge(leaves: list, mask: list, diff: Sequence) -> list:
    it = iter(diff)
    return [next(it) if m else x for x, m in zip(leaves, mask)]


def _jvp_only(fun, args, treedef, leaves, diff_mask, i, v):
    diff = [leaves[k] for k in range(len(leaves)) if diff_mask[k]]
    tans = [v.astype(leaves[k].dtype) if k == i else np.zeros(leaves[k].shape, leaves[k].dtype)
            for k in range(len(leaves)) if diff_mask[k]]
    return jvp(lambda *d: fun(*tree_unflatten(treedef, _merge(leaves, diff_mask, d))), tuple(diff), tuple(tans))


def _compare(analytic: list, numeric: list, rtol: float, atol: float, mode: str, order: int, where: str):
    a = np.concatenate([np.ravel(x) for x in analytic]) if analytic else np.zeros(0)
    n = np.concatenate([np.ravel(x) for x in numeric]) if numeric else np.zeros(0)
    err = float(np.linalg.norm(a - n))
    scale = max(float(np.linalg.norm(a)), float(np.linalg.norm(n)))
    if not (np.all(np.isfinite(a)) and err <= atol + rtol * scale):
        rel = err / scale if scale > 0 else float("inf")
        raise AssertionError(
            f"check_grads failed: {where}, mode {mode!r}, order {order}: analytic "
            f"{np.array2string(a, precision=8, threshold=8)} vs numeric "
            f"{np.array2string(n, precision=8, threshold=8)}; relative error {rel:.3e} "
            f"(tolerance rtol={rtol:g}, atol={atol:g})")
