"""``jit``: record a function once per input signature as a plan of numpy calls, then replay it.

Tracing a function costs about a microsecond of Python bookkeeping per primitive, on top of the
numpy work (reverse mode adds a tape and a backward sweep). ``jit(f)`` pays that once: the first
call with a new *signature* (the pytree structure of the arguments, the shape and dtype of every
array, the value of every other leaf) runs ``f`` on *staged* values, which compute as usual and
also append each primitive's numpy call to a program. Every derivative transform inside ``f``
(``grad``, ``jvp``, ``vmap``, …) works as usual on top of the staged values, so their rules end up
in the program too. The program is pruned to what the outputs need, turned into one Python function
of plain numpy calls (intermediates are deleted after their last use, so memory peaks as in the
untraced run; correctly rounded elementwise steps write into an operand that dies there, see
:mod:`nnmath._core._jit_memory`; the function's ``return`` builds the result's pytree), and later
calls with that signature run only that function (:mod:`nnmath._core._jit_codegen` writes it).

Soundness — a replay computes exactly what a fresh trace would:

* Every decision the traced code takes in Python on a *value* (``bool(x)``, ``int(x)``,
  ``x.item()``, …: e.g. a rule choosing the exact formula for a product with zeros) is recorded as
  a *guard*; a replay checks it, and if the value would now decide otherwise the function is
  recorded again for the new values (a few plans are kept per signature). Shapes that depend on
  values (boolean masks, ``nonzero``) are guarded the same way.
* Converting a staged value to a plain array (``np.asarray(x)``) cannot be replayed and raises
  :class:`ConcretizationError`.
* Random draws: pass the ``numpy.random.Generator`` as an argument; its draws become steps of the
  plan, so every call draws afresh, exactly as the untraced function would.
* Arrays the function reads from its closure or from globals are **constants** of the plan (as in
  JAX): the plan keeps a copy of the values seen while recording, so changing such an array in
  place later does not change what the plan computes. Pass anything that changes between calls as
  an argument.
* Draws from a random state the plan would freeze — numpy's global state (``np.random.normal``),
  an unseeded ``np.random.default_rng()``, Python's ``random`` — raise
  :class:`ConcretizationError` naming the line, while recording.
* Under an enclosing transform (``grad(jit(f))``) the function simply runs traced, unstaged; a
  value of an enclosing transform reached through a closure makes ``jit`` run the function without
  staging too. Either way the result is what ``f`` computes.

Replays compute with the same numpy calls in the same order as the untraced function, so results
agree bit for bit (unless a decision the code took on memory layout, not values, differs); writing
an elementwise step into a dying operand changes where a result is stored, not its bits.
"""
from __future__ import annotations

import functools
import operator
import sys
import threading
import warnings
from typing import Any, Callable, Sequence

import numpy as np

from ._jit_codegen import _GuardFailed, _codegen, _common_subexpressions, _renamed, _vars_of
from .primitive import Tracer, new_level
from .tree import tree_flatten, tree_unflatten

__all__ = ["jit", "ConcretizationError", "StagingTrace", "StagedTracer", "is_staged",
           "check_random_source"]

#: Plans kept per signature (each for a different outcome of the guards); oldest dropped first.
MAX_PLANS_PER_SIGNATURE = 8
#: After this many recordings of one jitted function, a RuntimeWarning says what keeps changing.
RETRACE_WARNING = 32


class ConcretizationError(TypeError):
    """A staged value was needed as a plain numpy value while recording a plan."""


class _CannotStage(Exception):
    """The function reached a value of an enclosing transform: run it without staging."""


def _caller() -> str:
    """'file:line' of the first frame outside nnmath's engine (for retrace warnings)."""
    f = sys._getframe(2)
    while f is not None and ("/nnmath/_core/" in f.f_code.co_filename
                             or "/nnmath/numpy/" in f.f_code.co_filename):
        f = f.f_back
    return "?" if f is None else f"{f.f_code.co_filename}:{f.f_lineno}"


