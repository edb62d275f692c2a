"""Core layers (Keras 3 names and arguments): Dense, Activation, Dropout, Flatten, Reshape,
Embedding, Identity, InputLayer, Lambda; and the small helpers every layer module here shares (argument
checks, the errors for inputs that do not fit, initializer/regularizer/activation lookup and
serialisation).

Every ``call(params, x, training=False, rng=None)`` is a pure function of ``params`` written with
``nnmath.numpy``, so grad, jvp, hessian and vmap apply to it (see ``base.py``).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ... import numpy as mnp
from ..._core.jit import check_random_source
from ...numpy._helpers import concrete_value, strip_tracers
from .. import activations as _activations
from .. import initializers as _initializers
from .. import regularizers as _regularizers
from .._dense import affine
from .base import Layer

__all__ = ["Dense", "Activation", "Dropout", "Flatten", "Reshape", "Embedding", "Identity",
           "InputLayer", "Lambda"]


# ---------------------------------------------------------------------------------------------
# Shared helpers (also used by conv.py, pooling.py and merge.py)
# ---------------------------------------------------------------------------------------------


def positive_int(value: Any, arg: str, who: str) -> int:
    """``value`` as a positive int, or a ValueError naming the argument and the value."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{who}: received an invalid value for `{arg}`, expected a positive "
                         f"integer. Received: {arg}={value!r}")
    return int(value)


# Lookups of user-registered names (``keras.saving.register_keras_serializable``): the training
# package appends its registry's lookup here when imported, since nn may not import training.
CUSTOM_LOOKUPS: list = []


def resolve(module: Any, identifier: Any, arg: str, who: str) -> Any:
    """``module.get(identifier)``, with the argument's name added to the error; a name the
    module does not know is looked up among the registered custom objects (a user activation
    named in a config)."""
    try:
        return module.get(identifier)
    except ValueError as e:
        if isinstance(identifier, str):
            for lookup in CUSTOM_LOOKUPS:
                obj = lookup(identifier)
                if obj is not None and not isinstance(obj, str):
                    return module.get(obj)
        raise ValueError(f"{who}: invalid `{arg}`={identifier!r}: {e}") from None


def store_weight_args(layer: Layer, who: str, **args: Any) -> None:
    """Validate and store ``kernel_initializer``/``bias_regularizer``-style arguments (the name
    says which module resolves it), naming the argument in any error."""
    for arg, value in args.items():
        resolve(_regularizers if arg.endswith("_regularizer") else _initializers, value, arg, who)
        setattr(layer, arg, value)


def serialize(module: Any, identifier: Any) -> Any:
    """The JSON form of an initializer/regularizer identifier (strings and None stay as they are)."""
    if identifier is None or isinstance(identifier, (str, dict)):
        return identifier
    return module.serialize(identifier)


def activation_name(fn: Any) -> str:
    """The activation's name for a config: Keras's name, a registered function's
    ``"package>name"``, else the function's ``__name__``."""
    registered = getattr(fn, "__dict__", {}).get("_registered_name")
    return registered if registered is not None else _activations.serialize(fn)


def data_format_of(value: Any, who: str) -> str:
    fmt = "channels_last" if value is None else str(value).lower()
    if fmt not in ("channels_last", "channels_first"):
        raise ValueError(f"{who}: `data_format` must be 'channels_last' or 'channels_first', "
                         f"received data_format={value!r}")
    return fmt


def as_input(x: Any) -> Any:
    """Arrays and traced values pass through; anything else becomes a numpy array."""
    return x if hasattr(x, "ndim") and hasattr(x, "shape") else np.asarray(x)


def input_error(layer: Layer, expected: str, shape: Any) -> ValueError:
    """Keras's wording: the layer, what it expected, the shape received."""
    return ValueError(f"Input of layer {layer.name!r} ({type(layer).__name__}) is incompatible "
                      f"with the layer: expected {expected}, but received input with shape "
                      f"{tuple(shape)}")


def _known_prod(dims) -> int | None:
    return None if any(d is None for d in dims) else math.prod(dims)


# ---------------------------------------------------------------------------------------------
# Dense
# ---------------------------------------------------------------------------------------------


