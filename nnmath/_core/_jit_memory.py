"""Memory planning for :func:`nnmath.jit` plans: elementwise steps write into a dying operand.

A replayed plan allocates a fresh array for every step, as the untraced function does. For
arrays past the L1/L2 caches that costs more than the arithmetic: an elementwise step
``c = a + b`` reads two arrays and writes a third, freshly allocated one, where ``a += b`` (the
same numbers) reads two and writes back into one that is already in cache. Measured here
(2 cores, OpenBLAS/numpy 2.4): a chain of three elementwise steps on 256×64 float64 takes
20.8 µs with fresh outputs and 13.9 µs in place; on 256×1024 float32, 359 µs and 214 µs. A
preallocated output buffer per step (``out=`` a buffer kept by the plan) gains nothing over
fresh arrays (105.9 µs vs 104.4 µs for one add of 1 MiB): numpy's allocator already hands back
the block just freed. So the plan reuses *operands*, not buffers of its own:

* A step ``y = f(a, b)`` with ``f`` one of :data:`EXACT_UFUNCS` is replayed as
  ``f(a, b, out=a)`` when ``a`` dies at that step (no later step, guard or output reads it), has
  the output's shape and dtype (no broadcasting into it, no cast), and its buffer belongs to
  nobody else.
* "Belongs to nobody else" is proven while planning when ``a`` is the output of a ufunc call of
  the plan (a fresh array) read only as a direct argument of ufunc calls (so no view of it can
  exist). Otherwise — ``a`` came from a library function, which may return a view, an input or a
  cached array — it is checked on every replay, as numpy's own temporary elision does: ``a`` must
  own its memory (``a.flags.owndata``: not a view, not memory lent by another library), be
  writeable, and be referenced by the plan's variable alone (``sys.getrefcount``; any view, cache
  or caller holding it adds a reference); if not, the step allocates as before. The check costs
  about 0.1 µs, what writing in place saves at about 8 KiB, so it is made only for arrays of at
  least :data:`CHECKED_MIN_BYTES`.
* Plan inputs, constants and outputs are never written: every array a call returns is fresh
  (or a step's own output), and no buffer outlives a replay.

Bit-identical results: the whitelisted ufuncs are correctly rounded (IEEE 754 ``+ − × ÷ √``, sign
and rounding operations) on real dtypes, so the value of each element does not depend on which
inner loop numpy picks for an aliased output. Transcendental ufuncs (``exp``, ``tanh``…), whose
SIMD and scalar loops may round differently, and ``maximum``/``minimum`` (signed zeros) are left
alone. ``NNMATH_JIT_INPLACE=0`` in the environment (or :data:`ENABLED` = False before recording)
turns the planning off, for measurements.

>>> import numpy as np, nnmath as nm, nnmath.numpy as mnp
>>> f = nm.jit(lambda x: mnp.sqrt(x * 2.0 + 1.0))
>>> print(f.plan_source(np.ones(3)).strip())
def plan(v0):
    v1 = k0(v0, 2.0)  # multiply
    del v0
    v2 = k1(v1, 1.0, out=v1)  # add (in place)
    del v1
    v3 = k2(v2, out=v2)  # sqrt (in place)
    del v2
    return v3
"""
from __future__ import annotations

import math
import os
import sys

import numpy as np

__all__ = ["ENABLED", "EXACT_UFUNCS", "CHECKED_MIN_BYTES", "in_place_steps", "owned_check",
           "REFS_OF_LOCAL"]

#: Plan elementwise steps in place (read when a plan is built).
ENABLED = os.environ.get("NNMATH_JIT_INPLACE", "1") != "0"

#: Correctly rounded elementwise ufuncs: the same bits whatever inner loop numpy picks.
EXACT_UFUNCS = frozenset([
    np.add, np.subtract, np.multiply, np.true_divide, np.negative, np.positive, np.absolute,
    np.fabs, np.square, np.sqrt, np.reciprocal, np.sign, np.copysign, np.floor, np.ceil,
    np.trunc, np.rint, np.conjugate,
])

#: Operands not proven unshared while planning are checked on each replay from this size on.
CHECKED_MIN_BYTES = 16384


def _refs_of_local() -> int:
    """``sys.getrefcount(a)`` of an array held by one local variable only, in this Python."""
    a = np.empty(1)
    return sys.getrefcount(a)


#: What ``sys.getrefcount`` reports for a plan variable that nothing else references.
REFS_OF_LOCAL = _refs_of_local()


def owned_check(name: str) -> str:
    """Python condition, true when the array in variable ``name`` is the plan's alone."""
    return (f"_refcount({name}) == {REFS_OF_LOCAL} and {name}.flags.owndata "
            f"and {name}.flags.writeable")


def _is_ufunc_call(entry) -> bool:
    fn, _, kw_specs, _, multiple, _, is_method = entry
    return type(fn) is np.ufunc and not is_method and not multiple and not kw_specs


def in_place_steps(program: list, in_vars: list, keep: set, last: dict, info: dict) -> dict:
    """Which steps of ``program`` write into an operand: ``{step: (var, checked)}``.

    Args:
        program: the pruned program (calls and guards, see :class:`~nnmath._core.jit.StagingTrace`).
        in_vars: the plan's input variables; keep: its output variables (never written).
        last: the step of each variable's last use.
        info: ``var → (shape, dtype)`` of every variable recorded as an ndarray of ndim ≥ 1.

    Returns:
        For each step replayed in place, the variable it overwrites and whether the plan must
        check at run time that the variable's buffer is unshared.
    """
    if not ENABLED:
        return {}
    fresh: set = set()          # outputs of ufunc calls: new arrays nobody else holds
    only_ufunc_args: dict = {}  # var → read only as a direct positional argument of ufunc calls
    for entry in program:
        if entry[0] == "guard":
            continue
        fn, specs, kw_specs, outs, _, _, is_method = entry
        direct = _is_ufunc_call(entry)
        for s in specs:
            if s[0] == "v":
                only_ufunc_args[s[1]] = only_ufunc_args.get(s[1], True) and direct
            elif s[0] == "t":
                for v in _vars(s):
                    only_ufunc_args[v] = False
        for s in kw_specs.values():
            for v in _vars(s):
                only_ufunc_args[v] = False
        if direct:
            fresh.update(outs)
    inputs = set(in_vars)
    steps: dict = {}
    for i, entry in enumerate(program):
        if entry[0] == "guard" or not _is_ufunc_call(entry) or entry[0] not in EXACT_UFUNCS:
            continue
        fn, specs, _, outs, _, _, _ = entry
        if fn.nout != 1 or outs[0] not in info:
            continue
        shape, dtype = info[outs[0]]
        if dtype.kind not in "biuf":
            continue
        checked = None
        for s in specs:
            v = s[1] if s[0] == "v" else None
            if (v is None or v in inputs or v in keep or last.get(v) != i
                    or info.get(v) != (shape, dtype)):
                continue
            if v in fresh and only_ufunc_args.get(v, False):
                steps[i] = (v, False)
                break
            if checked is None and math.prod(shape) * dtype.itemsize >= CHECKED_MIN_BYTES:
                checked = v
        else:
            if checked is not None:
                steps[i] = (checked, True)
    return steps


def _vars(spec) -> list:
    if spec[0] == "v":
        return [spec[1]]
    if spec[0] == "t":
        return [v for s in spec[2] for v in _vars(s)]
    return []
