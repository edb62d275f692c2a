"""Keras-style optimizer objects: Keras 3's names, arguments, defaults and update formulas.

Each class is a thin holder of hyper-parameters that offers two equivalent ways to step:

* **the pure pytree path** — ``opt.transform`` is a :class:`GradientTransformation` built from the
  blocks in ``_transform`` with Keras's conventions (``opt.init(params)`` /
  ``opt.update(grads, state, params)`` delegate to it); nothing is mutated;
* **the fast flat path** the training loop uses — ``opt.init_flat(flat_params)`` allocates the
  state buffers once, ``opt.update_flat(flat_params, flat_grads)`` updates one contiguous
  float32/float64 parameter buffer *in place* with a handful of vectorised numpy calls writing
  into preallocated scratch (``out=``), and ``flat_state()`` / ``set_flat_state(d)`` checkpoint
  it as plain arrays and scalars — Keras's own variables (momentum, velocity, …), restored
  exactly, so a resumed run follows the uninterrupted one bit for bit.

Neither path holds an update rule of its own: each optimizer's rule is one function of
``_rules``, run by the pure transform in ``nnmath.numpy`` and by the flat path in place (numpy's
ufuncs with ``out=``), so the two make the same operations; they differ only in where η is
applied (the pure chain scales by −η in its own transform, the flat path folds η into the rule's
coefficient and subtracts) and follow the same trajectory (tested to 1e-12 in float64). What
every Keras optimizer does
around its own rule, in this order (``keras/src/optimizers/base_optimizer.py``):

1. clip the gradients — at most one of ``clipnorm`` (each weight's gradient to norm ≤ c:
   g·c/max(‖g‖, c)), ``global_clipnorm`` (all together) or ``clipvalue`` (elementwise to [−c, c]);
   as in Keras a value of 0 or None means "off";
2. decoupled weight decay, if ``weight_decay`` is set: θ ← θ − η_t·λ·θ;
3. the optimizer's own update with η_t = learning_rate(iterations) (iterations = 0 first);
4. iterations ← iterations + 1.

For ``clipnorm`` on the flat path, pass the leaves' sizes (``init_flat(flat, sizes=...)``, in
flattening order); without them the whole buffer counts as one weight.
"""
from __future__ import annotations

import numbers
import re
from typing import Any, Sequence

import numpy as np

from . import _rules
from . import schedules as _schedules
from ._rules import IN_PLACE
from ._stateless import StatelessAPI
from ._transform import (
    GradientTransformation, _check_nonneg, _check_rate, chain, check_learning_rate, clip,
    clip_by_global_norm, clip_by_norm, decoupled_weight_decay, scalar, scale_by_adam,
    scale_by_learning_rate, scale_by_lion, scale_by_nadam, scale_by_rms, scale_by_rss, trace,
)

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Nadam", "Lion", "get",
           "serialize", "deserialize"]


BLOCK = 1 << 16      # elements per block of the flat kernels (see Optimizer._allocate)

# Keras 3 arguments nnmath does not implement; accepted (so that a Keras config loads) only at
# their defaults. ``decay`` is Keras's removed legacy argument, which Keras itself ignores.
_KERAS_ONLY = {"use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
               "loss_scale_factor": None, "gradient_accumulation_steps": None, "decay": None}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z][a-z])", "_", name).lower()