class StagedTracer(Tracer):
    """A value computed while recording a plan: the value itself, and its variable in the plan."""

    __slots__ = ("_var",)
    _staged = True

    def __init__(self, trace: "StagingTrace", value: Any, var: int):
        self._trace = trace
        self._primal = value
        self._var = var

    # Python decisions on the value: allowed, recorded as guards.
    def __bool__(self) -> bool:
        return self._trace.guard(self, "bool", bool(self._primal))

    def __index__(self) -> int:
        return self._trace.guard(self, "index", operator.index(self._primal))

    def __int__(self) -> int:
        return self._trace.guard(self, "int", int(self._primal))

    def __float__(self) -> float:
        return self._trace.guard(self, "float", float(self._primal))

    def item(self, *args):
        if args:
            raise ConcretizationError("x.item(index) of a staged value inside nm.jit is not "
                                      "supported; index first, then call .item()")
        return self._trace.guard(self, "item", self._primal.item())

    def tolist(self):
        raise ConcretizationError(
            "x.tolist() of a value computed inside nm.jit: the value is only known when the plan "
            "runs. Return it from the jitted function instead.")

    def __array__(self, dtype=None, copy=None):
        f = sys._getframe(1)
        raise ConcretizationError(
            f"At {f.f_code.co_filename}:{f.f_lineno} ({f.f_code.co_name}): "
            "a value computed inside nm.jit was converted to a plain numpy array (np.asarray, "
            "np.array or a numpy function without an nnmath.numpy equivalent); such a value is "
            "only known when the plan runs. Use nnmath.numpy functions on it, return it from the "
            "jitted function, or call the function without jit.")


def is_staged(x: Any) -> bool:
    """Whether ``x`` is a value being recorded by :func:`jit`."""
    return type(x) is StagedTracer


class StagingTrace:
    """The recording level of one :func:`jit` trace: a program of numpy calls and guards.

    Program entries are ``(fn, arg_specs, kw_specs, out_vars, multiple, effect, is_method)`` for
    calls (``fn`` a method name if ``is_method``) and ``("guard", kind, var, expected)`` for guards. A spec is ``("v", var)``, ``("c", object)``, or
    ``("t", type, specs)`` for a tuple or list holding staged values.
    """

    __slots__ = ("level", "program", "nvars", "where", "info")
    is_batch = False
    is_staging = True

    def __init__(self):
        self.level = new_level()
        self.program: list = []
        self.nvars = 0
        self.where: list = []          # source of every guard, for retrace warnings
        self.info: dict = {}           # var → (shape, dtype) of the arrays (ndim ≥ 1) recorded

    def new_var(self, value: Any) -> StagedTracer:
        v = StagedTracer(self, value, self.nvars)
        if type(value) is np.ndarray and value.ndim:
            self.info[self.nvars] = (value.shape, value.dtype)
        self.nvars += 1
        return v

    # ------------------------------------------------------------------ recording
    def _spec(self, x: Any):
        """(value, spec) of an argument: staged values become variables, the rest constants."""
        if isinstance(x, Tracer):
            if x._trace is not self:
                raise _CannotStage
            return x._primal, ("v", x._var)
        t = type(x)
        if (t is tuple or t is list) and any(isinstance(e, Tracer) for e in x):
            pairs = [self._spec(e) for e in x]
            return t(p[0] for p in pairs), ("t", t, [p[1] for p in pairs])
        return x, ("c", x)

    def stage(self, fn: Callable, args: Sequence, kwargs: dict, multiple: bool = False,
              shape_guard: bool = False, effect: bool = False, method: str | None = None):
        """Call ``fn(*args, **kwargs)`` on the values and record it; return staged outputs.

        ``method``: call ``args[0].method(*args[1:])`` instead (draws from a Generator).
        ``shape_guard``: the output shape depends on values, so replays check it.
        ``effect``: keep the call even if no output is used (it changes a Generator's state).
        """
        vals, specs = [], []
        for a in args:
            v, s = self._spec(a)
            vals.append(v)
            specs.append(s)
        kw_vals, kw_specs = {}, {}
        dynamic = False
        for k, a in kwargs.items():
            v, s = self._spec(a)
            kw_vals[k] = v
            kw_specs[k] = s
            dynamic = dynamic or s[0] != "c"
        if method:
            ans = getattr(vals[0], method)(*vals[1:], **kw_vals)
        else:       # a recorded step runs again on every replay: its own draws are not frozen
            _GlobalRandomGuard.inside_steps += 1
            try:
                ans = fn(*vals, **kw_vals)
            finally:
                _GlobalRandomGuard.inside_steps -= 1
        if method and not isinstance(ans, (np.ndarray, np.generic)):
            raise ConcretizationError(
                f"Generator.{method}(...) returned a Python {type(ans).__name__} inside nm.jit; "
                f"draw with size=... (an array) so that the draw can be recorded")
        outs = tuple(ans) if multiple else (ans,)
        boxed = [self.new_var(o) for o in outs]
        self.program.append((method or fn, specs, kw_specs, [b._var for b in boxed], multiple,
                             effect, method is not None))
        if shape_guard or dynamic:       # indices given as staged values: shapes may follow values
            for b in boxed:
                self.program.append(("guard", "shape", b._var, b._primal.shape))
        return tuple(boxed) if multiple else boxed[0]

    def process(self, prim, args, params):
        return self.stage(prim.impl, args, params, prim.multiple_results)

    def guard(self, x: StagedTracer, kind: str, value: Any) -> Any:
        self.program.append(("guard", kind, x._var, value))
        self.where.append(f"{kind}() at {_caller()}")
        return value