class Dense(Layer):
    """Densely connected layer (Keras ``Dense``): y = activation(x · W + b).

    W has shape (input_dim, units), b shape (units,). The product acts on the last axis, so an
    input of rank > 2 is treated as a stack of vectors (one GEMM over the flattened leading axes).

    Input shape: (batch, …, input_dim). Output shape: (batch, …, units).

    Args:
        units: output dimension (a positive integer).
        activation: a name (``"relu"``), a callable or None (linear).
        use_bias: add b.
        kernel_initializer / bias_initializer: initializer names or objects (Keras defaults
            Glorot-uniform and zeros).
        kernel_regularizer / bias_regularizer: None or regularizers (added by ``fit`` to the loss).
        **kwargs: the base Layer's (name, dtype, trainable, input_shape, input_dim).

    >>> import numpy as np
    >>> layer = Dense(2, dtype="float64")
    >>> layer.build((None, 3))
    >>> layer.set_weights([np.ones((3, 2)), np.array([0.0, 1.0])])
    >>> layer(np.array([[1.0, 2.0, 3.0]]))
    array([[6., 7.]])
    """

    supports_masking = True

    def __init__(self, units: int, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None, **kwargs):
        super().__init__(**kwargs)
        who = f"Dense {self.name!r}"
        self.units = positive_int(units, "units", who)
        self.activation = resolve(_activations, activation, "activation", who)
        self.use_bias = bool(use_bias)
        store_weight_args(self, who, kernel_initializer=kernel_initializer,
                          bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                          bias_regularizer=bias_regularizer)

    def build(self, input_shape: tuple) -> None:
        input_shape = tuple(input_shape)
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise input_error(self, "an input of rank ≥ 2 with a known last axis", input_shape)
        self.add_weight("kernel", (int(input_shape[-1]), self.units), self.kernel_initializer,
                        self.kernel_regularizer)
        if self.use_bias:
            self.add_weight("bias", (self.units,), self.bias_initializer, self.bias_regularizer)
        self.built = True

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None) -> Any:
        x = as_input(x)
        kernel = params["kernel"]
        n_in = kernel.shape[0]
        if x.ndim < 2 or x.shape[-1] != n_in:
            raise input_error(self, f"axis -1 of the input to have value {n_in} (rank ≥ 2)", x.shape)
        if x.ndim == 2 and self.use_bias:
            return self.activation(affine(x, kernel, params["bias"]))     # one tape entry
        if x.ndim == 2:
            y = mnp.matmul(x, kernel)
        else:           # one GEMM over the flattened leading axes
            y = mnp.reshape(mnp.matmul(mnp.reshape(x, (-1, n_in)), kernel),
                            tuple(x.shape[:-1]) + (self.units,))
        if self.use_bias:
            y = y + params["bias"]
        return self.activation(y)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units,
                "activation": activation_name(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": serialize(_initializers, self.kernel_initializer),
                "bias_initializer": serialize(_initializers, self.bias_initializer),
                "kernel_regularizer": serialize(_regularizers, self.kernel_regularizer),
                "bias_regularizer": serialize(_regularizers, self.bias_regularizer)}


# ---------------------------------------------------------------------------------------------
# Weightless layers
# ---------------------------------------------------------------------------------------------


class Activation(Layer):
    """Applies an activation function elementwise: y = activation(x) (Keras ``Activation``).

    Input shape: any. Output shape: the same.

    >>> import numpy as np
    >>> Activation("relu")(np.array([[-1.0, 2.0]]))
    array([[0., 2.]])
    """

    supports_masking = True

    def __init__(self, activation: Any, **kwargs):
        super().__init__(**kwargs)
        self.activation = resolve(_activations, activation, "activation",
                                  f"Activation {self.name!r}")

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None) -> Any:
        return self.activation(as_input(x))

    def get_config(self) -> dict:
        return {**super().get_config(), "activation": activation_name(self.activation)}