class Optimizer(StatelessAPI):
    """Base class of the Keras-style optimizers (see the module docstring for the contract).

    Args (shared by every optimizer, with Keras's meanings):
        learning_rate: a float ≥ 0, a :class:`~nnmath.optimizers.schedules.LearningRateSchedule`
            or any callable ``step -> learning rate`` (called with ``iterations``; Keras's
            zero-argument callables are not supported). Settable later if it was a float.
        weight_decay: λ of the decoupled decay θ ← θ − η_t·λ·θ, or None.
        clipnorm, clipvalue, global_clipnorm: gradient clipping (at most one; 0/None = off).
        name: the optimizer's name.

    Subclasses define ``_rule(learning_rate)`` (the pure update as transforms, learning rate
    included), ``_slots`` (names of the flat state buffers, Keras's variable names),
    ``_coeffs(lr, t)`` (the step's scalars, once per step t ≥ 1) and
    ``_kernel(p, g, buf, tmp, c)`` (the in-place update of one block: ``buf`` maps slot names to
    that block of each buffer, ``tmp`` is a list of scratch arrays, ``c`` what ``_coeffs`` gave),
    which runs the same function of ``_rules`` as the transforms of ``_rule`` with
    ``IN_PLACE`` and subtracts its output from ``p``.
    """

    _slots: tuple[str, ...] = ()       # per-parameter flat buffers, in Keras's names
    _n_tmp: int = 1                    # scratch buffers the flat kernel needs

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name=None, **kwargs):
        for key, default in _KERAS_ONLY.items():        # a Keras config loads if it uses none
            if key in kwargs and kwargs.pop(key) != default:
                raise NotImplementedError(f"Argument `{key}` is not supported by nnmath's "
                                          f"optimizers (only its default {default!r} is)")
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}. {type(self).__name__} "
                             f"accepts: {sorted(self._config_keys())}")
        for arg, val in (("weight_decay", weight_decay), ("clipnorm", clipnorm),
                         ("clipvalue", clipvalue), ("global_clipnorm", global_clipnorm)):
            if val is not None:
                _check_nonneg(arg, val)
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be "
                             f"set. Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                             f"global_clipnorm={global_clipnorm}")
        self.name = name if name is not None else _snake(type(self).__name__)
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self._learning_rate = check_learning_rate(learning_rate)
        self._iterations = 0
        self._transform: GradientTransformation | None = None
        self._buffers: dict[str, np.ndarray] | None = None
        self._shape: tuple | None = None
        self._dtype = None
        self._sizes: np.ndarray | None = None
        self._blocks: list[tuple] = []
        self._gbuf: np.ndarray | None = None
        self._groups: list | None = None      # several flat buffers (one per dtype), or None

    # ------------------------------------------------------------------ hyper-parameters
    def __setattr__(self, name: str, value) -> None:
        # Hyper-parameters are read at every flat step; the cached pure transform is rebuilt
        # after any of them changes. (Change momentum/amsgrad/centered only before init_flat:
        # they decide which buffers exist.)
        object.__setattr__(self, name, value)
        if not name.startswith("_"):
            object.__setattr__(self, "_transform", None)

    @property
    def learning_rate(self) -> float:
        """η at the current step: the float, or the schedule evaluated at ``iterations``."""
        lr = self._learning_rate
        return float(scalar(lr(self._iterations))) if callable(lr) else float(lr)

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if callable(self._learning_rate) and not callable(value):
            raise TypeError("This optimizer was created with a learning rate schedule, hence "
                            "its learning rate is not settable; create it with a float "
                            "`learning_rate` to set it later.")
        self._learning_rate = check_learning_rate(value)
        self._transform = None

    @property
    def iterations(self) -> int:
        """Number of flat-path updates made (the step the schedule sees next)."""
        return self._iterations

    def _hyper(self) -> dict:
        """The subclass's own hyper-parameters (for get_config)."""
        return {}

    @classmethod
    def _config_keys(cls) -> set:
        import inspect
        return {k for k in inspect.signature(cls.__init__).parameters
                if k not in ("self", "kwargs")}

    def get_config(self) -> dict:
        """JSON-serialisable config; a schedule is stored as ``{"class_name", "config"}``."""
        lr = self._learning_rate
        if isinstance(lr, _schedules.LearningRateSchedule):
            lr = _schedules.serialize(lr)
        elif callable(lr):
            raise TypeError(f"{type(self).__name__}.get_config: the learning rate {lr!r} is a "
                            "plain callable, which cannot be serialised; use a "
                            "nnmath.optimizers.schedules.LearningRateSchedule")
        else:
            lr = float(lr)
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm,
                "clipvalue": self.clipvalue, **self._hyper()}

    @classmethod
    def from_config(cls, config: dict) -> "Optimizer":
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = _schedules.deserialize(config["learning_rate"])
        return cls(**config)

    def __repr__(self) -> str:
        cfg = {k: v for k, v in self.get_config().items() if v is not None and k != "name"}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in cfg.items())})"

    # ------------------------------------------------------------------ pure pytree path
    def _rule(self, learning_rate) -> list[GradientTransformation]:
        raise NotImplementedError

    @property
    def transform(self) -> GradientTransformation:
        """The whole Keras step as one pure transform: clipping, the rule, weight decay."""
        if self._transform is None:
            lr = self._learning_rate
            parts = []
            if self.clipnorm:
                parts.append(clip_by_norm(self.clipnorm))
            elif self.global_clipnorm:
                parts.append(clip_by_global_norm(self.global_clipnorm))
            elif self.clipvalue:
                parts.append(clip(self.clipvalue))
            parts += self._rule(lr)
            if self.weight_decay:
                parts.append(decoupled_weight_decay(self.weight_decay, lr))
            self._transform = chain(*parts)
        return self._transform

    def init(self, params) -> Any:
        """``self.transform.init(params)``."""
        return self.transform.init(params)

    def update(self, grads, state, params=None) -> tuple[Any, Any]:
        """``self.transform.update(grads, state, params)`` → (updates, new_state); add the
        updates with :func:`apply_updates`. Pure: ``iterations`` is not advanced."""
        return self.transform.update(grads, state, params)

    # ------------------------------------------------------------------ fast flat path
    def _slot_init(self, name: str) -> float:
        return 0.0

    def _scalar_state(self) -> dict:
        """Scalars of the flat state besides ``iterations`` (e.g. Nadam's u_product)."""
        return {}

    def _set_scalar_state(self, values: dict) -> None:
        """Restore the scalars of :meth:`_scalar_state` (none in the base class)."""

    def _reset_scalars(self) -> None:
        """Reset the scalars of :meth:`_scalar_state` to their initial values (none here)."""

    @staticmethod
    def _group(p: np.ndarray, sizes, n_tmp: int, slots, slot_init) -> "_FlatGroup":
        """The state of one flat buffer ``p``, checked: its buffers, scratch and blocks."""
        if not isinstance(p, np.ndarray) or p.ndim != 1 or p.dtype not in (np.float32, np.float64):
            raise ValueError("init_flat: `flat_params` must be a 1-D float32 or float64 numpy "
                             f"array; received {type(p).__name__} with shape "
                             f"{getattr(p, 'shape', None)} and dtype {getattr(p, 'dtype', None)}")
        if not (p.flags.c_contiguous and p.flags.writeable):
            raise ValueError("init_flat: `flat_params` must be a writeable, contiguous buffer "
                             "(it is updated in place)")
        if sizes is not None:
            sizes = np.asarray(sizes, dtype=np.intp).ravel()
            if sizes.sum() != p.size or (sizes <= 0).any():
                raise ValueError(f"init_flat: `sizes` must be positive leaf sizes summing to "
                                 f"flat_params.size = {p.size}; received sizes summing to "
                                 f"{int(sizes.sum())}")
        n = p.size
        buffers = {s: np.full(n, slot_init(s), dtype=p.dtype) for s in slots}
        # The kernel runs block by block so that its working set (θ, g, the buffers and the
        # scratch: ~6 arrays of BLOCK elements) stays in the core's L2 cache between its numpy
        # calls; one block (no slicing) below BLOCK elements.
        tmp = [np.empty(min(n, BLOCK), p.dtype) for _ in range(n_tmp)]
        blocks = []
        for i in range(0, n, BLOCK):
            sl = slice(i, min(i + BLOCK, n))
            blocks.append((sl, {k: b[sl] for k, b in buffers.items()},
                           [t[:sl.stop - sl.start] for t in tmp]))
        return _FlatGroup(p.shape, p.dtype, sizes, buffers, blocks)

    def _allocate(self, flat_params, sizes=None) -> None:
        """State for one flat buffer, or for a list of them (one per dtype: a model whose weights
        are not all of one dtype keeps one buffer per dtype, as Keras keeps each variable's)."""
        several = isinstance(flat_params, (list, tuple))
        buffers = list(flat_params) if several else [flat_params]
        if several and not buffers:
            raise ValueError("init_flat: received an empty list of buffers")
        if sizes is None or not several:
            per = [sizes] if not several else [None] * len(buffers)
        else:
            per = list(sizes)
            if len(per) != len(buffers):
                raise ValueError(f"init_flat: {len(buffers)} buffers but {len(per)} lists of sizes")
        groups = [self._group(p, sz, self._n_tmp, self._slots, self._slot_init)
                  for p, sz in zip(buffers, per)]
        self._groups = groups if several else None
        g = groups[0]              # the single-buffer path reads these directly (the hot path)
        self._shape, self._dtype, self._sizes = g.shape, g.dtype, g.sizes
        self._buffers, self._blocks = g.buffers, g.blocks
        self._gbuf = None                               # clipped gradients, on first use

    def init_flat(self, flat_params, sizes=None) -> None:
        """Allocate the state for one flat parameter buffer and restart at iteration 0.

        Args:
            flat_params: the 1-D contiguous float32/float64 buffer later updated in place — or a
                list of such buffers (one per dtype), stepped together by ``update_flat`` with a
                list of gradients (one iteration, one learning rate; ``global_clipnorm`` over all).
            sizes: the sizes of the leaves packed in it, in order (only ``clipnorm`` needs them:
                it clips each weight separately); None = one weight. A list of such lists for a
                list of buffers.
        """
        self._allocate(flat_params, sizes)
        self._iterations = 0
        self._reset_scalars()
        self._var_shapes = None           # the variables' shapes, if known (see _stateless)

    init_flat._accepts_buffer_lists = True

    def update_flat(self, flat_params, flat_grads) -> None:
        """One step θ ← step(θ, g), written into ``flat_params`` in place (allocates if needed);
        lists of buffers and gradients (as given to :meth:`init_flat`) are stepped together."""
        if isinstance(flat_params, (list, tuple)):
            return self._update_groups(list(flat_params), list(flat_grads))
        if self._buffers is None:
            self._allocate(flat_params)
        if (self._groups is not None or flat_params.shape != self._shape
                or flat_grads.shape != self._shape
                or flat_params.dtype != self._dtype or flat_grads.dtype != self._dtype):
            raise ValueError(f"update_flat: expected flat_params and flat_grads of shape "
                             f"{self._shape} and dtype {self._dtype} (as at init_flat); received "
                             f"{flat_params.shape} {flat_params.dtype} and {flat_grads.shape} "
                             f"{flat_grads.dtype}")
        lr = self._learning_rate
        lr = float(scalar(lr(self._iterations))) if callable(lr) else lr
        g = flat_grads
        if self.clipnorm or self.global_clipnorm or self.clipvalue:
            g = self._clip_flat(g)
        if self.weight_decay:
            _rules.weight_decay(IN_PLACE, flat_params, lr * self.weight_decay, flat_params)
        c = self._coeffs(lr, self._iterations + 1)
        kernel, blocks = self._kernel, self._blocks
        if len(blocks) == 1:
            kernel(flat_params, g, blocks[0][1], blocks[0][2], c)
        else:
            for sl, buf, tmp in blocks:
                kernel(flat_params[sl], g[sl], buf, tmp, c)
        self._iterations += 1

    def _update_groups(self, params: list, grads: list) -> None:
        """:meth:`update_flat` on several buffers: the same step t and η_t for all; clipping by
        global norm measures every buffer together (Keras clips all gradients together)."""
        if self._buffers is None:
            self._allocate(params)
        groups = self._groups or []
        if len(params) != len(groups) or len(grads) != len(groups) or any(
                p.shape != gr.shape or g.shape != gr.shape or p.dtype != gr.dtype
                or g.dtype != gr.dtype for p, g, gr in zip(params, grads, groups)):
            want = [(gr.shape, gr.dtype.name) for gr in groups]
            got = [(p.shape, p.dtype.name) for p in params]
            raise ValueError(f"update_flat: expected {len(groups)} buffers and gradients of "
                             f"(shape, dtype) {want} (as at init_flat); received {got}")
        lr = self._learning_rate
        lr = float(scalar(lr(self._iterations))) if callable(lr) else lr
        if self.global_clipnorm:
            ss = sum(float(np.dot(g, g)) for g in grads)
            grads = [self._scale_to_norm(g, ss, self.global_clipnorm, gr.scratch(g))
                     for g, gr in zip(grads, groups)]
        elif self.clipnorm or self.clipvalue:
            grads = [self._clip_flat(g, gr) for g, gr in zip(grads, groups)]
        c = self._coeffs(lr, self._iterations + 1)
        kernel = self._kernel
        for p, g, gr in zip(params, grads, groups):
            if self.weight_decay:
                _rules.weight_decay(IN_PLACE, p, lr * self.weight_decay, p)
            for sl, buf, tmp in gr.blocks:
                kernel(p[sl], g[sl], buf, tmp, c)
        self._iterations += 1

    def _clip_flat(self, g: np.ndarray, group: "_FlatGroup | None" = None) -> np.ndarray:
        if group is None:
            if self._gbuf is None:
                self._gbuf = np.empty_like(g)
            out, sizes = self._gbuf, self._sizes
        else:
            out, sizes = group.scratch(g), group.sizes
        if self.clipnorm:
            c = self.clipnorm
            if sizes is None:
                return self._scale_to_norm(g, float(np.dot(g, g)), c, out)
            starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
            ss = np.add.reduceat(np.square(g, out=out), starts).astype(np.float64)
            s = _rules.norm_scale(IN_PLACE, ss, c)
            if (s == 1.0).all():
                return g
            return np.multiply(g, np.repeat(s.astype(g.dtype), sizes), out=out)
        if self.global_clipnorm:
            return self._scale_to_norm(g, float(np.dot(g, g)), self.global_clipnorm, out)
        if self.clipvalue:
            return _rules.clip_value(IN_PLACE, g, self.clipvalue, out)
        return g

    @staticmethod
    def _scale_to_norm(g, ss: float, c: float, out) -> np.ndarray:
        # the rule's c / max(‖g‖, c) (NaN for a non-finite norm, as Keras and the pure path)
        s = float(_rules.norm_scale(IN_PLACE, ss, c))
        return g if s == 1.0 else np.multiply(g, s, out=out)

    def _coeffs(self, lr: float, t: int) -> Any:
        return lr

    def _kernel(self, p: np.ndarray, g: np.ndarray, buf: dict, tmp: list, c: Any) -> None:
        raise NotImplementedError

    def flat_state(self) -> dict:
        """The flat path's state: ``iterations``, each buffer (a copy; Keras's variable names and
        values) and the scalars; plain numpy arrays and Python numbers, for checkpoints. With
        several flat buffers the first one's are named as with one and buffer k ≥ 1's
        ``"<slot>/<k>"``."""
        state: dict[str, Any] = {"iterations": self._iterations}
        for k, buffers in enumerate(self._group_buffers()):
            for s, buf in buffers.items():
                state[s if k == 0 else f"{s}/{k}"] = buf.copy()
        state.update(self._scalar_state())
        return state

    def _group_buffers(self) -> list:
        if self._groups is not None:
            return [g.buffers for g in self._groups]
        return [] if self._buffers is None else [self._buffers]

    def set_flat_state(self, state: dict) -> None:
        """Restore what :meth:`flat_state` returned (allocating the buffers if needed)."""
        n = 1 + max([int(k.rpartition("/")[2]) for k in state if "/" in k
                     and k.rpartition("/")[2].isdigit()] or [0]) if self._slots else 1
        names = [s if k == 0 else f"{s}/{k}" for k in range(n) for s in self._slots]
        expected = {"iterations", *self._scalar_state()} | set(names)
        missing, unknown = expected - set(state), set(state) - expected
        if missing or unknown:
            raise ValueError(f"set_flat_state: {type(self).__name__} state needs keys "
                             f"{sorted(expected)}; missing {sorted(missing)}, unknown "
                             f"{sorted(unknown)}")
        if self._slots:
            firsts = [np.asarray(state[self._slots[0] if k == 0 else f"{self._slots[0]}/{k}"])
                      for k in range(n)]
            have = self._group_buffers()
            if len(have) != n or any(f.shape != next(iter(b.values())).shape
                                     for f, b in zip(firsts, have)):
                shells = [np.empty(f.shape, f.dtype if f.dtype in (np.float32, np.float64)
                                   else np.float64) for f in firsts]
                self._allocate(shells if n > 1 else shells[0], None if n > 1 else self._sizes)
            for k, buffers in enumerate(self._group_buffers()):
                for s in self._slots:
                    key = s if k == 0 else f"{s}/{k}"
                    val = np.asarray(state[key])
                    if val.shape != buffers[s].shape:
                        raise ValueError(f"set_flat_state: buffer {key!r} has shape {val.shape}; "
                                         f"expected {buffers[s].shape}")
                    np.copyto(buffers[s], val, casting="same_kind")
        self._iterations = int(state["iterations"])
        self._set_scalar_state({k: state[k] for k in self._scalar_state()})


