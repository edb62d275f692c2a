"""Preprocessing layers (Keras 3 names and semantics): Rescaling, Normalization (with ``adapt``),
CategoryEncoding, StringLookup, IntegerLookup.

Rescaling and Normalization are affine maps of the input (differentiable with respect to it);
Normalization's statistics are non-trainable weights (``mean``, ``variance``, ``count``) that
``adapt`` fills from data and checkpoints save. The encoding and lookup layers map integers or
strings to indices or counts: constants, with no derivative (as in Keras).
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

import numpy as np

from ... import numpy as mnp
from ...numpy._helpers import primal_value
from .base import Layer
from .core import as_input, input_error, positive_int

__all__ = ["Rescaling", "Normalization", "CategoryEncoding", "StringLookup", "IntegerLookup"]

EPSILON = 1e-7          # Keras's backend.epsilon(): the floor of Normalization's √variance


class Rescaling(Layer):
    """y = x · scale + offset (Keras ``Rescaling``), computed in the layer's dtype (integer images
    become floats), e.g. ``Rescaling(1 / 255)`` maps [0, 255] to [0, 1].

    Input shape: any. Output shape: the same.

    Args:
        scale: a number (or an array broadcast against the input).
        offset: a number (default 0).

    >>> import numpy as np
    >>> Rescaling(1 / 127.5, offset=-1)(np.array([[0, 255]], dtype=np.uint8))
    array([[-1.,  1.]], dtype=float32)
    """

    def __init__(self, scale: Any, offset: Any = 0.0, **kwargs):
        super().__init__(**kwargs)
        for arg, v in (("scale", scale), ("offset", offset)):
            a = np.asarray(v)
            if a.dtype.kind not in "iuf" or isinstance(v, bool):
                raise ValueError(f"Rescaling {self.name!r}: `{arg}` must be a number, received "
                                 f"{arg}={v!r}")
        self.scale = scale.tolist() if isinstance(scale, np.ndarray) else scale
        self.offset = offset.tolist() if isinstance(offset, np.ndarray) else offset

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None) -> Any:
        x = as_input(x)
        if x.dtype != self.dtype:
            x = mnp.astype(x, self.dtype)
        return x * np.asarray(self.scale, self.dtype) + np.asarray(self.offset, self.dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


class Normalization(Layer):
    """Feature-wise standardisation (Keras ``Normalization``)::

        y = (x − μ) / max(√σ², ε)          invert=True:  y = μ + x · max(√σ², ε)

    with ε = 1e-7 and μ, σ² per index of the kept ``axis`` (population variance over every other
    axis), either given (``mean=``, ``variance=``) or computed by :meth:`adapt`.

    Input shape: any, with known sizes along ``axis``. Output shape: the same.

    Args:
        axis: the kept axis or axes (default −1: one μ, σ² per feature); None for scalar
            statistics.
        mean, variance: fixed statistics (both or neither), broadcast against the input.
        invert: apply the inverse map.

    Weights (when not given): non-trainable ``mean``, ``variance`` (the kept axes' shape) and
    ``count`` (the number of values each statistic averaged), so the model's checkpoints save
    them.

    >>> import numpy as np
    >>> norm = Normalization(dtype="float64")
    >>> norm.adapt(np.array([[0.0, 10.0], [2.0, 30.0]]))
    >>> norm(np.array([[1.0, 20.0]]))
    array([[0., 0.]])
    """

    def __init__(self, axis: Any = -1, mean: Any = None, variance: Any = None,
                 invert: bool = False, **kwargs):
        super().__init__(**kwargs)
        who = f"Normalization {self.name!r}"
        if axis is None:
            self.axis: tuple = ()
        else:
            try:
                self.axis = (int(axis),) if np.ndim(axis) == 0 else tuple(int(a) for a in axis)
            except (TypeError, ValueError):
                raise ValueError(f"{who}: `axis` must be an int, a tuple of ints or None, "
                                 f"received axis={axis!r}") from None
        if (mean is None) != (variance is None):
            raise ValueError(f"{who}: give both `mean` and `variance` or neither, received "
                             f"mean={mean!r}, variance={variance!r}")
        self.invert = bool(invert)
        self.input_mean = None if mean is None else np.asarray(mean, np.float64)
        self.input_variance = None if variance is None else np.asarray(variance, np.float64)
        if self.input_variance is not None and np.any(self.input_variance < 0):
            raise ValueError(f"{who}: `variance` must be ≥ 0, received variance={variance!r}")

    # -- shapes ---------------------------------------------------------------------------------
    def _kept(self, ndim: int) -> tuple:
        kept = []
        for a in self.axis:
            if not -ndim <= a < ndim or a % ndim == 0:
                raise ValueError(f"Normalization {self.name!r}: axis {a} is not a feature axis of "
                                 f"an input of rank {ndim} (the batch axis 0 cannot be kept)")
            kept.append(a % ndim)
        return tuple(sorted(kept))

    def _broadcast(self, ndim: int) -> tuple:
        """The shape of the statistics' arrays as stored, and as broadcast to an input of rank ndim."""
        if not hasattr(self, "_stat_shape"):
            return (), (1,) * ndim
        kept = self._kept(ndim)
        full = [1] * ndim
        for a, n in zip(kept, self._stat_shape):
            full[a] = n
        return self._stat_shape, tuple(full)

    def build(self, input_shape: tuple) -> None:
        input_shape = tuple(input_shape)
        kept = self._kept(len(input_shape))
        if any(input_shape[a] is None for a in kept):
            raise input_error(self, f"known sizes along axis {self.axis}", input_shape)
        self._stat_shape = tuple(int(input_shape[a]) for a in kept)
        if self.input_mean is None:
            self.add_weight("mean", self._stat_shape, "zeros", trainable=False)
            self.add_weight("variance", self._stat_shape, "ones", trainable=False)
            self.add_weight("count", (), "zeros", trainable=False, dtype="int64")
        self.built = True

    # -- adapt ----------------------------------------------------------------------------------
    def adapt(self, data: Any, batch_size: int | None = None, steps: int | None = None) -> None:
        """Compute μ and σ² from ``data``: an array (batched by ``batch_size`` if given) or an
        iterable of arrays (or of ``(x, …)`` tuples, as a dataset), at most ``steps`` batches.
        Batches are merged exactly (Chan et al. 1979's pairwise update), so the result equals the
        one-shot population mean and variance. Writes the weights in place, so a model that holds
        this layer sees the new statistics."""
        if self.input_mean is not None:
            raise ValueError(f"Normalization {self.name!r}: adapt() cannot be used with fixed "
                             f"`mean` and `variance` (given at construction)")
        count, mean, m2 = 0, None, None
        for k, batch in enumerate(_batches(data, batch_size)):
            if steps is not None and k >= steps:
                break
            b = np.asarray(batch, np.float64)
            if b.dtype == object or b.ndim == 0:
                raise ValueError(f"Normalization {self.name!r}: adapt() needs numeric arrays with a "
                                 f"batch axis, received {type(batch).__name__}")
            if not self.built:
                self.build((None,) + b.shape[1:])
            kept = self._kept(b.ndim)
            stat_shape, _ = self._broadcast(b.ndim)
            if tuple(b.shape[a] for a in kept) != stat_shape:
                raise input_error(self, f"sizes {stat_shape} along axis {self.axis}", b.shape)
            reduce = tuple(a for a in range(b.ndim) if a not in kept)
            n = int(np.prod([b.shape[a] for a in reduce]))
            if n == 0:
                continue
            bm = np.mean(b, axis=reduce).reshape(stat_shape)
            bm2 = np.sum((b - np.mean(b, axis=reduce, keepdims=True)) ** 2,
                         axis=reduce).reshape(stat_shape)
            if mean is None:
                count, mean, m2 = n, bm, bm2
            else:
                delta, total = bm - mean, count + n
                mean = mean + delta * (n / total)
                m2 = m2 + bm2 + delta ** 2 * (count * n / total)
                count = total
        if mean is None:
            raise ValueError(f"Normalization {self.name!r}: adapt() received no data")
        self.values["mean"][...] = mean
        self.values["variance"][...] = m2 / count
        self.values["count"][...] = count

    # -- math -----------------------------------------------------------------------------------
    def _stats(self, params: dict, ndim: int) -> tuple:
        if self.input_mean is not None:
            mean, var = self.input_mean, self.input_variance
            if mean.ndim and hasattr(self, "_stat_shape"):
                _, full = self._broadcast(ndim)
                mean, var = np.reshape(mean, full), np.reshape(var, full)
            return mean.astype(self.dtype), var.astype(self.dtype)
        if "mean" not in params:
            raise ValueError(f"Normalization {self.name!r}: build the layer or call adapt() "
                             f"before using it (params hold {sorted(params)})")
        _, full = self._broadcast(ndim)
        return mnp.reshape(params["mean"], full), mnp.reshape(params["variance"], full)

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None) -> Any:
        x = as_input(x)
        if x.dtype != self.dtype:
            x = mnp.astype(x, self.dtype)
        mean, var = self._stats(params, x.ndim)
        scale = mnp.maximum(mnp.sqrt(var), EPSILON)
        return mean + x * scale if self.invert else (x - mean) / scale

    @property
    def mean(self) -> Any:
        return self.input_mean if self.input_mean is not None else self.values.get("mean")

    @property
    def variance(self) -> Any:
        return self.input_variance if self.input_mean is not None else self.values.get("variance")

    def get_config(self) -> dict:
        fixed = self.input_mean is not None
        return {**super().get_config(), "axis": list(self.axis) if self.axis else None,
                "invert": self.invert,
                "mean": self.input_mean.tolist() if fixed else None,
                "variance": self.input_variance.tolist() if fixed else None}