class Dropout(Layer):
    """Inverted dropout (Srivastava et al. 2014; Keras ``Dropout``).

    Training: y = x ⊙ m / (1 − rate) with mᵢ ~ Bernoulli(1 − rate), so E[y] = x. Inference
    (``training=False``, the default): y = x.

    The mask is drawn from the ``rng`` passed to ``call`` (the training loop's generator); without
    one, from the layer's own generator, seeded by ``seed`` (reproducible), or, if ``seed`` is
    None, from ``nnmath.nn.initializers.default_rng()``. ``noise_shape`` (None entries are taken
    from the input) shares one mask value along axes of size 1. Under ``vmap`` every example gets
    the same mask (the mask is drawn once, for the logical shape).

    Input shape: any. Output shape: the same.

    Args:
        rate: the fraction dropped, 0 ≤ rate < 1.
        noise_shape: the mask's shape, broadcast against the input.
        seed: an int for the layer's own generator.

    References:
        N. Srivastava, G. Hinton, A. Krizhevsky, I. Sutskever, R. Salakhutdinov. Dropout: a simple
        way to prevent neural networks from overfitting. JMLR 15, 2014.

    >>> import numpy as np
    >>> layer = Dropout(0.5, seed=0)
    >>> layer(np.ones((1, 4)))                      # inference: the identity
    array([[1., 1., 1., 1.]])
    >>> sorted(set(layer(np.ones((1, 1000)), training=True).ravel().tolist()))
    [0.0, 2.0]
    """

    supports_masking = True

    def __init__(self, rate: float, noise_shape: Any = None, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        who = f"Dropout {self.name!r}"
        try:
            rate = float(rate)
        except (TypeError, ValueError):
            rate = float("nan")
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"{who}: invalid value for argument `rate`: expected a float with "
                             f"0 <= rate < 1. Received: rate={rate!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"{who}: `seed` must be an int or None, received seed={seed!r}")
        self.rate = rate
        self.noise_shape = None if noise_shape is None else tuple(
            None if d is None else int(d) for d in noise_shape)
        self.seed = None if seed is None else int(seed)
        self._rng = None if seed is None else np.random.default_rng(self.seed)

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None) -> Any:
        x = as_input(x)
        if not training or self.rate == 0.0:
            return x
        if rng is None:
            rng = self._rng if self._rng is not None else _initializers.default_rng()
        shape = tuple(x.shape)
        if self.noise_shape is not None:
            if len(self.noise_shape) != len(shape):
                raise input_error(self, f"rank {len(self.noise_shape)} (noise_shape="
                                        f"{self.noise_shape})", shape)
            shape = tuple(n if d is None else d for d, n in zip(self.noise_shape, shape))
        dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
        check_random_source(rng, x, f"Dropout {self.name!r}")
        keep = rng.random(shape) >= self.rate
        return x * (keep / (1.0 - self.rate)).astype(dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate,
                "noise_shape": None if self.noise_shape is None else list(self.noise_shape),
                "seed": self.seed}


class Flatten(Layer):
    """Flattens every axis but the batch axis (Keras ``Flatten``), in C order of the
    channels-last layout; with ``data_format="channels_first"`` the channels are moved last first,
    so both layouts give the same order.

    Input shape: (batch, …). Output shape: (batch, ∏ …).

    >>> import numpy as np
    >>> Flatten()(np.zeros((2, 3, 4))).shape
    (2, 12)
    """

    def __init__(self, data_format: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format_of(data_format, f"Flatten {self.name!r}")

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None) -> Any:
        x = as_input(x)
        if x.ndim < 1:
            raise input_error(self, "an input with a batch axis", x.shape)
        if self.data_format == "channels_first" and x.ndim > 2:
            x = mnp.transpose(x, (0,) + tuple(range(2, x.ndim)) + (1,))
        return mnp.reshape(x, (x.shape[0], math.prod(x.shape[1:])))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (input_shape[0], _known_prod(input_shape[1:]))

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format}