class _FlatGroup:
    """One flat buffer's optimizer state: shape, dtype, leaf sizes, the slot buffers, the
    blocks the kernel runs on, and scratch for clipped gradients (made on first use)."""

    __slots__ = ("shape", "dtype", "sizes", "buffers", "blocks", "gbuf")

    def __init__(self, shape, dtype, sizes, buffers, blocks):
        self.shape, self.dtype, self.sizes = shape, dtype, sizes
        self.buffers, self.blocks, self.gbuf = buffers, blocks, None

    def scratch(self, g: np.ndarray) -> np.ndarray:
        if self.gbuf is None:
            self.gbuf = np.empty_like(g)
        return self.gbuf


# ============================================================================= SGD
class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum — Keras ``SGD``.

    momentum 0:  θ ← θ − η_t·g;
    momentum μ:  v ← μv − η_t·g,  θ ← θ + v;
    Nesterov:    v ← μv − η_t·g,  θ ← θ + μv − η_t·g.

    Warning:
        PyTorch keeps η outside the velocity (v ← μv + g, θ ← θ − η_t·v): the same trajectory for
        a constant η, not under a schedule. Keras's default η is 0.01 (PyTorch 0.001).

    References: Polyak (1964); Sutskever et al. (2013).

    >>> import numpy as np
    >>> opt = SGD(learning_rate=0.1, momentum=0.9)
    >>> w = np.array([1.0])
    >>> opt.update_flat(w, np.array([1.0])); opt.update_flat(w, np.array([1.0]))
    >>> w                                   # 1 − 0.1 − (0.9·0.1 + 0.1)
    array([0.71])
    """

    _slots = ("momentum",)

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name="SGD", **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name,
                         **kwargs)
        if not (isinstance(momentum, numbers.Real) and not isinstance(momentum, bool)
                and 0 <= momentum <= 1):
            raise ValueError(f"`momentum` must be a float between [0, 1]. Received: "
                             f"momentum={momentum!r}")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        if not self.momentum:
            self._slots = ()
        self._n_tmp = 2 if self.nesterov else 1

    def _hyper(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov}

    def _rule(self, lr):
        if not self.momentum:
            return [scale_by_learning_rate(lr)]
        return [scale_by_learning_rate(lr), trace(self.momentum, self.nesterov)]

    def _kernel(self, p, g, buf, tmp, lr):
        s = np.multiply(g, -lr, out=tmp[0])             # s = −η g
        if self.momentum:                               # v = μv + s;  u = v or s + μv
            s, _ = _rules.trace(IN_PLACE, s, buf["momentum"], tmp[-1], self.momentum,
                                self.nesterov)
        p += s


# ============================================================================= Adam, AdamW
class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) — Keras ``Adam``, in the paper's "ε̂" form.

    m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²  (AMSGrad: v̂_max ← max(v̂_max, v), used below for v),
    α_t = η_t·√(1−β₂ᵗ)/(1−β₁ᵗ),  θ ← θ − α_t·m/(√v + ε̂).

    Equivalently θ ← θ − η_t·m̂/(√v̂ + ε̂/√(1−β₂ᵗ)) with m̂, v̂ bias-corrected.

    Warning:
        This is *not* PyTorch's ``Adam`` (θ ← θ − η·m̂/(√v̂ + ε)) with a different ε: Keras's ε̂ is
        effectively divided by √(1−β₂ᵗ) (≈ 0.03 at t = 1), and defaults differ (ε̂ = 1e-7 here,
        ε = 1e-8 in PyTorch). With ε = 0 the two coincide. For PyTorch's rule use
        :func:`nnmath.optimizers.adam`.

    >>> import numpy as np
    >>> w = np.array([0.0, 0.0]); opt = Adam(learning_rate=0.1)
    >>> opt.update_flat(w, np.array([2.0, -1e-3])); np.round(w, 6)   # ≈ −η·sign(g) at t = 1
    array([-0.1     ,  0.099685])
    """

    _slots = ("momentum", "velocity")
    _n_tmp = 1

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name="adam", **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name,
                         **kwargs)
        _check_rate("beta_1", beta_1)
        _check_rate("beta_2", beta_2)
        _check_nonneg("epsilon", epsilon)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.amsgrad = bool(amsgrad)
        if self.amsgrad:
            self._slots = ("momentum", "velocity", "velocity_hat")

    def _hyper(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}

    def _rule(self, lr):
        return [scale_by_adam(self.beta_1, self.beta_2, self.epsilon, eps_hat=True,
                              amsgrad=self.amsgrad), scale_by_learning_rate(lr)]

    def _coeffs(self, lr, t):
        # α_t = η_t √(1−β₂ᵗ)/(1−β₁ᵗ), ε̂
        return _rules.adam_coeffs(self.beta_1, self.beta_2, self.epsilon, t, True, lr)

    def _kernel(self, p, g, buf, tmp, c):
        # 12 numpy calls, no temporaries. (Storing m/(1−β₁) and v/(1−β₂) instead saves two calls,
        # 15% at 6k parameters and 4% at 2M, but checkpoints would then either not be in Keras's
        # units or not resume bit for bit.)
        d = _rules.adam(IN_PLACE, g, buf["momentum"], buf["velocity"], buf.get("velocity_hat"),
                        tmp[0], self.beta_1, self.beta_2, c[0], c[1])[0]
        p -= d                                          # θ −= α m/(√v + ε̂)


