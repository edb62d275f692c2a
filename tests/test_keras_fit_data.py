"""fit on a diverging run (one warning naming the epoch and the batch, TerminateOnNaN's stop in
the History), keras.utils.PyDataset in fit/evaluate/predict (Keras 3 semantics), clear_session."""
from __future__ import annotations

import warnings

from keras_reference import real_keras  # noqa: E402  (real Keras, test-only, on JAX)

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import nnmath.keras as keras  # noqa: E402

R = np.random.default_rng(0)
X = R.standard_normal((40, 3)).astype("float32")
Y = (X @ np.array([[1.0], [-2.0], [0.5]], "float32") + 0.1).astype("float32")


def _model(lr=0.01):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(lr), loss="mse")
    return model


def _exploding():
    # targets of 1e30 give a squared error of 1e60 on the first batch, inf in float32
    return _model(), X, Y * np.float32(1e30)


def test_divergence_warns_once_naming_epoch_and_batch():
    model, x, y = _exploding()
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        h = model.fit(x, y, epochs=3, batch_size=10, verbose=0, shuffle=False)
    diverged = [w for w in rec if issubclass(w.category, RuntimeWarning)
                and "the loss became" in str(w.message)]
    assert len(diverged) == 1
    msg = str(diverged[0].message)
    assert "epoch 1/3 (epoch index 0), batch index 0" in msg and "TerminateOnNaN" in msg
    assert len(h.history["loss"]) == 3 and not np.isfinite(h.history["loss"][0])


def test_terminate_on_nan_stops_where_fit_warned():
    model, x, y = _exploding()
    with pytest.warns(RuntimeWarning, match="batch index 0"):
        h = model.fit(x, y, epochs=3, batch_size=10, verbose=0, shuffle=False,
                      callbacks=[keras.callbacks.TerminateOnNaN()])
    assert h.stopped_by["callback"] == "TerminateOnNaN"
    assert (h.stopped_by["epoch"], h.stopped_by["batch"]) == (0, 0)
    assert h.epoch == [0]


def test_a_finite_run_does_not_warn():
    model = _model()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        model.fit(X, Y, epochs=2, batch_size=10, verbose=0)


# --------------------------------------------------------------------------- PyDataset
class Batches(keras.utils.PyDataset):
    """Keras's guide example: fixed arrays served in batches; counts its epochs."""

    def __init__(self, x, y, batch_size, weights=None, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size, self.w = x, y, batch_size, weights
        self.epochs_ended, self.seen = 0, []

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, idx):
        self.seen.append(idx)
        sl = slice(idx * self.batch_size, (idx + 1) * self.batch_size)
        if self.y is None:
            return self.x[sl]
        if self.w is None:
            return self.x[sl], self.y[sl]
        return self.x[sl], self.y[sl], self.w[sl]

    def on_epoch_end(self):
        self.epochs_ended += 1


def test_pydataset_trains_as_the_same_arrays():
    a, b = _model(), _model()
    ds = Batches(X, Y, 8, workers=2, use_multiprocessing=False, max_queue_size=4)
    ha = a.fit(ds, epochs=3, verbose=0, shuffle=False)
    hb = b.fit(X, Y, batch_size=8, epochs=3, verbose=0, shuffle=False)
    np.testing.assert_allclose(ha.history["loss"], hb.history["loss"], rtol=1e-6)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)
    assert ds.epochs_ended == 3 and ds.workers == 2
    np.testing.assert_allclose(a.evaluate(Batches(X, Y, 16), verbose=0),
                               b.evaluate(X, Y, verbose=0), rtol=1e-6)
    np.testing.assert_allclose(a.predict(Batches(X, None, 16)), b.predict(X), rtol=1e-6)
    # sample weights in the batch, and a PyDataset as validation_data
    w = np.linspace(0.5, 1.5, len(X)).astype("float32")
    h = a.fit(Batches(X, Y, 8, w), validation_data=Batches(X, Y, 20), epochs=1, verbose=0)
    assert set(h.history) == {"loss", "val_loss"}


def test_pydataset_shuffle_visits_every_batch_in_a_new_order():
    ds = Batches(X, Y, 4)
    _model().fit(ds, epochs=2, verbose=0)                   # shuffle=True: the batch order
    first, second = ds.seen[1:11], ds.seen[11:21]            # (seen[0]: fit's look at batch 0)
    assert sorted(first) == sorted(second) == list(range(10)) and first != second


def test_pydataset_refuses_what_keras_refuses():
    ds = Batches(X, Y, 8)
    with pytest.raises(ValueError, match="`y` is not supported when x is a PyDataset"):
        _model().fit(ds, Y)
    h = _model().fit(ds, batch_size=4, epochs=1, verbose=0)  # ignored, as Keras 3 (the guide)
    assert len(h.history["loss"]) == 1
    with pytest.raises(ValueError, match="`validation_split` is not supported"):
        _model().fit(ds, validation_split=0.2)
    with pytest.raises(ValueError, match="`workers` must be a positive integer"):
        Batches(X, Y, 8, workers=0)

    class NoLen(keras.utils.PyDataset):
        def __getitem__(self, i):
            return X, Y
    with pytest.raises(NotImplementedError, match="__len__"):
        _model().fit(NoLen())


def test_pydataset_fit_matches_real_keras():
    """The same weights, the same PyDataset, SGD: loss history and final weights as Keras 3."""
    rk = real_keras()

    class KBatches(rk.utils.PyDataset):
        def __init__(self, **kw):
            super().__init__(**kw)

        def __len__(self):
            return 5

        def __getitem__(self, i):
            return X[8 * i:8 * i + 8], Y[8 * i:8 * i + 8]

    ours = _model(0.05)
    theirs = rk.Sequential([rk.Input((3,)), rk.layers.Dense(4, activation="relu"),
                            rk.layers.Dense(1)])
    theirs.set_weights(ours.get_weights())
    theirs.compile(optimizer=rk.optimizers.SGD(0.05), loss="mse")
    hk = theirs.fit(KBatches(), epochs=3, verbose=0, shuffle=False)
    hn = ours.fit(Batches(X, Y, 8), epochs=3, verbose=0, shuffle=False)
    np.testing.assert_allclose(hn.history["loss"], hk.history["loss"], rtol=1e-5)
    for wn, wk in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(wn, np.asarray(wk), rtol=1e-5, atol=1e-6)


def test_clear_session_restarts_layer_names():
    keras.utils.clear_session()
    first = keras.layers.Dense(2).name
    keras.layers.Dense(2)
    keras.backend.clear_session()
    assert keras.layers.Dense(2).name == first == "dense"
    assert keras.backend.floatx() == "float32" and keras.backend.epsilon() == 1e-7