class _StagedGenerator:
    """Stands for a ``numpy.random.Generator`` argument while recording: each draw is made on the
    real generator (so the recording run draws what an untraced run would) and becomes a step of
    the plan, which draws from the generator passed to each later call."""

    __slots__ = ("_trace", "_var", "_gen")

    def __init__(self, trace: StagingTrace, gen: np.random.Generator, var: int):
        self._trace, self._var, self._gen = trace, var, gen

    def __getattr__(self, name: str):
        attr = getattr(self._gen, name)
        if not callable(attr) or name.startswith("_") or name in ("spawn", "bit_generator"):
            raise ConcretizationError(f"Generator.{name} cannot be recorded inside nm.jit; only "
                                      f"draws (random, normal, integers, …) can")
        trace = self._trace

        def draw(*args, **kwargs):
            return trace.stage(None, (_GenRef(self),) + args, kwargs, effect=True, method=name)
        return draw


class _GenRef(Tracer):
    """The generator variable as an argument of a recorded draw."""

    __slots__ = ("_var",)

    def __init__(self, g: _StagedGenerator):
        self._trace, self._primal, self._var = g._trace, g._gen, g._var


def check_random_source(rng: Any, x: Any, who: str) -> None:
    """Refuse to draw from a Generator that would be frozen into a plan.

    Inside :func:`jit`, draws from a Generator that was not passed to the jitted function would be
    made once, while recording, and replayed unchanged: a silently wrong (non-random) result.
    """
    if is_staged(x) and not isinstance(rng, _StagedGenerator):
        raise ConcretizationError(
            f"{who}: inside nm.jit, pass the numpy.random.Generator as an argument of the jitted "
            f"function (and on to rng=...); a generator reached any other way would be drawn from "
            f"once, while recording, and the same numbers reused on every call")


class _GlobalRandomGuard:
    """While a plan is recorded, refuse draws from random states that the plan would freeze.

    numpy's global state (``np.random.normal``, ``np.random.rand``, …), an unseeded
    ``np.random.default_rng()`` and Python's ``random`` module would be drawn from once, while
    recording, and the numbers replayed on every call: a silently non-random result. Their
    module-level functions are replaced, for the recording only, by ones that raise
    :class:`ConcretizationError` naming the caller's line; as a backstop (a function imported
    under another name before), a change of either global state during the recording raises
    too. The states are restored, so a caller that falls back to the untraced function (as
    ``Model.fit`` does) draws what it would have drawn without jit.
    """

    _depth = 0
    _saved: list = []
    inside_steps = 0        # > 0 while a recorded step (a library's numpy code) runs
    step_drew = False       # a recorded step, or another thread, drew (legitimately)
    thread = None           # the recording thread; other threads draw as usual

    def __enter__(self):
        import random
        self.np_state = np.random.get_state(legacy=False)
        self.py_state = random.getstate()
        cls = _GlobalRandomGuard
        cls._depth += 1
        if cls._depth == 1:
            cls._saved = []
            cls.step_drew = False
            cls.thread = threading.get_ident()
            for module, owner, keep in ((np.random, np.random.mtrand._rand,
                                         ("get_state", "set_state", "seed", "get_bit_generator",
                                          "set_bit_generator")),
                                        (random, getattr(random, "_inst", None),
                                         ("getstate", "setstate", "seed"))):
                for name in dir(module):
                    attr = getattr(module, name, None)
                    if getattr(attr, "__self__", None) is owner and owner is not None \
                            and not name.startswith("_") and name not in keep:
                        cls._saved.append((module, name, attr))
                        setattr(module, name, _refusing(f"{module.__name__}.{name}", attr))
            cls._saved.append((np.random, "default_rng", np.random.default_rng))
            np.random.default_rng = _unseeded_refused(np.random.default_rng)
        return self

    def __exit__(self, *exc):
        import random
        cls = _GlobalRandomGuard
        cls._depth -= 1
        if cls._depth == 0:
            for module, name, attr in cls._saved:
                setattr(module, name, attr)
            cls._saved = []
        changed = not cls.step_drew and (
            random.getstate() != self.py_state
            or not _same_state(np.random.get_state(legacy=False), self.np_state))
        if changed or exc[0] is not None:
            np.random.set_state(self.np_state)
            random.setstate(self.py_state)
        if changed and exc[0] is None:
            raise ConcretizationError(
                "the function drew from numpy's global random state (or Python's random module) "
                "while nm.jit recorded it, through a name nnmath could not intercept: the draw "
                "would be frozen into the plan. Pass a numpy.random.Generator as an argument of "
                "the jitted function and draw from it")
        return False


