"""The table-driven derivative checks shared by every rule family's tests.

A test module that covers primitives defines ``ROWS``: a list of :class:`Row`. Each row is run by
:func:`run_row` — check_grads in both modes to the row's order in float64, plus a float32 value
check against the float64 value — and ``tests/test_primitives.py`` fails when a registered
primitive appears in no row.
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import Callable

import numpy as np

import nnmath as nm


@dataclasses.dataclass
class Row:
    covers: tuple          # primitive names (nnmath._core.primitive.REGISTRY keys) this row exercises
    fun: Callable          # a function of float arrays
    args: tuple            # float64 arguments inside the function's domain
    order: int = 2
    modes: tuple = ("fwd", "rev")
    rtol: float | None = None
    atol: float | None = None
    eps: float | None = None
    f32: bool = True       # also check float32 values stay float32 and close to float64
    id: str = ""

    def __post_init__(self):
        if isinstance(self.covers, str):
            self.covers = (self.covers,)
        if not self.id:
            self.id = "+".join(self.covers)


def run_row(row: Row) -> None:
    nm.check_grads(row.fun, row.args, order=row.order, modes=row.modes, eps=row.eps, rtol=row.rtol,
                   atol=row.atol)
    if row.f32:
        out64 = row.fun(*row.args)
        args32 = nm.tree_map(lambda a: a.astype(np.float32) if np.asarray(a).dtype == np.float64 else a,
                             row.args)
        out32 = row.fun(*args32)
        for o32, o64 in zip(nm.tree_leaves(out32), nm.tree_leaves(out64)):
            assert np.asarray(o32).dtype == np.float32, f"{row.id}: float32 input gave {np.asarray(o32).dtype}"
            np.testing.assert_allclose(o32, o64, rtol=2e-3, atol=2e-4, err_msg=row.id)
        # float32 gradients stay float32 too
        g32 = nm.vjp(row.fun, *args32)[1](nm.tree_map(lambda o: np.ones_like(o), out32))
        for leaf, a in zip(nm.tree_leaves(g32), nm.tree_leaves(args32)):
            assert np.asarray(leaf).dtype == np.asarray(a).dtype, f"{row.id}: gradient dtype {leaf.dtype}"


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


#: The test modules that define ``ROWS``; a new rule family adds its module here.
ROW_MODULES = ("test_primitives", "test_linalg", "test_nn_functions", "test_layers_core", "test_fused",
               "test_complex", "test_scipy_special", "test_fft")


def all_rows() -> list:
    """Every row of every rule family (a module that fails to import fails the caller)."""
    rows: list = []
    for name in ROW_MODULES:
        rows += importlib.import_module(name).ROWS
    return rows
