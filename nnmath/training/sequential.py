"""Keras's ``Sequential``: a linear stack of layers.

>>> import numpy as np
>>> from nnmath.training import Input, Sequential
>>> from nnmath.nn.layers import Dense
>>> model = Sequential([Input(shape=(3,)), Dense(2)])
>>> model.built, [w.shape for w in model.get_weights()]       # built at once from the Input
(True, [(3, 2), (2,)])
>>> model(np.ones((4, 3))).shape
(4, 2)
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..nn.layers.base import Layer
from ..nn.layers.core import InputLayer
from ..nn.layers.masking import call_masked
from .model import Model, cast_to_layer

__all__ = ["Sequential"]


class Sequential(Model):
    """A linear stack of layers (Keras's ``Sequential``).

    As in Keras 3, the first entry may be ``Input(shape=...)`` (or an ``InputLayer``, or the
    first layer may carry ``input_shape``/``input_dim``); the model is then built at once, so
    ``summary``, ``get_weights`` and ``set_weights`` work before it is used. Otherwise it is built
    from the first batch. ``model.layers`` does not list the input (Keras).

    Args:
        layers: the layers, in order (a model may be one of them).
        trainable: whether ``fit`` updates the weights.
        name: the model's name (default "sequential", numbered).
    """

    def __init__(self, layers: Sequence[Layer] | None = None, trainable: bool = True,
                 name: str | None = None):
        super().__init__(name=name, trainable=trainable)
        self.input_shape: tuple | None = None
        self._input_layer: InputLayer | None = None
        for layer in layers or []:
            self.add(layer, rebuild=False)
        if self.input_shape is not None and not self.built:
            self.build(self.input_shape)

    def add(self, layer: Layer, rebuild: bool = True) -> None:
        """Append a layer (or, first, an ``Input``); builds the model when the input shape is
        known.

        Args:
            layer: a layer, a model, or an ``Input(...)`` tensor (only as the first entry).
            rebuild: build the model now if its input shape is known (Keras).
        """
        if getattr(layer, "_nnmath_symbolic", False):
            if not isinstance(layer.node.layer, InputLayer) or layer.node.parents:
                raise ValueError(f"Sequential.add: only an Input(...) tensor may be added to a "
                                 f"Sequential model; received {layer!r}")
            layer = layer.node.layer
        if isinstance(layer, InputLayer):
            if self.layers or self._input_layer is not None:
                raise ValueError(f"Sequential model {self.name!r} already has layers; an Input "
                                 f"(InputLayer {layer.name!r}) can only be its first entry")
            if layer.shape is None:
                raise ValueError(f"Sequential.add: InputLayer {layer.name!r} has no shape")
            self._input_layer = layer
            self.input_shape = (None,) + tuple(layer.shape)
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Only instances of `keras.Layer` can be added to a Sequential model. "
                            f"Received: {layer!r} (of type {type(layer).__name__})")
        self.layers.append(layer)
        try:
            self._check_unique_names()
        except ValueError:
            self.layers.pop()
            raise
        if len(self.layers) == 1 and self.input_shape is None:
            shape = layer._input_shape
            if shape is None and isinstance(layer, Model) and layer.built:
                shape = getattr(layer, "input_shape", None)       # a built model added first
            if isinstance(shape, tuple):
                self.input_shape = shape
        if rebuild and self.input_shape is not None:
            try:
                self.build(self.input_shape)
            except Exception:
                self.layers.pop()
                raise

    def pop(self, rebuild: bool = True) -> Layer:
        """Remove and return the last layer (Keras ``Sequential.pop``); the model is rebuilt."""
        if not self.layers:
            raise TypeError("There are no layers in the model.")
        layer = self.layers.pop()
        self.built = False
        if rebuild and self.input_shape is not None and self.layers:
            self.build(self.input_shape)
        return layer

    def build(self, input_shape: tuple | None = None) -> None:
        """Build every layer in turn from the input shape (batch axis included, as None) and
        pack the weights into one flat buffer."""
        if input_shape is None:
            input_shape = self.input_shape
        if input_shape is None:
            raise ValueError(f"Sequential model {self.name!r}: build needs an input shape")
        shape = (None,) + tuple(input_shape[1:])
        self.input_shape = shape
        # the data's dtype along the stack, for Keras-style layers run on zeros to get their
        # output shape (integer token ids must stay integers)
        dtype = (self._input_layer.dtype if self._input_layer is not None
                 else self.__dict__.pop("_data_dtype", None))
        for layer in self.layers:
            if not layer.built:
                layer.build(shape)
                layer.built = True
            if (getattr(type(layer), "_keras_style", False)
                    and type(layer).compute_output_shape is Layer.compute_output_shape):
                from ..nn.layers._keras_style import infer_output_shape
                shape = infer_output_shape(layer, shape, dtype)
            else:
                shape = layer.compute_output_shape(shape)
            dtype = layer.dtype if layer.dtype.kind == "f" else dtype
        self.output_shape = shape
        self._record_graph()
        self._by_name = {l.name: l for l in self.layers}
        self._flatten_weights()
        self._opt_ready = False
        self.built = True

    def _record_graph(self) -> None:
        """The layers called in turn on a symbolic input, as Keras 3 builds a Sequential model
        into a functional graph: ``inputs``, ``outputs`` and each layer's ``output`` (feature
        extraction: ``Model(model.inputs, [l.output for l in model.layers])``). The previous
        build's calls are forgotten, so node 0 of each layer is in this graph."""
        from .functional import _input_tensor
        for layer, node in getattr(self, "_graph_nodes", []):
            nodes = layer.__dict__.get("_nnmath_nodes", [])
            if node in nodes:
                nodes.remove(node)
        self._graph_nodes, self._graph_error = [], None
        source = self._input_layer
        if source is None:                 # built from data or input_shape: an implicit Input
            source = getattr(self, "_implicit_input", None)
            if source is None or source.shape != tuple(self.input_shape[1:]):
                source = self._implicit_input = InputLayer(shape=self.input_shape[1:])
        t = self._input_tensor = _input_tensor(source)
        try:
            for layer in self.layers:
                t = layer(t)
                self._graph_nodes.append((layer, layer.__dict__["_nnmath_nodes"][-1]))
        except Exception as e:          # a layer without symbolic calls: only .output is lost
            self._graph_error = f"{type(e).__name__}: {e}"
            t = None
        self._output_tensor = t

    def _graph(self, which: str) -> Any:
        if not self.built or getattr(self, "_input_tensor", None) is None:
            raise AttributeError(f"Sequential model {self.name!r} has no defined {which} yet: "
                                 f"give it an Input(shape=...) first, or call it on data")
        if which == "outputs" and self._output_tensor is None:
            raise AttributeError(f"Sequential model {self.name!r}: its layers could not be "
                                 f"called on symbolic tensors ({self._graph_error})")
        return [self._input_tensor] if which == "inputs" else [self._output_tensor]

    @property
    def inputs(self) -> list:
        """``[the symbolic input]`` of the built model (Keras)."""
        return self._graph("inputs")

    @property
    def outputs(self) -> list:
        """``[the symbolic output]`` of the built model (Keras)."""
        return self._graph("outputs")

    @property
    def input(self) -> Any:
        return self.inputs[0]

    @property
    def output(self) -> Any:
        return self.outputs[0]

    def _build_from(self, x: Any) -> None:
        if not self.built:
            if not self.layers:
                raise ValueError(f"Sequential model {self.name!r} has no layers")
            self._data_dtype = getattr(x, "dtype", None)
            self.build(self.input_shape or (None,) + tuple(np.shape(x))[1:])
        expected = self.input_shape[1:]
        got = tuple(np.shape(x))
        if len(got) - 1 != len(expected) or any(e is not None and e != g
                                                for e, g in zip(expected, got[1:])):
            first = self.layers[0]
            dims = ", ".join(map(str, expected))
            raise ValueError(f"input shape mismatch: layer {first.name!r} ({type(first).__name__}) "
                             f"expects inputs of shape (batch, {dims}), received {got}")

    def _input_dtype(self) -> np.dtype | None:
        return None if self._input_layer is None else self._input_layer.dtype

    def _forward(self, params, x, training, rng, state, collect):
        state = self.state if state is None else state
        new_state: dict = {}
        mask = None               # Embedding(mask_zero=True) or Masking starts one (Keras)
        for layer in self.layers:
            p = params.get(layer.name, {})
            s = state.get(layer.name)
            if s:
                p = {**p, **s}
            if collect and training and s:
                from .._core.custom import stop_gradient
                upd = layer.state_updates(p, x, rng)
                if upd:
                    new_state[layer.name] = stop_gradient(upd)
            x = cast_to_layer(layer, p, x)
            x, mask = call_masked(layer, p, x, mask, training=training, rng=rng)
        return x, new_state

    def get_config(self) -> dict:
        """The layers' configs and the input shape (and dtype, when an Input gave it)."""
        from .serialization import serialize_keras_object
        cfg = {"name": self.name,
               "layers": [serialize_keras_object(l) for l in self.layers],
               "input_shape": None if self.input_shape is None else list(self.input_shape[1:])}
        if not self.trainable:
            cfg["trainable"] = False
        if self._input_layer is not None:
            cfg["input_dtype"] = self._input_layer.dtype.name
        return cfg

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> "Sequential":
        """Rebuild the model (fresh weights) from :meth:`get_config`'s output, or from Keras 3's
        (layers with an ``InputLayer`` first, ``build_input_shape``); classes are resolved by
        name (nnmath's layers and models, then ``register_keras_serializable``)."""
        from .functional import Input
        from .serialization import deserialize_keras_object
        layers = [deserialize_keras_object(spec, custom_objects=custom_objects)
                  for spec in config.get("layers", [])]
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        shape = config.get("input_shape")
        if shape is None and config.get("build_input_shape") is not None:
            shape = list(config["build_input_shape"])[1:]
        if shape is not None and not (layers and isinstance(layers[0], InputLayer)):
            model.add(Input(shape=tuple(shape), dtype=config.get("input_dtype", "float32")),
                      rebuild=False)
        for layer in layers:
            model.add(layer, rebuild=False)
        if model.input_shape is not None:
            model.build(model.input_shape)
        return model