def _same_state(a: dict, b: dict) -> bool:
    sa, sb = a["state"], b["state"]
    return (a["bit_generator"] == b["bit_generator"] and sa["pos"] == sb["pos"]
            and np.array_equal(sa["key"], sb["key"]) and a["has_gauss"] == b["has_gauss"]
            and a["gauss"] == b["gauss"])


def _refusing(name: str, original: Callable) -> Callable:
    def refuse(*args, **kwargs):
        guard = _GlobalRandomGuard
        if guard.inside_steps or threading.get_ident() != guard.thread:
            guard.step_drew = True      # a recorded step (drawn again on each replay), or
            return original(*args, **kwargs)        # another thread: not frozen into the plan
        f = sys._getframe(1)
        raise ConcretizationError(
            f"At {f.f_code.co_filename}:{f.f_lineno} ({f.f_code.co_name}): {name}(...) draws from "
            f"a global random state, and inside nm.jit that draw would be made once, while "
            f"recording, and the same numbers replayed on every call. Pass a "
            f"numpy.random.Generator as an argument of the jitted function and draw from it "
            f"(rng.normal(...)); its draws are recorded as steps of the plan")
    refuse.__name__ = name.rsplit(".", 1)[-1]
    return refuse


def _unseeded_refused(default_rng: Callable) -> Callable:
    def guarded(seed=None):
        if seed is None and not _GlobalRandomGuard.inside_steps \
                and threading.get_ident() == _GlobalRandomGuard.thread:
            f = sys._getframe(1)
            raise ConcretizationError(
                f"At {f.f_code.co_filename}:{f.f_lineno} ({f.f_code.co_name}): "
                f"numpy.random.default_rng() without a seed inside nm.jit would draw fresh entropy "
                f"once, while recording, and replay the same random numbers on every call. Pass a "
                f"numpy.random.Generator as an argument of the jitted function and draw from it")
        return default_rng(seed)
    guarded.__name__ = "default_rng"
    return guarded


# --------------------------------------------------------------------------- plans
class _Plan:
    """A recorded program compiled to one Python function of plain numpy calls."""

    __slots__ = ("run", "source", "n_calls", "n_guards", "snapshot_rng")

    def __init__(self, trace: StagingTrace, in_vars: list, out_leaves: list, out_def):
        program = trace.program
        out_specs = []
        for o in out_leaves:
            if isinstance(o, StagedTracer) and o._trace is trace:
                out_specs.append(("v", o._var))
            elif isinstance(o, Tracer):
                raise _CannotStage
            else:
                out_specs.append(("c", o))
        program, rename = _common_subexpressions(program)
        out_specs = [_renamed(s, rename) for s in out_specs]
        # Keep what the outputs, the guards and the draws need (backwards, dead code dropped).
        live = {s[1] for s in out_specs if s[0] == "v"}
        kept = []
        for entry in reversed(program):
            if entry[0] == "guard":
                live.add(entry[2])
                kept.append(entry)
                continue
            fn, specs, kw_specs, outs, multiple, effect, _ = entry
            if effect or any(o in live for o in outs):
                kept.append(entry)
                for s in list(specs) + list(kw_specs.values()):
                    live.update(_vars_of(s))
        kept.reverse()
        self.n_calls = sum(1 for e in kept if e[0] != "guard")
        self.n_guards = len(kept) - self.n_calls
        first_draw = next((i for i, e in enumerate(kept) if e[0] != "guard" and e[6]), None)
        self.snapshot_rng = first_draw is not None and any(
            e[0] == "guard" for e in kept[first_draw:])
        self.source, namespace = _codegen(kept, in_vars, out_specs, out_def, trace.info)
        exec(compile(self.source, "<nnmath.jit plan>", "exec"), namespace)
        self.run = namespace["plan"]