def _batches(data: Any, batch_size: int | None) -> Iterable:
    """``data`` as batches: an array (or a list that is one) is cut into ``batch_size`` rows
    (one batch if None); anything else is iterated (a ``(x, y)`` item gives x)."""
    arr = data if isinstance(data, np.ndarray) else None
    if arr is None and isinstance(data, (list, tuple)):
        try:
            arr = np.asarray(data)
        except ValueError:              # ragged: a list of batches
            arr = None
        if arr is not None and arr.dtype == object:
            arr = None
    if arr is not None:
        if batch_size is None:
            yield arr
            return
        step = positive_int(batch_size, "batch_size", "adapt")
        for i in range(0, len(arr), step):
            yield arr[i:i + step]
        return
    for batch in data:
        yield batch[0] if isinstance(batch, tuple) else batch


# ---------------------------------------------------------------------------------------------
# Encodings and lookups (no derivatives)
# ---------------------------------------------------------------------------------------------
_MODES = ("int", "one_hot", "multi_hot", "count")


def _encode(indices: np.ndarray, depth: int, mode: str, dtype: Any, weights: Any = None,
            who: str = "") -> np.ndarray:
    """Keras's ``CategoryEncoding`` / lookup encodings of integer indices in [0, depth)."""
    if mode == "one_hot":
        if indices.ndim >= 2 and indices.shape[-1] == 1:
            indices = indices[..., 0]
        out = np.zeros(indices.shape + (depth,), dtype)
        np.put_along_axis(out, indices[..., None], 1, axis=-1)
        return out
    single = indices.ndim <= 1
    rows = indices.reshape(1, -1) if single else indices.reshape(len(indices), -1)
    out = np.zeros((rows.shape[0], depth), dtype)
    if mode == "multi_hot":
        np.put_along_axis(out, rows, 1, axis=-1)
    else:
        w = np.ones(rows.shape) if weights is None else np.asarray(weights, np.float64).reshape(
            rows.shape)
        for r in range(rows.shape[0]):
            out[r] = np.bincount(rows[r], weights=w[r], minlength=depth).astype(dtype)
    return out[0] if single else out


