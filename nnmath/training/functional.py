"""Keras's functional API: ``Input``, symbolic tensors, and ``Model(inputs, outputs)``.

``Input(shape)`` returns a :class:`KerasTensor`, a symbolic value (shape with the batch axis as
``None``, dtype, and the layer call that produced it). Calling a layer on symbolic tensors (one,
or a list for ``Add``/``Concatenate``) builds the layer from their shapes (``layer.build``,
``layer.compute_output_shape``) and returns new symbolic tensors recording the call; calling the
same layer instance twice shares its weights. ``Model(inputs, outputs)`` sorts the graph
topologically and is then a model like :class:`~nnmath.training.Sequential` — compile, fit,
evaluate, predict, summary, save/load, one flat parameter buffer — and a pure function of its
parameters:

>>> import numpy as np, nnmath as nm
>>> from nnmath.training import Input, Model
>>> from nnmath.nn.layers import Add, Dense
>>> x = Input((3,), dtype="float64")
>>> h = Dense(3, dtype="float64", name="inner")(x)
>>> model = Model(x, Add()([x, h]))
>>> model.output_shape
(None, 3)
>>> g = nm.grad(lambda p: model.apply(p, np.ones((2, 3))).sum())(model.params)
>>> sorted(g["inner"])
['bias', 'kernel']

Masks travel with the tensors as in Keras: a layer's output mask (``Embedding(mask_zero=True)``,
``Masking``, passed on by ``supports_masking`` layers) reaches the layers called on that tensor
whose ``call`` takes ``mask=``; a multi-input layer gets the list of its inputs' masks.

Limits: layer calls on symbolic tensors take no extra keywords (initial states). A layer
with non-trainable state called twice in one model (a shared siamese tower with BatchNorm)
updates it twice in a row, as Keras does.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..nn.layers.base import Layer
from ..nn.layers.core import InputLayer
from ..nn.layers.masking import call_masked
from ..nn.layers.merge import _Merge
from .model import Model as _BaseModel, cast_to_layer

__all__ = ["Input", "KerasTensor", "Functional"]


class _Node:
    """One call of a layer: its symbolic inputs (``parents``), whether they were passed as a
    list, and the symbolic outputs."""

    __slots__ = ("layer", "parents", "as_list", "outputs")

    def __init__(self, layer: Layer, parents: list, as_list: bool):
        self.layer, self.parents, self.as_list = layer, parents, as_list
        self.outputs: list = []


class KerasTensor:
    """A symbolic value of the functional API: ``shape`` (batch axis ``None``), ``dtype``, and the
    layer call (``node``) and output index that produce it."""

    __slots__ = ("shape", "dtype", "node", "index")
    _nnmath_symbolic = True          # how Layer.__call__ recognises us (nn may not import training)

    def __init__(self, shape: tuple, dtype: Any, node: _Node, index: int = 0):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.node, self.index = node, index

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def name(self) -> str:
        layer = self.node.layer
        return layer.name if len(self.node.outputs) <= 1 else f"{layer.name}[{self.index}]"

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape} dtype={self.dtype.name} from {self.name!r}>"

    def __array__(self, *args, **kwargs):
        raise TypeError(f"{self!r} is symbolic (functional API): it has no value. Build a "
                        f"Model(inputs, outputs) and call predict/apply on arrays")

    @staticmethod
    def _layer_call(layer: Layer, x: Any, training: Any = False, rng: Any = None, **kwargs):
        """``layer(x)`` on symbolic ``x``: build the layer from the shapes, record the call."""
        if kwargs:
            raise NotImplementedError(f"layer {layer.name!r} ({type(layer).__name__}): calling a "
                                      f"layer on symbolic tensors with keyword arguments "
                                      f"{sorted(kwargs)} is not supported by the functional API")
        as_list = isinstance(x, (list, tuple))
        parents = list(x) if as_list else [x]
        for p in parents:
            if not isinstance(p, KerasTensor):
                raise TypeError(f"layer {layer.name!r} ({type(layer).__name__}) was called on a mix of "
                                f"symbolic tensors and {type(p).__name__}; in the functional API "
                                f"every input must come from Input(...) or another layer")
        if isinstance(layer, _Merge):
            layer._check_list(x)
        shape = [p.shape for p in parents] if as_list else parents[0].shape
        if not layer.built:
            layer.build(shape)
            layer.built = True
        if (getattr(type(layer), "_keras_style", False)
                and type(layer).compute_output_shape is Layer.compute_output_shape):
            from ..nn.layers._keras_style import infer_output_shape   # run on the inputs' dtypes
            out = infer_output_shape(layer, shape, [p.dtype for p in parents] if as_list
                                     else parents[0].dtype)
        else:
            out = layer.compute_output_shape(shape)
        node = _Node(layer, parents, as_list)
        multi = isinstance(out, list) and all(isinstance(s, (tuple, list)) for s in out)
        dtype = layer.dtype if layer.dtype.kind == "f" else parents[0].dtype
        node.outputs = [KerasTensor(s, dtype, node, i) for i, s in enumerate(out if multi else [out])]
        layer.__dict__.setdefault("_nnmath_nodes", []).append(node)    # layer.output (Keras)
        return list(node.outputs) if multi else node.outputs[0]


def _input_tensor(layer: InputLayer) -> KerasTensor:
    if layer.shape is None:
        raise ValueError(f"InputLayer {layer.name!r} has no shape")
    layer.built = True
    node = _Node(layer, [], False)
    node.outputs = [KerasTensor((layer.batch_size,) + layer.shape, layer.dtype, node)]
    return node.outputs[0]


def Input(shape: Sequence | None = None, batch_size: int | None = None, dtype: Any = "float32",
          name: str | None = None, batch_shape: Sequence | None = None) -> KerasTensor:
    """A symbolic model input (Keras ``keras.Input``): ``shape`` is one example's shape, without
    the batch axis (``None`` for a free dimension).

    ``dtype`` (default float32, as Keras) is the dtype the data are converted to before the first
    layer — as in Keras 3, a ``dtype="float64"`` layer after ``Input(shape)`` sees float32-rounded
    inputs; give ``Input(shape, dtype="float64")`` to keep them exact (and ``dtype="int32"`` for
    token indices).

    >>> Input((4,)).shape
    (None, 4)
    """
    if shape is None and batch_shape is None:
        raise ValueError("Input: `shape` is required (one example's shape, without the batch axis),"
                         " e.g. Input(shape=(4,))")
    if shape is not None:
        if isinstance(shape, (int, np.integer)):
            shape = (int(shape),)
        try:
            shape = tuple(shape)
        except TypeError:
            raise ValueError(f"Input: `shape` must be a tuple of ints, received shape={shape!r}") from None
        bad = [d for d in shape if not (d is None or (isinstance(d, (int, np.integer)) and d > 0))]
        if bad:
            raise ValueError(f"Input: `shape` must hold positive ints or None, received shape={shape!r}")
    return _input_tensor(InputLayer(shape=shape, batch_size=batch_size, batch_shape=batch_shape,
                                    dtype=dtype, name=name))


def _as_tensors(x: Any, what: str) -> tuple[list, bool]:
    if isinstance(x, dict):
        x = list(x.values())
        if not x:
            raise ValueError(f"Model: `{what}` is empty")
        single = False
    else:
        single = not isinstance(x, (list, tuple))
    xs = [x] if single else list(x)
    if not xs:
        raise ValueError(f"Model: `{what}` is empty")
    for t in xs:
        if not isinstance(t, KerasTensor):
            raise TypeError(f"Model: `{what}` must be symbolic tensors (from Input(...) and layer "
                            f"calls), received {type(t).__name__}")
    return xs, single


def _keys_of(x: Any, what: str) -> list | None:
    """The keys of a dict of tensors (strings, as Keras requires), None for a tensor or a list."""
    if not isinstance(x, dict):
        return None
    bad = [k for k in x if not isinstance(k, str)]
    if bad:
        raise TypeError(f"Model: the keys of a dict of `{what}` must be strings, received {bad!r}")
    return list(x)


class Functional(_BaseModel):
    """A model defined by a graph of layer calls (Keras's functional ``Model(inputs, outputs)``).

    Args:
        inputs: an ``Input(...)`` tensor, a list of them, or a dict name → tensor.
        outputs: a symbolic tensor computed from ``inputs``, a list of them, or a dict
            name → tensor.
        name: the model's name.

    ``apply(params, x)`` takes an array (one input), a list of arrays in the order of
    ``inputs``, or (dict inputs) a dict with their keys, and returns an array (one output), a
    list, or a dict keyed as ``outputs``. As in Keras 3, with dict outputs the keys name the
    outputs: ``compile(loss={"score": "mse", …})``, targets ``y={"score": …}``, logs
    ``score_loss``, and ``predict`` returns a dict.
    """

    def __init__(self, inputs: Any, outputs: Any, name: str | None = None):
        super().__init__(name=name)
        # dicts of tensors (Keras 3): the data and the outputs are dicts with the same keys
        self._input_keys = _keys_of(inputs, "inputs")
        self._output_keys = _keys_of(outputs, "outputs")
        self.inputs, self._single_in = _as_tensors(inputs, "inputs")
        self.outputs, self._single_out = _as_tensors(outputs, "outputs")
        for t in self.inputs:
            if t.node.parents or not isinstance(t.node.layer, InputLayer):
                raise ValueError(f"Model: every input must be an Input(...) tensor; {t!r} is the "
                                 f"output of layer {t.node.layer.name!r}")
        if len({id(t) for t in self.inputs}) != len(self.inputs):
            raise ValueError("Model: the same Input is listed twice in `inputs`")
        self._trace_graph()
        self._check_unique_names()
        self._by_name = {l.name: l for l in self.layers}
        self._flatten_weights()
        self.built = True

    # ------------------------------------------------------------------ the graph
    def _trace_graph(self) -> None:
        """Topological order of the layer calls needed for the outputs (depth first, parents
        first), checking that every path ends at one of ``inputs``."""
        given = {id(t) for t in self.inputs}
        order: list[_Node] = []
        seen: set = set()
        stack = [(t.node, False, None) for t in reversed(self.outputs)]
        while stack:
            node, expanded, child = stack.pop()
            if id(node) in seen:
                continue
            if expanded:
                seen.add(id(node))
                order.append(node)
                continue
            if not node.parents:           # an Input
                if id(node.outputs[0]) not in given:
                    at = f" at layer {child.layer.name!r}" if child is not None else ""
                    raise ValueError(
                        f"Graph disconnected: cannot obtain the value of {node.outputs[0]!r}{at}: "
                        f"it is not among the model's inputs "
                        f"{[t.node.layer.name for t in self.inputs]}")
                seen.add(id(node))
                continue
            stack.append((node, True, child))
            for p in reversed(node.parents):
                if id(p.node) not in seen:
                    stack.append((p.node, False, node))
        self._nodes = order
        self.layers = self._keras_layer_order()
        # slots: every tensor gets an index into the value list of the forward pass
        slot: dict[int, int] = {}
        for t in self.inputs:
            slot[id(t)] = len(slot)
        program = []
        for node in order:
            outs = []
            for t in node.outputs:
                slot[id(t)] = len(slot)
                outs.append(slot[id(t)])
            program.append((node.layer, [slot[id(p)] for p in node.parents], node.as_list, outs))
        self._program = program
        self._n_slots = len(slot)
        self._in_slots = [slot[id(t)] for t in self.inputs]
        self._out_slots = [slot[id(t)] for t in self.outputs]
        # where each call sits among its layer's calls (for configs and summaries)
        self._node_index: dict[int, int] = {id(t.node): 0 for t in self.inputs}
        counts: dict[int, int] = {}
        for node in order:
            self._node_index[id(node)] = counts.get(id(node.layer), 0)
            counts[id(node.layer)] = self._node_index[id(node)] + 1

    def _keras_layer_order(self) -> list:
        """The layers in Keras 3's order (``keras/src/ops/function.py``, ``map_graph``): by
        depth from the outputs, deepest first (inputs first along each path), ties in the order
        a depth-first walk from the outputs first meets them — so ``get_weights`` lists the
        weights as Keras does and Keras's weights load with ``set_weights``."""
        index: dict[int, int] = {}
        post: list = []
        done: set = set()
        by_id: dict[int, Layer] = {}

        def walk(node):
            if id(node) in done:
                return
            index.setdefault(id(node.layer), len(index))
            by_id[id(node.layer)] = node.layer
            for p in node.parents:
                walk(p.node)
            done.add(id(node))
            post.append(node)

        for t in self.outputs:
            walk(t.node)
        node_depth: dict[int, int] = {}
        layer_depth: dict[int, int] = {}
        for node in reversed(post):
            depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(id(node.layer), 0))
            layer_depth[id(node.layer)] = node_depth[id(node)] = depth
            for p in node.parents:
                if id(p.node) in done:
                    node_depth[id(p.node)] = max(depth + 1, node_depth.get(id(p.node), 0))
        for t in self.inputs:                      # inputs the outputs do not use
            if id(t.node.layer) not in layer_depth:
                layer_depth[id(t.node.layer)], index[id(t.node.layer)] = 0, -1
                by_id[id(t.node.layer)] = t.node.layer
        keys = sorted(layer_depth, key=lambda k: (-layer_depth[k], index[k]))
        return [by_id[k] for k in keys]

    @property
    def input_shape(self) -> Any:
        shapes = [t.shape for t in self.inputs]
        return shapes[0] if self._single_in else shapes

    @property
    def output_shape(self) -> Any:
        shapes = [t.shape for t in self.outputs]
        return shapes[0] if self._single_out else shapes

    @property
    def input(self) -> Any:
        """The model's symbolic input (a list for several), as Keras's ``model.input``."""
        return self.inputs[0] if self._single_in else list(self.inputs)

    @property
    def output(self) -> Any:
        """The model's symbolic output (a list for several), as Keras's ``model.output``."""
        return self.outputs[0] if self._single_out else list(self.outputs)

    def build(self, input_shape: Any = None) -> None:
        """The graph was built from the ``Input`` shapes; a given shape must agree with them."""
        if input_shape is not None:
            shapes = [input_shape] if self._single_in else list(input_shape)
            self._check_shapes([tuple(s) for s in shapes], "build")

    # ------------------------------------------------------------------ the pure function
    def _forward(self, params, x, training, rng, state, collect):
        state = self.state if state is None else state
        xs = self._input_list(x, "apply")
        vals: list = [None] * self._n_slots
        masks: list = [None] * self._n_slots        # one mask per tensor (Keras's _keras_mask)
        for t, s, v in zip(self.inputs, self._in_slots, xs):
            vals[s] = t.node.layer.call({}, v)
        new_state: dict = {}
        for layer, parents, as_list, outs in self._program:
            p = params.get(layer.name, {})
            s = state.get(layer.name)
            if s and layer.name in new_state:      # a layer called again (a shared tower):
                s = {**s, **new_state[layer.name]}  # its updates chain, as Keras's assigns do
            if s:
                p = {**p, **s}
            if as_list:
                arg = [vals[i] for i in parents]
                mask = [masks[i] for i in parents]
                mask = mask if any(m is not None for m in mask) else None
            else:
                arg, mask = vals[parents[0]], masks[parents[0]]
            if collect and training and s:
                from .._core.custom import stop_gradient
                upd = layer.state_updates(p, arg, rng)
                if upd:
                    new_state[layer.name] = {**new_state.get(layer.name, {}),
                                             **stop_gradient(upd)}
            arg = cast_to_layer(layer, p, arg)
            y, out_mask = call_masked(layer, p, arg, mask, training=training, rng=rng)
            if len(outs) == 1:
                vals[outs[0]] = y
                masks[outs[0]] = out_mask
            else:
                per = out_mask if isinstance(out_mask, (list, tuple)) else [out_mask] * len(outs)
                for i, v, m in zip(outs, y, per):
                    vals[i], masks[i] = v, m
        ys = [vals[i] for i in self._out_slots]
        return self._model_target(ys), new_state

    def _model_target(self, ys: list) -> Any:
        if self._output_keys is not None:
            return dict(zip(self._output_keys, ys))
        return ys[0] if self._single_out else list(ys)

    def _output_list(self, y: Any) -> list:
        if self._output_keys is not None and isinstance(y, dict):
            return [y[k] for k in self._output_keys]
        return [y] if self._single_out else list(y)

    def _input_list(self, x: Any, what: str) -> list:
        if self._input_keys is not None and isinstance(x, dict):
            missing = [k for k in self._input_keys if k not in x]
            if missing:
                raise ValueError(f"{what}: model {self.name!r} takes a dict with keys "
                                 f"{self._input_keys}; missing {missing} in {sorted(x)}")
            return [x[k] for k in self._input_keys]
        if self._single_in or (len(self.inputs) == 1 and not isinstance(x, (list, tuple, dict))):
            return [x]                     # Model(inputs=[x], …) also takes the array (Keras 3)
        if not isinstance(x, (list, tuple)) or len(x) != len(self.inputs):
            got = f"a list of {len(x)}" if isinstance(x, (list, tuple)) else type(x).__name__
            raise ValueError(f"{what}: model {self.name!r} has {len(self.inputs)} inputs "
                             f"{[t.node.layer.name for t in self.inputs]}; pass a list of as many "
                             f"arrays, received {got}")
        return list(x)

    # ------------------------------------------------------------------ checks and casts
    def _check_shapes(self, shapes: list, what: str) -> None:
        for t, got in zip(self.inputs, shapes):
            want = t.shape[1:]
            if len(got) - 1 != len(want) or any(w is not None and w != g for w, g in zip(want, got[1:])):
                dims = ", ".join("None" if d is None else str(d) for d in want)
                raise ValueError(f"{what}: input shape mismatch: input {t.node.layer.name!r} of model "
                                 f"{self.name!r} expects inputs of shape (batch, {dims}), received "
                                 f"{tuple(got)}")

    def _build_from(self, x: Any) -> None:
        xs = self._input_list(x, "input")
        self._check_shapes([tuple(np.shape(v)) for v in xs], "input")

    def _cast(self, x: Any) -> Any:
        xs = self._input_list(x, "input")
        out = []
        for t, v in zip(self.inputs, xs):
            v = np.asarray(v) if not hasattr(v, "dtype") else v
            cast = t.dtype.kind == "f" and v.dtype != t.dtype and (
                v.dtype.kind == "f" or (v.dtype.kind in "iub" and not self._feeds_indices(t)))
            out.append(v.astype(t.dtype) if cast else v)
        return out[0] if self._single_in else out

    def _feeds_indices(self, t: KerasTensor) -> bool:
        """Whether a layer that takes indices (Embedding) reads input ``t`` directly."""
        return any(getattr(layer, "_takes_indices", False) and any(p is t for p in node_parents)
                   for layer, node_parents in ((n.layer, n.parents) for n in self._nodes))

    def _input_names(self) -> list:
        if self._input_keys is not None:
            return list(self._input_keys)
        return [t.node.layer.name for t in self.inputs]

    def _output_names(self) -> list:
        if self._output_keys is not None:
            return list(self._output_keys)
        names = [t.node.layer.name for t in self.outputs]
        return [n if names.count(n) == 1 else f"{n}_{k}" for k, n in enumerate(names)]

    # ------------------------------------------------------------------ summary and config
    def _ref(self, t: KerasTensor) -> list:
        return [t.node.layer.name, self._node_index[id(t.node)], t.index]

    def _nodes_of(self, layer: Layer) -> list:
        if isinstance(layer, InputLayer) and any(t.node.layer is layer for t in self.inputs):
            return [next(t.node for t in self.inputs if t.node.layer is layer)]
        return [n for n in self._nodes if n.layer is layer]

    def summary(self, print_fn=print) -> None:
        """Layers with output shapes, parameter counts and the calls feeding them (Keras's
        "Connected to" column); trainable and non-trainable totals."""
        rows = [("Layer (type)", "Output Shape", "Param #", "Connected to")]
        for l in self.layers:
            nodes = self._nodes_of(l)
            shapes = [o.shape for n in nodes for o in n.outputs]
            shape = str(shapes[0]) if len(set(shapes)) == 1 else str(shapes)
            conn = ", ".join("{}[{}][{}]".format(*self._ref(p)) for n in nodes for p in n.parents) or "-"
            rows.append((f"{l.name} ({type(l).__name__})", shape, f"{l.count_params():,}", conn))
        widths = [max(len(r[i]) for r in rows) + 2 for i in range(4)]
        line = "─" * sum(widths)
        print_fn(f'Model: "{self.name}"')
        print_fn(line)
        for i, r in enumerate(rows):
            print_fn("".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
            print_fn(line if i == 0 or i == len(rows) - 1 else "")
        trainable = sum(v.size for l in self.layers for v in l._weight_dict(True).values())
        total = self.count_params()
        print_fn(f" Total params: {total:,}")
        print_fn(f" Trainable params: {trainable:,}")
        print_fn(f" Non-trainable params: {total - trainable:,}")

    def get_config(self) -> dict:
        """Keras's functional config: every layer with ``class_name``/``config`` and its calls
        (``inbound_nodes``: the ``[layer name, call index, output index]`` of each argument, and
        whether they were passed as a list), plus the input and output references."""
        layers = []
        for l in self.layers:
            nodes = [] if isinstance(l, InputLayer) and not any(n.layer is l for n in self._nodes) \
                else [n for n in self._nodes if n.layer is l]
            layers.append({"class_name": type(l).__name__, "name": l.name, "config": l.get_config(),
                           "inbound_nodes": [{"args": [self._ref(p) for p in n.parents],
                                              "as_list": n.as_list} for n in nodes]})
        return {"name": self.name, "layers": layers,
                "input_layers": [self._ref(t) for t in self.inputs],
                "output_layers": [self._ref(t) for t in self.outputs],
                "single_input": self._single_in, "single_output": self._single_out,
                **({"input_keys": self._input_keys} if self._input_keys is not None else {}),
                **({"output_keys": self._output_keys} if self._output_keys is not None else {})}

    @classmethod
    def from_config(cls, config: dict, layer_class=None, custom_objects: dict | None = None
                    ) -> "Functional":
        """Rebuild the graph (fresh, unbuilt layers) from :meth:`get_config`'s output;
        ``layer_class(name)`` resolves class names (default: nnmath's layers and models, then
        the classes registered with ``register_keras_serializable`` or in ``custom_objects``)."""
        if layer_class is None:
            from .serialization import layer_class as _lookup

            def layer_class(name):
                return _lookup(name, custom_objects)
        by_name: dict[str, Layer] = {}
        calls: dict[str, list] = {}          # layer name → its output tensors, call by call
        pending = []
        for spec in config["layers"]:
            layer = layer_class(spec["class_name"]).from_config(spec["config"])
            by_name[spec["name"]] = layer
            if isinstance(layer, InputLayer):
                calls[spec["name"]] = [[_input_tensor(layer)]]
            else:
                calls[spec["name"]] = []
                pending += [(spec["name"], k, n) for k, n in enumerate(spec["inbound_nodes"])]

        def tensor(ref):
            name, k, i = ref
            made = calls.get(name, [])
            return made[k][i] if k < len(made) else None

        while pending:
            left = []
            for name, k, n in pending:
                args = [tensor(r) for r in n["args"]]
                if len(calls[name]) != k or any(a is None for a in args):
                    left.append((name, k, n))
                    continue
                out = by_name[name](args if n["as_list"] else args[0])
                calls[name].append(out if isinstance(out, list) else [out])
            if len(left) == len(pending):
                raise ValueError(f"config: the graph cannot be rebuilt; calls of "
                                 f"{sorted({p[0] for p in left})} have missing inputs")
            pending = left
        ins = [tensor(r) for r in config["input_layers"]]
        outs = [tensor(r) for r in config["output_layers"]]
        ins = (dict(zip(config["input_keys"], ins)) if config.get("input_keys") is not None
               else ins[0] if config.get("single_input", len(ins) == 1) else ins)
        outs = (dict(zip(config["output_keys"], outs)) if config.get("output_keys") is not None
                else outs[0] if config.get("single_output", len(outs) == 1) else outs)
        return cls(ins, outs, name=config.get("name"))