class Reshape(Layer):
    """Reshapes every example to ``target_shape`` (Keras ``Reshape``; one entry may be −1).

    Input shape: (batch, …). Output shape: (batch, *target_shape).

    >>> import numpy as np
    >>> Reshape((3, -1))(np.zeros((2, 12))).shape
    (2, 3, 4)
    """

    def __init__(self, target_shape: Any, **kwargs):
        super().__init__(**kwargs)
        who = f"Reshape {self.name!r}"
        try:
            target = tuple(int(d) for d in target_shape)
        except (TypeError, ValueError):
            raise ValueError(f"{who}: `target_shape` must be a tuple of ints, received "
                             f"target_shape={target_shape!r}") from None
        if target.count(-1) > 1 or any(d == 0 or d < -1 for d in target):
            raise ValueError(f"{who}: `target_shape` must hold positive ints and at most one -1, "
                             f"received target_shape={target_shape!r}")
        self.target_shape = target

    def _resolve(self, shape: tuple) -> tuple | None:
        size = _known_prod(shape[1:])
        known = math.prod(d for d in self.target_shape if d != -1)
        if size is None:
            return self.target_shape if -1 not in self.target_shape else None
        if -1 in self.target_shape:
            fits, expected = size % known == 0, f"an example size divisible by {known}"
        else:
            fits, expected = size == known, f"an example of size {known}"
        if not fits:
            raise input_error(self, f"{expected} (target_shape={self.target_shape})", shape)
        return tuple(size // known if d == -1 else d for d in self.target_shape)

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None) -> Any:
        x = as_input(x)
        target = self._resolve(tuple(x.shape))
        return mnp.reshape(x, (x.shape[0],) + target)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        target = self._resolve(tuple(input_shape))
        if target is None:
            target = tuple(None if d == -1 else d for d in self.target_shape)
        return (input_shape[0],) + target

    def get_config(self) -> dict:
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Embedding(Layer):
    """Maps integer indices to rows of a trainable table (Keras ``Embedding``):
    y[…] = E[x[…]], E of shape (input_dim, output_dim). The derivative with respect to E adds each
    ȳ row into the row it was read from (a scatter-add); the indices have none.

    Input shape: integer array (batch, …) with values in [0, input_dim).
    Output shape: (batch, …, output_dim).

    Args:
        input_dim: the vocabulary size.
        output_dim: the embedding dimension.
        embeddings_initializer: Keras default "uniform", i.e. RandomUniform(−0.05, 0.05).
        embeddings_regularizer: None or a regularizer.
        mask_zero: index 0 is padding: :meth:`compute_mask` gives ``x != 0``, which recurrent
            layers and GlobalAveragePooling1D use to skip those steps (see ``masking.py``). Row 0
            of E still exists (input_dim counts it), as Keras.

    >>> import numpy as np
    >>> layer = Embedding(3, 2, dtype="float64")
    >>> layer.build((None, 1))
    >>> layer.set_weights([np.arange(6.0).reshape(3, 2)])
    >>> layer(np.array([[2, 0]]))
    array([[[4., 5.],
            [0., 1.]]])
    """

    _takes_indices = True      # models do not cast integer inputs to floats for it

    def __init__(self, input_dim: int, output_dim: int, embeddings_initializer: Any = "uniform",
                 embeddings_regularizer: Any = None, mask_zero: bool = False, **kwargs):
        super().__init__(**kwargs)
        who = f"Embedding {self.name!r}"
        self.input_dim = positive_int(input_dim, "input_dim", who)
        self.output_dim = positive_int(output_dim, "output_dim", who)
        resolve(_initializers, embeddings_initializer, "embeddings_initializer", who)
        resolve(_regularizers, embeddings_regularizer, "embeddings_regularizer", who)
        self.embeddings_initializer = embeddings_initializer
        self.embeddings_regularizer = embeddings_regularizer
        self.mask_zero = bool(mask_zero)

    def compute_mask(self, x: Any, mask: Any = None) -> Any:
        """``x != 0`` with ``mask_zero=True``, else None (Keras)."""
        return mnp.not_equal(strip_tracers(as_input(x)), 0) if self.mask_zero else None

    def build(self, input_shape: tuple) -> None:
        self.add_weight("embeddings", (self.input_dim, self.output_dim),
                        self.embeddings_initializer, self.embeddings_regularizer)
        self.built = True

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None) -> Any:
        x = as_input(x)
        values = strip_tracers(x)        # checks on values are guards under jit (see nnmath.jit)
        if values.dtype.kind not in "iub":
            if values.dtype.kind != "f" or not mnp.all(values == mnp.round(values)):
                raise input_error(self, "integer indices", values.shape)
        if values.size and (mnp.min(values) < 0 or mnp.max(values) >= self.input_dim):
            v = concrete_value(values)
            raise ValueError(f"Input of layer {self.name!r} (Embedding): indices must lie in "
                             f"[0, input_dim={self.input_dim}), received values in "
                             f"[{v.min()}, {v.max()}]")
        idx = x if values.dtype.kind in "iu" else mnp.astype(values, np.intp)
        return mnp.take(params["embeddings"], idx, axis=0)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self) -> dict:
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": serialize(_initializers, self.embeddings_initializer),
                "embeddings_regularizer": serialize(_regularizers, self.embeddings_regularizer),
                "mask_zero": self.mask_zero}


class Identity(Layer):
    """Returns its input unchanged (Keras ``Identity``), e.g. as a placeholder branch.

    >>> import numpy as np
    >>> Identity()(np.array([[1.0]]))
    array([[1.]])
    """

    supports_masking = True

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None) -> Any:
        return x