# --------------------------------------------------------------------------- the transform
_ARRAY, _GENERATOR = "array", "generator"
_UNSTAGED = "unstaged"       # cache entry of a signature that reached an enclosing transform
_FLAT = "flat"     # key prefix of a call of positional arrays, numpy scalars, None, Generators


def _signature(leaves: list) -> tuple[tuple, list]:
    """The cache key of the flattened arguments, and which leaves are inputs of the plan."""
    key, dyn = [], []
    for i, x in enumerate(leaves):
        t = type(x)
        if t is np.ndarray:
            key.append((x.shape, x.dtype))
            dyn.append(i)
        elif isinstance(x, np.generic):
            key.append((_ARRAY, x.dtype))
            dyn.append(i)
        elif isinstance(x, np.random.Generator):
            key.append(_GENERATOR)
            dyn.append(i)
        else:
            try:
                hash(x)
            except TypeError:
                raise TypeError(f"jit: argument leaf of type {t.__name__} is neither an array nor "
                                f"hashable; pass arrays, Python scalars, strings or None") from None
            key.append((t, x))
    return tuple(key), dyn


class _Jitted:
    """The function returned by :func:`jit`."""

    def __init__(self, fun: Callable, static_argnums: Sequence[int], static_argnames: Sequence[str]):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.static_argnums = tuple(static_argnums)
        self.static_argnames = tuple(static_argnames)
        self._plans: dict = {}
        self.recordings = 0
        self._warned = False

    def __get__(self, obj, objtype=None):
        return self if obj is None else functools.partial(self, obj)

    def __call__(self, *args, **kwargs):
        if self.static_argnums or self.static_argnames:
            static = tuple(args[i] for i in self.static_argnums if i < len(args)) + tuple(
                (k, kwargs[k]) for k in self.static_argnames if k in kwargs)
            dyn_args = tuple(a for i, a in enumerate(args) if i not in self.static_argnums)
            dyn_kwargs = {k: v for k, v in kwargs.items() if k not in self.static_argnames}
            try:
                hash(static)
            except TypeError:
                raise TypeError(f"jit: static arguments must be hashable (they key the plans); "
                                f"got {static!r:.200}") from None
        else:
            static, dyn_args, dyn_kwargs = (), args, kwargs
        key = None
        if not dyn_kwargs:          # positional arrays, scalars, None, Generators: kept fast
            sig = [_FLAT, static]
            add = sig.append
            nones = False
            for x in dyn_args:
                t = type(x)
                if t is np.ndarray:
                    add(x.shape)
                    add(x.dtype)
                elif x is None:
                    add(None)
                    nones = True
                elif t is np.random.Generator:
                    add(_GENERATOR)
                elif isinstance(x, np.generic):     # a numpy scalar: an input, as in _signature
                    add(_ARRAY)
                    add(x.dtype)
                else:
                    break
            else:
                key, leaves, treedef = tuple(sig), dyn_args, None
                inputs = [x for x in dyn_args if x is not None] if nones else dyn_args
        if key is None:
            leaves, treedef = tree_flatten((dyn_args, dyn_kwargs))
            for x in leaves:
                if isinstance(x, (Tracer, _StagedGenerator)):
                    return self.fun(*args, **kwargs)     # under an enclosing transform: just trace
            sig, dyn = _signature(leaves)
            key = (static, treedef, sig)
            inputs = [leaves[i] for i in dyn] if len(dyn) != len(leaves) else leaves
        entry = self._plans.get(key)
        if entry is _UNSTAGED:
            return self.fun(*args, **kwargs)
        if entry is not None:
            for plan in entry:
                if plan.snapshot_rng:
                    states = [(x, x.bit_generator.state) for x in inputs
                              if isinstance(x, np.random.Generator)]
                try:
                    return plan.run(*inputs)        # the plan builds the result's structure
                except _GuardFailed:
                    if plan.snapshot_rng:
                        for g, s in states:
                            g.bit_generator.state = s
        if treedef is None:
            dyn = [i for i, x in enumerate(leaves) if x is not None]
        return self._record(key, args, kwargs, leaves, treedef, dyn)

    def _record(self, key, args, kwargs, leaves, treedef, dyn):
        trace = StagingTrace()
        gen_states = [(leaves[i], leaves[i].bit_generator.state) for i in dyn
                      if isinstance(leaves[i], np.random.Generator)]
        staged = list(leaves)
        in_vars = []
        for i in dyn:
            x = leaves[i]
            if isinstance(x, np.random.Generator):
                g = _StagedGenerator(trace, x, trace.nvars)
                trace.nvars += 1
                staged[i], var = g, g._var
            else:
                s = trace.new_var(x)
                staged[i], var = s, s._var
            in_vars.append(var)
        if treedef is None:
            call_args, call_kwargs = self._merge_static(args, staged), {}
        else:
            dyn_args, dyn_kwargs = tree_unflatten(treedef, staged)
            call_args = self._merge_static(args, dyn_args)
            call_kwargs = {**{k: kwargs[k] for k in self.static_argnames if k in kwargs},
                           **dyn_kwargs}
        try:
            with _GlobalRandomGuard():
                out = self.fun(*call_args, **call_kwargs)
            out_leaves, out_def = tree_flatten(out)
            plan = _Plan(trace, in_vars, out_leaves, out_def)
        except _CannotStage:
            # A value of an enclosing transform was reached (a closure): no plan, run as is
            # (now and for this signature). Draws made while recording are undone first, so
            # the generators advance once, as without jit.
            for g, state in gen_states:
                g.bit_generator.state = state
            self._plans[key] = _UNSTAGED
            return self.fun(*args, **kwargs)
        except BaseException:
            for g, state in gen_states:   # a caller that falls back to the untraced function
                g.bit_generator.state = state   # then draws what it would have drawn
            raise
        plans = self._plans.setdefault(key, [])
        plans.insert(0, plan)
        del plans[MAX_PLANS_PER_SIGNATURE:]
        self.recordings += 1
        if self.recordings >= RETRACE_WARNING and not self._warned:
            self._warned = True
            guards = ", ".join(dict.fromkeys(trace.where)) or "argument signatures"
            warnings.warn(f"nm.jit({getattr(self.fun, '__name__', 'function')}) has been recorded "
                          f"{self.recordings} times; what keeps changing: {guards}. Pass changing "
                          f"Python numbers as arrays, or avoid Python decisions on values",
                          RuntimeWarning, stacklevel=3)
        return tree_unflatten(out_def, [o._primal if isinstance(o, StagedTracer) else
                                        o.copy() if isinstance(o, np.ndarray) else o
                                        for o in out_leaves])

    def _merge_static(self, args: tuple, dyn_args: Sequence) -> tuple:
        if not self.static_argnums:
            return tuple(dyn_args)
        it = iter(dyn_args)
        return tuple(args[i] if i in self.static_argnums else next(it) for i in range(len(args)))

    def plan_source(self, *args, **kwargs) -> str:
        """The Python source of every plan recorded so far (recording one for these arguments
        first, if needed): what a replay runs, one numpy call per line."""
        self(*args, **kwargs)
        sources = [p.source for entry in self._plans.values() if entry is not _UNSTAGED
                   for p in entry]
        if not sources:
            raise ValueError("jit: these arguments reach a value of an enclosing transform, so "
                             "the function runs untraced and has no plan")
        return "\n".join(sources)


def jit(fun: Callable | None = None, *, static_argnums: int | Sequence[int] = (),
        static_argnames: str | Sequence[str] = ()) -> Callable:
    """Record ``fun`` once per input signature as a plan of numpy calls, and replay it (JAX's
    ``jax.jit`` name and calling convention; see the module docstring for what is recorded).

    >>> import numpy as np, nnmath as nm, nnmath.numpy as mnp
    >>> f = nm.jit(nm.grad(lambda x: mnp.sum(mnp.tanh(x) * 2.0 + 1.0)))
    >>> np.allclose(f(np.zeros(3)), 2.0)
    True

    Array arguments (and ``numpy.random.Generator`` arguments) are inputs of the plan; every other
    argument leaf (Python numbers, strings, None) is part of the signature, like JAX's static
    arguments. ``static_argnums``/``static_argnames`` mark whole arguments static (hashable).
    """
    nums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    names = (static_argnames,) if isinstance(static_argnames, str) else tuple(static_argnames)
    if fun is None:
        return lambda f: _Jitted(f, nums, names)
    if not callable(fun):
        raise TypeError(f"jit: expected a function, got {type(fun).__name__}")
    return _Jitted(fun, nums, names)