class CategoryEncoding(Layer):
    """Encodes integer categories in [0, num_tokens) (Keras ``CategoryEncoding``):

    * ``"one_hot"``: y[…, k] = [x[…] = k]; a trailing axis of size 1 is replaced by the encoding;
    * ``"multi_hot"`` (default): y[b, k] = [k occurs in x[b]];
    * ``"count"``: y[b, k] = Σⱼ w[b, j]·[x[b, j] = k] (w = ``count_weights`` or 1).

    A rank-1 input is one sample for "multi_hot" and "count" (as Keras). Values outside
    [0, num_tokens) raise ValueError (Keras's TensorFlow backend raises; its JAX backend drops
    them silently).

    Input shape: integers (batch,) or (batch, k). Output shape: (batch, num_tokens) (one_hot of
    (batch, k > 1): (batch, k, num_tokens)).

    >>> import numpy as np
    >>> CategoryEncoding(4, output_mode="count")(np.array([[0, 1, 1], [3, 3, 2]]))
    array([[1., 2., 0., 0.],
           [0., 0., 1., 2.]], dtype=float32)
    """

    def __init__(self, num_tokens: int | None = None, output_mode: str = "multi_hot",
                 sparse: bool = False, **kwargs):
        super().__init__(**kwargs)
        who = f"CategoryEncoding {self.name!r}"
        self.num_tokens = positive_int(num_tokens, "num_tokens", who)
        if output_mode not in _MODES[1:]:
            raise ValueError(f"{who}: `output_mode` must be one of 'one_hot', 'multi_hot', "
                             f"'count', received output_mode={output_mode!r}")
        if sparse:
            raise ValueError(f"{who}: sparse=True is not supported (nnmath has dense arrays only)")
        self.output_mode = output_mode

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None,
             count_weights: Any = None) -> Any:
        idx = np.asarray(primal_value(as_input(x)))
        if idx.dtype.kind not in "iu":
            if idx.dtype.kind != "f" or not np.all(idx == np.round(idx)):
                raise input_error(self, "integer category indices", idx.shape)
            idx = idx.astype(np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_tokens):
            raise ValueError(f"Input of layer {self.name!r} (CategoryEncoding): values must lie in "
                             f"[0, num_tokens={self.num_tokens}), received values in "
                             f"[{idx.min()}, {idx.max()}]")
        return _encode(idx, self.num_tokens, self.output_mode, self.dtype, count_weights)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        input_shape = tuple(input_shape)
        if self.output_mode == "one_hot":
            if len(input_shape) >= 2 and input_shape[-1] == 1:
                input_shape = input_shape[:-1]
            return input_shape + (self.num_tokens,)
        return (self.num_tokens,) if len(input_shape) <= 1 else (input_shape[0], self.num_tokens)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_tokens": self.num_tokens,
                "output_mode": self.output_mode, "sparse": False}