class InputLayer(Layer):
    """Declares a model's input shape (Keras ``InputLayer``); the identity on values.

    Args:
        shape: the shape of one example (without the batch axis).
        batch_size: an optional fixed batch size.
        batch_shape: the full shape, batch axis included (instead of shape and batch_size).

    >>> InputLayer(shape=(28, 28, 1)).compute_output_shape((None, 28, 28, 1))
    (None, 28, 28, 1)
    """

    def __init__(self, shape: Any = None, batch_size: int | None = None, batch_shape: Any = None,
                 **kwargs):
        if batch_shape is not None:
            if shape is not None:
                raise ValueError("InputLayer: give `shape` or `batch_shape`, not both; received "
                                 f"shape={shape!r}, batch_shape={batch_shape!r}")
            batch_shape = tuple(batch_shape)
            batch_size, shape = batch_shape[0], batch_shape[1:]
        if shape is not None:
            kwargs.setdefault("input_shape", tuple(shape))
        super().__init__(**kwargs)
        self.batch_size = None if batch_size is None else positive_int(
            batch_size, "batch_size", f"InputLayer {self.name!r}")
        self.shape = None if shape is None else tuple(None if d is None else int(d) for d in shape)

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None) -> Any:
        x = as_input(x)
        if self.shape is not None:
            want = self.shape
            if len(want) != x.ndim - 1 or any(w is not None and w != n for w, n in zip(want, x.shape[1:])):
                raise input_error(self, f"shape {(self.batch_size,) + want}", x.shape)
        return x

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def get_config(self) -> dict:
        cfg = super().get_config()
        cfg.pop("input_shape", None)
        return {**cfg, "shape": None if self.shape is None else list(self.shape),
                "batch_size": self.batch_size}


class Lambda(Layer):
    """Wraps a function of the input as a layer (Keras ``Lambda``): y = function(x, **arguments).

    The function must be written with ``nnmath.numpy`` (or operators on x) to be differentiable.
    It has no weights; a stateful computation belongs in a Layer subclass.

    Input shape: any. Output shape: ``output_shape`` if given (a tuple without the batch axis, or
    a function of the input shape), else found by calling the function on zeros.

    Serialisation: ``get_config`` records the function's name only, never its code; loading it
    needs the function in ``custom_objects`` (Keras refuses to deserialise a lambda's bytecode in
    safe mode; nnmath never loads code).

    Args:
        function: a callable taking the input (a list for several inputs).
        output_shape: see above.
        mask: None, a mask, or a function ``mask(x, previous_mask)`` giving the output mask.
        arguments: keyword arguments for the function.

    >>> import numpy as np
    >>> Lambda(lambda x: x ** 2)(np.array([[1.0, 3.0]]))
    array([[1., 9.]])
    """

    def __init__(self, function: Any, output_shape: Any = None, mask: Any = None,
                 arguments: dict | None = None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise ValueError(f"Lambda {self.name!r}: `function` must be callable, received "
                             f"function={function!r}")
        if arguments is not None and not isinstance(arguments, dict):
            raise ValueError(f"Lambda {self.name!r}: `arguments` must be a dict, received "
                             f"arguments={arguments!r}")
        self.function, self.arguments = function, dict(arguments or {})
        self._output_shape, self.mask = output_shape, mask

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None) -> Any:
        return self.function(x, **self.arguments)

    def compute_mask(self, x: Any, mask: Any = None) -> Any:
        if callable(self.mask):
            return self.mask(x, mask)
        return self.mask

    def compute_output_shape(self, input_shape: Any) -> Any:
        if callable(self._output_shape):
            return tuple(self._output_shape(input_shape))
        if self._output_shape is not None:
            return (None,) + tuple(self._output_shape)
        multi = isinstance(input_shape, list)
        shapes = input_shape if multi else [input_shape]
        probe = [np.zeros(tuple(1 if d is None else d for d in s), self.dtype) for s in shapes]
        y = self.function(probe if multi else probe[0], **self.arguments)
        return (None,) + tuple(np.shape(y))[1:]

    def get_config(self) -> dict:
        fn = getattr(self.function, "__name__", type(self.function).__name__)
        return {**super().get_config(), "function": fn, "arguments": self.arguments,
                "output_shape": None if self._output_shape is None or callable(self._output_shape)
                else list(self._output_shape)}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> "Lambda":
        """Rebuild with the function looked up by name in ``custom_objects`` (never from code)."""
        config = dict(config)
        name = config.pop("function")
        fn = (custom_objects or {}).get(name) if isinstance(name, str) else None
        if not callable(fn):
            raise ValueError(f"Lambda.from_config: the function {name!r} is not serialised (nnmath "
                             f"saves no code); pass it as custom_objects={{{name!r}: fn}}")
        return cls(fn, **config)