class AdamW(Adam):
    """AdamW: Adam with decoupled weight decay (Loshchilov & Hutter 2019) — Keras ``AdamW``.

    θ ← θ − η_t·λ·θ, then the :class:`Adam` step (Keras's ε̂ form); since the Adam step does not
    read θ this is θ ← θ − η_t(√(1−β₂ᵗ)/(1−β₁ᵗ)·m/(√v + ε̂) + λθ).

    Warning:
        Default λ = 0.004 (PyTorch's ``AdamW``: 0.01, with its ε-outside Adam); λ must be a float.

    >>> import numpy as np
    >>> w = np.array([1.0]); AdamW(learning_rate=0.1, weight_decay=0.5).update_flat(w, np.zeros(1))
    >>> w                                   # zero gradient: only the decay, 1 − 0.1·0.5
    array([0.95])
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name="adamw", **kwargs):
        if weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: "
                             "weight_decay=None")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay, clipnorm,
                         clipvalue, global_clipnorm, name, **kwargs)


# ============================================================================= RMSprop
class RMSprop(Optimizer):
    """RMSprop (Hinton 2012) — Keras ``RMSprop``.

    v ← ρv + (1−ρ)g²;  centered: ḡ ← ρḡ + (1−ρ)g, s = v − ḡ², else s = v;
    d = η_t·g/√(s + ε);  θ ← θ − d, or with momentum μ: b ← μb + d, θ ← θ − b.

    Warning:
        ε sits *inside* the square root (PyTorch: g/(√s + ε)), η_t inside the momentum buffer
        (PyTorch: b ← μb + g/(√s + ε), θ ← θ − η_t·b), and the defaults are ρ = 0.9, ε = 1e-7,
        η = 0.001 (PyTorch: α = 0.99, ε = 1e-8, lr = 0.01).

    >>> import numpy as np
    >>> w = np.array([10.0]); RMSprop(learning_rate=0.1).update_flat(w, w.copy()); np.round(w, 6)
    array([9.683772])
    """

    _n_tmp = 1

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name="rmsprop", **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name,
                         **kwargs)
        _check_rate("rho", rho)
        _check_rate("momentum", momentum, closed=True)
        _check_nonneg("epsilon", epsilon)
        self.rho, self.momentum, self.epsilon = rho, momentum, epsilon
        self.centered = bool(centered)
        self._slots = ("velocity",) + (("momentum",) if momentum > 0 else ()) + \
            (("average_gradient",) if self.centered else ())

    def _hyper(self):
        return {"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}

    def _rule(self, lr):
        rule = [scale_by_rms(self.rho, self.epsilon, eps_in_sqrt=True, centered=self.centered),
                scale_by_learning_rate(lr)]
        return rule + ([trace(self.momentum)] if self.momentum > 0 else [])

    def _kernel(self, p, g, buf, tmp, lr):
        d = _rules.rms(IN_PLACE, g, buf["velocity"], buf.get("average_gradient"), tmp[0],
                       self.rho, self.epsilon, True, lr)[0]            # d = η g/√(s + ε)
        if self.momentum > 0:                                           # b = μb + d
            d = _rules.trace(IN_PLACE, d, buf["momentum"], None, self.momentum, False)[0]
        p -= d


# ============================================================================= Adagrad
class Adagrad(Optimizer):
    """Adagrad (Duchi, Hazan & Singer 2011) — Keras ``Adagrad``.

    G ← G + g² (G₀ = ``initial_accumulator_value``),  θ ← θ − η_t·g/√(G + ε).

    Warning:
        Keras starts G at 0.1 with ε = 1e-7 inside the root; PyTorch starts at 0 with ε = 1e-10
        outside (g/(√G + ε)) and has lr_decay. Keras's default η = 0.001 is small for Adagrad
        (PyTorch 0.01; the paper's form is η = 1).

    >>> import numpy as np
    >>> w = np.array([0.0]); Adagrad(learning_rate=1.0).update_flat(w, np.array([0.3]))
    >>> np.round(w, 6)                      # −0.3/√(0.1 + 0.09 + 1e-7)
    array([-0.688247])
    """

    _slots = ("accumulator",)

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name="adagrad", **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name,
                         **kwargs)
        _check_nonneg("initial_accumulator_value", initial_accumulator_value)
        _check_nonneg("epsilon", epsilon)
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def _hyper(self):
        return {"initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}

    def _rule(self, lr):
        return [scale_by_rss(self.initial_accumulator_value, self.epsilon, eps_in_sqrt=True),
                scale_by_learning_rate(lr)]

    def _slot_init(self, name):
        return self.initial_accumulator_value

    def _kernel(self, p, g, buf, tmp, lr):
        p -= _rules.rss(IN_PLACE, g, buf["accumulator"], tmp[0], self.epsilon, True, lr)[0]


# ============================================================================= Nadam
class Nadam(Optimizer):
    """Nadam: Adam with Nesterov momentum (Dozat 2016) — Keras ``Nadam``.

    u_t = β₁(1 − ½·0.96ᵗ),  Π_t = Π_{i≤t} u_i,  m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,
    m̂ = u_{t+1}m/(1 − Π_t u_{t+1}) + (1−u_t)g/(1 − Π_t),  v̂ = v/(1−β₂ᵗ),
    θ ← θ − η_t·m̂/(√v̂ + ε).

    Warning:
        PyTorch's ``NAdam`` is the same rule with u_t = β₁(1 − ½·0.96^(ψt)), ψ = momentum_decay
        = 4e-3 by default, and ε = 1e-8; ``NAdam(momentum_decay=1.0, eps=1e-7)`` matches this one.

    >>> import numpy as np
    >>> w = np.array([0.0, 0.0]); Nadam(learning_rate=0.1).update_flat(w, np.array([1.0, -1.0]))
    >>> np.round(w, 6)      # −η(1 + u₂(1−β₁)/(1 − u₁u₂))·sign(g): Adam's step plus the look-ahead
    array([-0.106279,  0.106279])
    """

    _slots = ("momentum", "velocity")
    _n_tmp = 2

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name="nadam", **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name,
                         **kwargs)
        _check_rate("beta_1", beta_1)
        _check_rate("beta_2", beta_2)
        _check_nonneg("epsilon", epsilon)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self._u_product = 1.0

    def _hyper(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}

    def _rule(self, lr):
        return [scale_by_nadam(self.beta_1, self.beta_2, self.epsilon, momentum_decay=1.0),
                scale_by_learning_rate(lr)]

    def _scalar_state(self):
        return {"u_product": self._u_product}

    def _set_scalar_state(self, values):
        self._u_product = float(values["u_product"])

    def _reset_scalars(self):
        self._u_product = 1.0

    def _coeffs(self, lr, t):
        # With r = √(1−β₂ᵗ): η m̂/(√v̂ + ε) = (r η m̂)/(√v + rε), m̂ = c_m m + c_g g.
        self._u_product, *c = _rules.nadam_coeffs(self.beta_1, self.beta_2, self.epsilon, 1.0,
                                                  t, self._u_product, lr)
        return c

    def _kernel(self, p, g, buf, tmp, c):
        p -= _rules.nadam(IN_PLACE, g, buf["momentum"], buf["velocity"], tmp[0], tmp[1],
                          self.beta_1, self.beta_2, *c)[0]


# ============================================================================= Lion
class Lion(Optimizer):
    """Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms") — Keras ``Lion``.

    θ ← θ − η_t·sign(β₁m + (1−β₁)g),  then m ← β₂m + (1−β₂)g.

    Each coordinate moves by exactly η_t (or 0), so η should be 3–10× smaller than AdamW's and
    a weight decay that much larger. PyTorch has no Lion.

    >>> import numpy as np
    >>> w = np.zeros(3); Lion(learning_rate=0.1).update_flat(w, np.array([3.0, -1e-9, 0.0]))
    >>> w
    array([-0.1,  0.1,  0. ])
    """

    _slots = ("momentum",)
    _n_tmp = 2

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name="lion", **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name,
                         **kwargs)
        if not (isinstance(beta_1, numbers.Real) and 0 < beta_1 <= 1):
            raise ValueError("Argument `beta_1` must be in the [0, 1] range. Otherwise, the "
                             f"optimizer degenerates to SignSGD. Received: beta_1={beta_1}.")
        _check_rate("beta_2", beta_2, closed=True)
        self.beta_1, self.beta_2 = beta_1, beta_2

    def _hyper(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2}

    def _rule(self, lr):
        return [scale_by_lion(self.beta_1, self.beta_2), scale_by_learning_rate(lr)]

    def _kernel(self, p, g, buf, tmp, lr):
        # θ −= η sign(β₁m + (1−β₁)g), then m = β₂m + (1−β₂)g
        p -= _rules.lion(IN_PLACE, g, buf["momentum"], tmp[0], tmp[1], self.beta_1, self.beta_2,
                         lr)[0]


# ============================================================================= lookup
_BY_NAME = {c.__name__.lower(): c for c in (SGD, Adam, AdamW, RMSprop, Adagrad, Nadam, Lion)}


def serialize(optimizer: Optimizer) -> dict:
    """``{"class_name": ..., "config": ...}`` (JSON-serialisable)."""
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config: dict) -> Optimizer:
    """Inverse of :func:`serialize`."""
    name = config.get("class_name", "") if isinstance(config, dict) else ""
    cls = _BY_NAME.get(str(name).lower())
    if cls is None:
        raise ValueError(f"Unknown optimizer class {name!r}; valid names: {sorted(_BY_NAME)}")
    return cls.from_config(config.get("config", {}))


def get(identifier) -> Optimizer:
    """An optimizer from a name ("adam", "SGD", … — case-insensitive, Keras's defaults), a
    serialized config dict, or an optimizer (returned as is).

    >>> get("adam").epsilon
    1e-07
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(f"Unknown optimizer {identifier!r}; valid names: "
                             f"{sorted(_BY_NAME)}")
        return cls()
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}; expected an "
                     f"Optimizer, a config dict or one of the valid names: {sorted(_BY_NAME)}")