class _Lookup(Layer):
    """Keras's ``IndexLookup``: index layout [mask_token?] [OOV] [vocabulary…]."""

    _kind = "token"

    def __init__(self, max_tokens: int | None = None, num_oov_indices: int = 1,
                 mask_token: Any = None, oov_token: Any = None, vocabulary: Any = None,
                 invert: bool = False, output_mode: str = "int", sparse: bool = False,
                 pad_to_max_tokens: bool = False, **kwargs):
        kwargs.setdefault("dtype", "int64")
        super().__init__(**kwargs)
        who = f"{type(self).__name__} {self.name!r}"
        self._who = who
        if max_tokens is not None:
            positive_int(max_tokens, "max_tokens", who)
        if num_oov_indices not in (0, 1):
            raise ValueError(f"{who}: `num_oov_indices` must be 0 or 1 (several hashed OOV buckets "
                             f"are not supported), received num_oov_indices={num_oov_indices!r}")
        if output_mode not in _MODES:
            raise ValueError(f"{who}: `output_mode` must be one of {', '.join(map(repr, _MODES))} "
                             f"('tf_idf' is not supported), received output_mode={output_mode!r}")
        if invert and output_mode != "int":
            raise ValueError(f"{who}: invert=True needs output_mode='int', received "
                             f"output_mode={output_mode!r}")
        if sparse:
            raise ValueError(f"{who}: sparse=True is not supported (nnmath has dense arrays only)")
        self.max_tokens, self.num_oov_indices = max_tokens, int(num_oov_indices)
        self.mask_token, self.oov_token = mask_token, oov_token
        self.invert, self.output_mode = bool(invert), output_mode
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        self._vocab: list = []
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)

    # -- vocabulary -----------------------------------------------------------------------------
    def _special(self) -> list:
        return ([] if self.mask_token is None else [self.mask_token]) + \
            [self.oov_token] * self.num_oov_indices

    def _token(self, t: Any) -> Any:
        return t

    def set_vocabulary(self, vocabulary: Any) -> None:
        """Set the vocabulary (without the mask and OOV tokens); tokens must be unique."""
        vocab = [self._token(t) for t in np.asarray(vocabulary).ravel().tolist()]
        dup = sorted({t for t in vocab if vocab.count(t) > 1}, key=str)
        if dup:
            raise ValueError(f"{self._who}: the vocabulary has repeated tokens {dup[:5]}")
        special = [t for t in vocab if t in self._special()]
        if special:
            raise ValueError(f"{self._who}: the vocabulary contains the mask or OOV token "
                             f"{special[0]!r}; they are added by the layer")
        if self.max_tokens is not None and len(vocab) + len(self._special()) > self.max_tokens:
            raise ValueError(f"{self._who}: a vocabulary of {len(vocab)} tokens plus "
                             f"{len(self._special())} special ones exceeds max_tokens="
                             f"{self.max_tokens}")
        self._vocab = vocab
        self._index = {t: i + len(self._special()) for i, t in enumerate(vocab)}

    def adapt(self, data: Any, steps: int | None = None) -> None:
        """Build the vocabulary from ``data``: tokens by decreasing frequency, ties by decreasing
        token (Keras's ``np.lexsort((tokens, counts))[::-1]``), cut to ``max_tokens``."""
        counts: Counter = Counter()
        for k, batch in enumerate(_batches(data, None)):
            if steps is not None and k >= steps:
                break
            counts.update(self._token(t) for t in np.asarray(batch).ravel().tolist())
        for t in self._special():
            counts.pop(t, None)
        tokens = sorted(counts, key=lambda t: (counts[t], t), reverse=True)
        if self.max_tokens is not None:
            tokens = tokens[:max(self.max_tokens - len(self._special()), 0)]
        self.set_vocabulary(tokens)

    def get_vocabulary(self, include_special_tokens: bool = True) -> list:
        return (self._special() if include_special_tokens else []) + list(self._vocab)

    def vocabulary_size(self) -> int:
        return len(self._special()) + len(self._vocab)

    # -- lookup ---------------------------------------------------------------------------------
    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None) -> Any:
        a = np.asarray(primal_value(x) if hasattr(x, "shape") and not isinstance(x, np.ndarray) else x)
        if self.invert:
            table = self.get_vocabulary()
            if a.dtype.kind not in "iu" or (a.size and (a.min() < 0 or a.max() >= len(table))):
                raise ValueError(f"Input of layer {self.name!r} ({type(self).__name__}, "
                                 f"invert=True): expected integer indices in [0, {len(table)}), "
                                 f"received {a.dtype} values of shape {a.shape}")
            return np.array([table[i] for i in a.ravel().tolist()], dtype=object).reshape(
                a.shape).astype(self._out_dtype())
        oov = len(self._special()) - 1 if self.num_oov_indices else None
        flat = []
        for t in a.ravel().tolist():
            t = self._token(t)
            if self.mask_token is not None and t == self.mask_token:
                flat.append(0)
            elif t in self._index:
                flat.append(self._index[t])
            elif oov is None:
                raise ValueError(f"Input of layer {self.name!r} ({type(self).__name__}): "
                                 f"{t!r} is not in the vocabulary and num_oov_indices=0")
            else:
                flat.append(oov)
        idx = np.asarray(flat, np.int64).reshape(a.shape)
        if self.output_mode == "int":
            return idx
        depth = self.max_tokens if self.pad_to_max_tokens and self.max_tokens else \
            self.vocabulary_size()
        return _encode(idx, depth, self.output_mode, np.float32)

    def _out_dtype(self) -> Any:
        return object

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        if self.output_mode == "int":
            return tuple(input_shape)
        depth = self.max_tokens if self.pad_to_max_tokens and self.max_tokens else None
        return CategoryEncoding(depth or 1, output_mode=self.output_mode, name="_shape") \
            .compute_output_shape(input_shape)[:-1] + (depth,)

    def get_config(self) -> dict:
        return {**super().get_config(), "max_tokens": self.max_tokens,
                "num_oov_indices": self.num_oov_indices, "mask_token": self.mask_token,
                "oov_token": self.oov_token, "vocabulary": list(self._vocab) or None,
                "invert": self.invert, "output_mode": self.output_mode,
                "pad_to_max_tokens": self.pad_to_max_tokens}


class StringLookup(_Lookup):
    """Maps strings to integer indices (Keras ``StringLookup``): with the default
    ``mask_token=None, num_oov_indices=1``, index 0 is the OOV token ``"[UNK]"`` and the
    vocabulary starts at 1; with a ``mask_token``, 0 is the mask, 1 the OOV token, the vocabulary
    starts at 2. ``invert=True`` maps indices back to strings; ``output_mode`` "one_hot",
    "multi_hot" or "count" encodes the indices (as CategoryEncoding, over vocabulary_size()).

    Input shape: strings, any shape. Output shape: the same (int64), or encoded.

    Args:
        max_tokens: the largest vocabulary (special tokens included) ``adapt`` keeps.
        num_oov_indices: 0 (unknown tokens raise) or 1.
        mask_token, oov_token: the special tokens.
        vocabulary: a list of tokens (else call :meth:`adapt`).
        invert, output_mode, pad_to_max_tokens: as above.

    >>> layer = StringLookup(vocabulary=["a", "b", "c", "d"])
    >>> layer([["a", "c", "d"], ["d", "z", "b"]])
    array([[1, 3, 4],
           [4, 0, 2]])
    >>> layer = StringLookup(); layer.adapt([["a", "c", "d"], ["d", "z", "b"]])
    >>> layer.get_vocabulary()
    ['[UNK]', 'd', 'z', 'c', 'b', 'a']
    """

    def __init__(self, max_tokens: int | None = None, num_oov_indices: int = 1,
                 mask_token: str | None = None, oov_token: str = "[UNK]", vocabulary: Any = None,
                 encoding: str = "utf-8", **kwargs):
        self.encoding = encoding
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices,
                         mask_token=mask_token, oov_token=oov_token, vocabulary=vocabulary,
                         **kwargs)

    def _token(self, t: Any) -> Any:
        return t.decode(self.encoding) if isinstance(t, bytes) else str(t)

    def _out_dtype(self) -> Any:
        return str

    def __call__(self, x: Any, training: bool = False, rng: Any = None, **kwargs):
        if not self.built:
            self.built = True
        return self.call({}, np.asarray(x), training=training, rng=rng)

    def get_config(self) -> dict:
        return {**super().get_config(), "encoding": self.encoding}


class IntegerLookup(_Lookup):
    """Maps integers to contiguous indices (Keras ``IntegerLookup``); as StringLookup with integer
    tokens, ``oov_token=-1`` and ``mask_token=None`` (give ``mask_token=0`` to reserve 0).

    >>> layer = IntegerLookup(vocabulary=[12, 36, 1138, 42])
    >>> layer([[12, 1138, 42], [42, 1000, 36]])
    array([[1, 3, 4],
           [4, 0, 2]])
    """

    def __init__(self, max_tokens: int | None = None, num_oov_indices: int = 1,
                 mask_token: int | None = None, oov_token: int = -1, vocabulary: Any = None,
                 **kwargs):
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices,
                         mask_token=mask_token, oov_token=oov_token, vocabulary=vocabulary,
                         **kwargs)

    def _token(self, t: Any) -> Any:
        if isinstance(t, float) and t != int(t) or isinstance(t, (str, bytes)):
            raise ValueError(f"Input of layer {self.name!r} (IntegerLookup): tokens must be "
                             f"integers, received {t!r}")
        return int(t)

    def _out_dtype(self) -> Any:
        return np.int64

    def __call__(self, x: Any, training: bool = False, rng: Any = None, **kwargs):
        if not self.built:
            self.built = True
        return self.call({}, np.asarray(x), training=training, rng=rng)
