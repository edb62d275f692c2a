"""nnmath.training.metrics against scikit-learn, 'accuracy' resolution, and every callback driven
by a fake model through a loop that calls the hooks as Keras's ``fit`` does."""
from __future__ import annotations

import csv
import io
import math
import re

import numpy as np
import pytest

from nnmath.training import callbacks as cb
from nnmath.training import metrics as mt

skm = pytest.importorskip("sklearn.metrics")

RNG = np.random.default_rng(0)
N = 240


def batches(n, sizes=(17, 100, 1, 60)):
    """Unequal batch slices covering range(n)."""
    edges = np.cumsum((0,) + sizes)
    edges = edges[edges < n].tolist() + [n]
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]


def run(metric, y_true, y_pred, w=None, split=False):
    metric.reset_state()
    for s in (batches(len(y_true)) if split else [slice(None)]):
        metric.update_state(y_true[s], y_pred[s], None if w is None else w[s])
    return metric.result()


@pytest.fixture(scope="module")
def data():
    k = 5
    labels = RNG.integers(0, k, N)
    scores = RNG.random((N, k))
    y01 = RNG.integers(0, 2, N)
    p01 = RNG.random(N)
    w = RNG.random(N) * 2
    return dict(k=k, labels=labels, onehot=np.eye(k)[labels], scores=scores, y01=y01, p01=p01,
                w=w, reg_true=RNG.normal(size=(N, 3)), reg_pred=RNG.normal(size=(N, 3)))


# ---------------------------------------------------------------------------------------------
# Metrics against scikit-learn, weighted and not, one-shot and in unequal batches
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("split", [False, True])
def test_accuracies_match_sklearn(data, weighted, split):
    w = data["w"] if weighted else None
    d = data
    ref = skm.accuracy_score(d["y01"], d["p01"] > 0.5, sample_weight=w)
    for yt, yp in [(d["y01"], d["p01"]), (d["y01"][:, None], d["p01"][:, None]),
                   (d["y01"], d["p01"][:, None]), (d["y01"][:, None], d["p01"])]:
        assert run(mt.BinaryAccuracy(), yt, yp, w, split) == pytest.approx(ref, abs=1e-12)
    ref = skm.accuracy_score(d["labels"], d["scores"].argmax(1), sample_weight=w)
    assert run(mt.CategoricalAccuracy(), d["onehot"], d["scores"], w, split) == \
        pytest.approx(ref, abs=1e-12)
    assert run(mt.SparseCategoricalAccuracy(), d["labels"], d["scores"], w, split) == \
        pytest.approx(ref, abs=1e-12)
    assert run(mt.SparseCategoricalAccuracy(), d["labels"][:, None], d["scores"], w, split) == \
        pytest.approx(ref, abs=1e-12)
    pred = d["scores"].argmax(1)
    assert run(mt.Accuracy(), d["labels"], pred, w, split) == pytest.approx(ref, abs=1e-12)
    for k in (1, 2, 3):
        ref = skm.top_k_accuracy_score(d["labels"], d["scores"], k=k, sample_weight=w,
                                       labels=np.arange(d["k"]))
        assert run(mt.SparseTopKCategoricalAccuracy(k=k), d["labels"], d["scores"], w, split) \
            == pytest.approx(ref, abs=1e-12)
        assert run(mt.TopKCategoricalAccuracy(k=k), d["onehot"], d["scores"], w, split) == \
            pytest.approx(ref, abs=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("split", [False, True])
def test_precision_recall_match_sklearn(data, weighted, split):
    w = data["w"] if weighted else None
    y, p = data["y01"], data["p01"]
    kw = dict(sample_weight=w, zero_division=0)
    assert run(mt.Precision(), y, p, w, split) == \
        pytest.approx(skm.precision_score(y, p > 0.5, **kw), abs=1e-12)
    assert run(mt.Recall(), y[:, None], p[:, None], w, split) == \
        pytest.approx(skm.recall_score(y, p > 0.5, **kw), abs=1e-12)
    # several thresholds, given unsorted: one value per threshold, in the order given
    got = run(mt.Precision(thresholds=[0.7, 0.2, 0.5]), y, p, w, split)
    want = [skm.precision_score(y, p > t, **kw) for t in (0.7, 0.2, 0.5)]
    np.testing.assert_allclose(got, want, atol=1e-12)


def _bucket_bound(y, p, w, num_thresholds=200):
    """½ Σ_b P_b N_b / (P N): the most the bucketed ROC AUC can differ from the exact one."""
    thr = np.array([-1e-7] + [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
                   + [1 + 1e-7])
    b = np.searchsorted(thr, p, side="left")
    pos = np.bincount(b, weights=w * y, minlength=len(thr) + 1)
    neg = np.bincount(b, weights=w * (1 - y), minlength=len(thr) + 1)
    return 0.5 * np.sum(pos * neg) / (pos.sum() * neg.sum())


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("split", [False, True])
def test_auc_matches_sklearn(data, weighted, split):
    w = data["w"] if weighted else None
    y, p = data["y01"], data["p01"]
    ref = skm.roc_auc_score(y, p, sample_weight=w)
    approx = run(mt.AUC(), y, p, w, split)
    bound = _bucket_bound(y, p, np.ones(N) if w is None else w)
    assert abs(approx - ref) <= bound + 1e-12
    assert abs(approx - ref) < 5e-3            # Keras's 200 thresholds on spread-out scores
    assert run(mt.AUC(exact=True), y, p, w, split) == pytest.approx(ref, abs=1e-12)
    # ties (scores on a coarse grid): the exact AUC counts tied pairs as ½, as sklearn does
    coarse = np.round(p, 1)
    assert run(mt.AUC(exact=True), y, coarse, w, split) == \
        pytest.approx(skm.roc_auc_score(y, coarse, sample_weight=w), abs=1e-12)
    # logits: a sigmoid first
    logits = np.log(p / (1 - p))
    assert run(mt.AUC(from_logits=True), y, logits, w, split) == pytest.approx(approx, abs=1e-9)


def test_auc_keras_docstring_example_and_degenerate_cases():
    m = mt.AUC(num_thresholds=3)
    m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
    assert m.result() == pytest.approx(0.75)
    m.reset_state()
    m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9], sample_weight=[1, 0, 0, 1])
    assert m.result() == pytest.approx(1.0)
    m = mt.AUC()
    m.update_state([1, 1], [0.2, 0.9])                  # no negatives: Keras gives 0
    assert m.result() == 0.0
    e = mt.AUC(exact=True)
    e.update_state([1, 1], [0.2, 0.9])
    assert math.isnan(e.result())
    assert mt.AUC(thresholds=[0.5]).thresholds == pytest.approx([-1e-7, 0.5, 1 + 1e-7])
    y, p = RNG.integers(0, 2, 100), RNG.random(100)
    lo, mid, hi = (run(mt.AUC(num_thresholds=20, summation_method=s), y, p)
                   for s in ("minoring", "interpolation", "majoring"))
    assert lo <= mid <= hi and lo < hi
    with pytest.raises(ValueError, match="multi_label"):
        mt.AUC(multi_label=True)
    with pytest.raises(ValueError, match="top_k=0"):     # top_k is supported; 0 is not valid
        mt.Precision(top_k=0)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("split", [False, True])
def test_regression_metrics_match_sklearn(data, weighted, split):
    w = data["w"] if weighted else None
    t, p = data["reg_true"], data["reg_pred"]
    mse = skm.mean_squared_error(t, p, sample_weight=w)
    assert run(mt.MeanSquaredError(), t, p, w, split) == pytest.approx(mse, rel=1e-12)
    assert run(mt.RootMeanSquaredError(), t, p, w, split) == pytest.approx(np.sqrt(mse), rel=1e-12)
    assert run(mt.MeanAbsoluteError(), t, p, w, split) == \
        pytest.approx(skm.mean_absolute_error(t, p, sample_weight=w), rel=1e-12)
    # rank 1: every element a sample (Keras would count each batch as one sample)
    assert run(mt.MeanSquaredError(), t[:, 0], p[:, 0], w, split) == \
        pytest.approx(skm.mean_squared_error(t[:, 0], p[:, 0], sample_weight=w), rel=1e-12)


def test_mean_is_a_weighted_mean_and_tracks_a_loss():
    m = mt.Mean(name="loss")
    m.update_state([1, 3, 5, 7])
    assert m.result() == 4.0
    m.reset_state()
    assert m.result() == 0.0                              # divide_no_nan before any update
    m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    assert m.result() == 2.0
    m.reset_state()                                       # how fit tracks the loss
    for loss, size in [(0.5, 32), (0.2, 32), (0.9, 8)]:
        m.update_state(loss, sample_weight=size)
    assert m.result() == pytest.approx((0.5 * 32 + 0.2 * 32 + 0.9 * 8) / 72)
    assert isinstance(m.result(), float)


ALL = [mt.BinaryAccuracy, mt.Precision, mt.Recall, mt.AUC, mt.CategoricalAccuracy,
       mt.SparseCategoricalAccuracy, mt.TopKCategoricalAccuracy,
       mt.SparseTopKCategoricalAccuracy, mt.MeanSquaredError, mt.MeanAbsoluteError,
       mt.RootMeanSquaredError, mt.Accuracy]


def _inputs(cls, d):
    if cls in (mt.BinaryAccuracy, mt.Precision, mt.Recall, mt.AUC):
        return d["y01"], d["p01"]
    if cls in (mt.CategoricalAccuracy, mt.TopKCategoricalAccuracy):
        return d["onehot"], d["scores"]
    if cls in (mt.SparseCategoricalAccuracy, mt.SparseTopKCategoricalAccuracy):
        return d["labels"], d["scores"]
    if cls is mt.Accuracy:
        return d["labels"], d["scores"].argmax(1)
    return d["reg_true"], d["reg_pred"]


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_accumulation_reset_and_config(cls, data):
    yt, yp = _inputs(cls, data)
    kw = {"k": 2} if "TopK" in cls.__name__ else {}
    m = cls(**kw)
    one_shot = run(m, yt, yp, data["w"])
    assert run(m, yt, yp, data["w"], split=True) == pytest.approx(one_shot, abs=1e-12)
    m.reset_state()
    m.update_state(yt[:5], yp[:5])
    fresh = cls(**kw)
    fresh.update_state(yt[:5], yp[:5])
    assert m.result() == fresh.result()
    assert isinstance(m.result(), float)
    clone = cls.from_config(m.get_config())
    assert clone.get_config() == m.get_config()
    assert clone.name == m.name and clone.resolved == m.resolved
    assert m.direction in ("up", "down")


@pytest.mark.parametrize("cls, yt, yp", [
    (mt.BinaryAccuracy, np.zeros(4), np.zeros(5)),
    (mt.MeanSquaredError, np.zeros((4, 3)), np.zeros((4, 2))),
    (mt.MeanSquaredError, np.zeros((4, 1)), np.zeros((1, 4))),
    (mt.CategoricalAccuracy, np.zeros(4), np.zeros((4, 3))),
    (mt.SparseCategoricalAccuracy, np.zeros((4, 3)), np.zeros((4, 3))),
    (mt.SparseCategoricalAccuracy, np.zeros(5), np.zeros((4, 3))),
    (mt.AUC, np.zeros((4, 2)), np.zeros((4, 3))),
])
def test_shape_mismatch_names_both_shapes(cls, yt, yp):
    with pytest.raises(ValueError) as e:
        cls().update_state(yt, yp)
    assert str(yt.shape) in str(e.value) and str(yp.shape) in str(e.value)


def test_bad_values_raise_clear_errors():
    with pytest.raises(ValueError, match=r"class indices in \[0, 3\)"):
        mt.SparseCategoricalAccuracy().update_state([0, 3], np.ones((2, 3)))
    with pytest.raises(ValueError, match="binary labels"):
        mt.Precision().update_state([0, 2], [0.1, 0.9])
    with pytest.raises(ValueError, match="sample_weight of shape"):
        mt.MeanSquaredError().update_state(np.zeros((4, 2)), np.zeros((4, 2)), np.ones(3))
    with pytest.raises(ValueError, match="threshold"):
        mt.BinaryAccuracy(threshold=1.5)


def test_get_names_aliases_and_unknown():
    assert mt.get(None) is None
    m = mt.get("mse")
    assert isinstance(m, mt.MeanSquaredError) and m.name == "mse"
    assert m.resolved == "mean_squared_error"
    assert isinstance(mt.get("auc"), mt.AUC) and isinstance(mt.get("AUC"), mt.AUC)
    assert isinstance(mt.get("BinaryAccuracy"), mt.BinaryAccuracy)
    assert mt.get("root_mean_squared_error").name == "root_mean_squared_error"
    inst = mt.Recall(name="r")
    assert mt.get(inst) is inst
    assert isinstance(mt.get(mt.Precision), mt.Precision)

    def hits(y_true, y_pred):
        return (np.asarray(y_true) == np.asarray(y_pred)).astype(float)
    f = mt.get(hits)
    assert f.name == "hits"
    f.update_state([1, 2, 3], [1, 2, 0])
    assert f.result() == pytest.approx(2 / 3)
    with pytest.raises(ValueError) as e:
        mt.get("acuracy")
    assert "acuracy" in str(e.value) and "binary_accuracy" in str(e.value)
    assert "sparse_top_k_categorical_accuracy" in str(e.value)


# ---------------------------------------------------------------------------------------------
# 'accuracy' resolution
# ---------------------------------------------------------------------------------------------
class BinaryCrossentropy:                      # stand-ins for nnmath.nn.losses' classes
    def __init__(self, from_logits=False):
        self.from_logits = from_logits


class SparseCategoricalCrossentropy:
    """Stands in for the loss of that name: metrics resolve 'accuracy' by the class name."""


class MeanSquaredError:
    """Stands in for the loss of that name."""


def categorical_crossentropy(y_true, y_pred):
    return 0.0


n = 8
RESOLUTION = [
    # loss,                           y_true,   y_pred,  resolved
    (None,                            (n, 1),   (n, 1),  "binary_accuracy"),
    (None,                            (n,),     (n, 1),  "binary_accuracy"),
    ("binary_crossentropy",           (n,),     (n, 1),  "binary_accuracy"),
    ("bce",                           (n, 1),   (n, 1),  "binary_accuracy"),
    # multi-label sigmoid outputs: the loss decides (Keras 3 would say categorical)
    (BinaryCrossentropy(),            (n, 4),   (n, 4),  "binary_accuracy"),
    ("sparse_categorical_crossentropy", (n,),   (n, 3),  "sparse_categorical_accuracy"),
    (SparseCategoricalCrossentropy(), (n, 1),   (n, 3),  "sparse_categorical_accuracy"),
    (None,                            (n,),     (n, 3),  "sparse_categorical_accuracy"),
    ("categorical_crossentropy",      (n, 1),   (n, 3),  "sparse_categorical_accuracy"),
    (None,                            (n, 5),   (n, 5, 3), "sparse_categorical_accuracy"),
    ("categorical_crossentropy",      (n, 3),   (n, 3),  "categorical_accuracy"),
    (categorical_crossentropy,        (n, 3),   (n, 3),  "categorical_accuracy"),
    # the Keras reference example: one-hot Y (n, 3), softmax output, mean-squared-error loss
    ("mean_squared_error",            (150, 3), (150, 3), "categorical_accuracy"),
    (MeanSquaredError(),              (150, 3), (150, 3), "categorical_accuracy"),
    ("mse",                           (n, 3),   (n, 3),  "categorical_accuracy"),
]


@pytest.mark.parametrize("loss, t_shape, p_shape, expected", RESOLUTION)
@pytest.mark.parametrize("spelling", ["accuracy", "acc", "Accuracy"])
def test_accuracy_resolution_table(loss, t_shape, p_shape, expected, spelling):
    kind, reason = mt.resolve_accuracy(loss, t_shape, p_shape)
    assert kind == expected and reason
    m = mt.get(spelling, loss=loss, y_true=np.zeros(t_shape), y_pred=np.zeros(p_shape))
    assert m.name == spelling and m.resolved == expected and m.reason == reason


def test_reference_example_end_to_end():
    """Keras's example: one-hot Y (n, 3), softmax outputs, loss MSE → categorical accuracy."""
    labels = RNG.integers(0, 3, 150)
    Y = np.eye(3)[labels]
    logits = RNG.normal(size=(150, 3)) + 2 * Y
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    m = mt.get("accuracy", loss="mean_squared_error", y_true=Y, y_pred=probs)
    assert isinstance(m, mt.CategoricalAccuracy)
    m.update_state(Y, probs)
    assert m.result() == pytest.approx(skm.accuracy_score(labels, probs.argmax(1)))
    assert 0.5 < m.result() < 1.0             # binary accuracy would report ~0.8 for any model


def test_accuracy_resolves_on_first_batch_when_shapes_unknown():
    m = mt.get("accuracy", loss="categorical_crossentropy")
    assert isinstance(m, mt.AutoAccuracy) and m.resolved is None and m.name == "accuracy"
    m.update_state(np.array([0, 2, 1]), np.eye(3)[[0, 2, 2]])
    assert m.resolved == "sparse_categorical_accuracy" and "rank" in m.reason
    assert m.result() == pytest.approx(2 / 3)
    m.reset_state()
    assert m.result() == 0.0
    # binary cross-entropy decides without shapes
    assert mt.get("acc", loss="binary_crossentropy").resolved == "binary_accuracy"


def test_binary_accuracy_with_logits_loss_thresholds_logits_at_zero():
    m = mt.get("accuracy", loss=BinaryCrossentropy(from_logits=True),
               y_true=np.zeros((4, 1)), y_pred=np.zeros((4, 1)))
    m.update_state([[1], [0], [1], [0]], [[0.2], [-0.3], [-1.0], [3.0]])   # logits
    assert m.result() == pytest.approx(0.5)


# ---------------------------------------------------------------------------------------------
# Callbacks: a fake model and a loop that calls the hooks like Keras's fit
# ---------------------------------------------------------------------------------------------
class FakeOptimizer:
    def __init__(self, lr=0.1):
        self.learning_rate = lr


class FakeModel:
    """The interface the callbacks use. ``get_weights`` hands out *views* of a buffer updated in
    place (like a flat-buffer optimizer), so callbacks must copy what they keep."""

    def __init__(self, metrics=()):
        self.buffer = np.zeros(4)
        self.stop_training = False
        self.optimizer = FakeOptimizer()
        self.metrics = list(metrics)
        self.saves: list[tuple[str, str]] = []

    def get_weights(self):
        return [self.buffer[:2], self.buffer[2:]]

    def set_weights(self, weights):
        self.buffer[:2], self.buffer[2:] = weights

    def save(self, path):
        self.saves.append(("model", path))
        open(path, "w").write("model")

    def save_weights(self, path):
        self.saves.append(("weights", path))
        open(path, "w").write("weights")


def fit(model, epochs=3, steps=4, callbacks=(), verbose=0, val=None, batch_loss=None,
        val_steps=2):
    """Keras 3's ``fit`` loop, as far as the hooks see it. ``val(epoch)`` gives the epoch's
    validation logs, ``batch_loss(epoch, batch)`` the training loss."""
    cbs = cb.CallbackList(list(callbacks), add_history=True, add_progbar=verbose != 0,
                          model=model, verbose=verbose, epochs=epochs, steps=steps)
    model.stop_training = False
    cbs.on_train_begin()
    epoch_logs: dict = {}
    for epoch in range(epochs):
        cbs.on_epoch_begin(epoch)
        logs: dict = {}
        for step in range(steps):
            cbs.on_train_batch_begin(step)
            model.buffer += 1.0                                  # "training" in place
            loss = batch_loss(epoch, step) if batch_loss else 1.0 / (1 + epoch + step / steps)
            logs = {"loss": np.float64(loss), "accuracy": np.float32(0.5 + 0.01 * epoch)}
            cbs.on_train_batch_end(step, logs)
            if model.stop_training:
                break
        epoch_logs = dict(logs)
        if val is not None:
            cbs.on_test_begin()
            for step in range(val_steps):
                cbs.on_test_batch_begin(step)
                cbs.on_test_batch_end(step, {"loss": 0.0})
            vlogs = val(epoch)
            cbs.on_test_end(vlogs)
            epoch_logs.update({f"val_{k}": v for k, v in vlogs.items()})
        cbs.on_epoch_end(epoch, epoch_logs)
        if model.stop_training:
            break
    cbs.on_train_end(epoch_logs)
    return cbs.history


def seq(values):
    return lambda epoch: {"loss": values[epoch]}


def test_history_is_returned_and_holds_python_floats():
    model = FakeModel()
    h = fit(model, epochs=3, val=seq([0.9, 0.8, 0.7]))
    assert isinstance(h, cb.History) and model.history is h
    assert h.epoch == [0, 1, 2]
    assert set(h.history) == {"loss", "accuracy", "val_loss"}
    assert h.history["val_loss"] == [0.9, 0.8, 0.7]
    assert all(type(v) is float for v in h.history["accuracy"])


def test_history_reports_what_accuracy_resolved_to():
    acc = mt.get("accuracy", loss="mse", y_true=np.zeros((2, 3)), y_pred=np.zeros((2, 3)))
    h = fit(FakeModel(metrics=[acc, mt.get("mse")]), epochs=1)
    assert h.resolved == {"accuracy": "categorical_accuracy", "mse": "mean_squared_error"}
    model = FakeModel()                           # a model that keeps them in compiled_metrics
    model.compiled_metrics = [acc]
    assert fit(model, epochs=1).resolved == {"accuracy": "categorical_accuracy"}


def test_early_stopping_patience():
    es = cb.EarlyStopping(monitor="val_loss", patience=2)
    h = fit(FakeModel(), epochs=10, callbacks=[es], val=seq([1.0, 0.9, 0.95, 0.96, 0.97, 0.1]))
    assert len(h.epoch) == 4 and es.stopped_epoch == 3 and es.best == 0.9 and es.best_epoch == 1


def test_early_stopping_min_delta():
    es = cb.EarlyStopping(monitor="val_loss", patience=1, min_delta=0.1)
    h = fit(FakeModel(), epochs=10, callbacks=[es], val=seq([1.0, 0.95, 0.8, 0.7, 0.6]))
    assert len(h.epoch) == 2                      # 0.95 is not 0.1 better than 1.0
    es = cb.EarlyStopping(monitor="val_loss", patience=1, min_delta=0.01)
    h = fit(FakeModel(), epochs=5, callbacks=[es], val=seq([1.0, 0.95, 0.8, 0.7, 0.6]))
    assert len(h.epoch) == 5


def test_early_stopping_restores_best_weights_even_when_the_model_hands_out_views():
    model, steps = FakeModel(), 4
    es = cb.EarlyStopping(patience=2, restore_best_weights=True)
    fit(model, epochs=10, steps=steps, callbacks=[es], val=seq([1.0, 0.5, 0.7, 0.8, 0.9]))
    assert es.best_epoch == 1
    np.testing.assert_array_equal(model.buffer, np.full(4, 2.0 * steps))   # after epoch 2 of 4
    model = FakeModel()                           # without restore: the last epoch's weights
    fit(model, epochs=10, steps=steps, callbacks=[cb.EarlyStopping(patience=2)],
        val=seq([1.0, 0.5, 0.7, 0.8, 0.9]))
    np.testing.assert_array_equal(model.buffer, np.full(4, 4.0 * steps))


def test_early_stopping_baseline_mode_and_warmup():
    vals = [0.9, 0.8, 0.7, 0.75, 0.76, 0.77, 0.78]
    h = fit(FakeModel(), epochs=7, callbacks=[cb.EarlyStopping(patience=2, baseline=0.5)],
            val=seq(vals))
    assert len(h.epoch) == 4                      # improvements that miss the baseline don't reset
    h = fit(FakeModel(), epochs=7, callbacks=[cb.EarlyStopping(patience=2)], val=seq(vals))
    assert len(h.epoch) == 5
    acc = lambda e: {"accuracy": [0.5, 0.6, 0.55, 0.58, 0.9][e]}
    h = fit(FakeModel(), epochs=5, callbacks=[cb.EarlyStopping("val_accuracy", patience=1)],
            val=acc)
    assert len(h.epoch) == 3                      # 'auto' knows accuracy goes up
    h = fit(FakeModel(), epochs=5, callbacks=[
        cb.EarlyStopping("val_accuracy", patience=1, start_from_epoch=3)], val=acc)
    assert len(h.epoch) == 5
    score = mt.MeanMetricWrapper(lambda t, p: p, name="score", direction="up")
    es = cb.EarlyStopping("val_score", patience=1)
    h = fit(FakeModel(metrics=[score]), epochs=5, callbacks=[es],
            val=lambda e: {"score": [1, 2, 3, 2, 1][e]})
    assert len(h.epoch) == 4 and es.best == 3     # the metric's direction decides
    with pytest.raises(ValueError, match="mode='min' or mode='max'"):
        fit(FakeModel(), epochs=2, callbacks=[cb.EarlyStopping("val_wobble")],
            val=lambda e: {"wobble": 1.0})
    with pytest.raises(ValueError, match="mode"):
        cb.EarlyStopping(mode="up")


def test_early_stopping_warns_when_monitor_is_missing():
    with pytest.warns(UserWarning, match="val_loss"):
        h = fit(FakeModel(), epochs=2, callbacks=[cb.EarlyStopping()])
    assert len(h.epoch) == 2


def test_model_checkpoint_names_files_from_epoch_and_logs(tmp_path):
    model = FakeModel()
    ck = cb.ModelCheckpoint(str(tmp_path / "ckpt-{epoch:02d}-{val_loss:.2f}.weights.npz"),
                            save_weights_only=True)
    fit(model, epochs=3, callbacks=[ck], val=seq([0.9, 0.95, 0.8]))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["ckpt-01-0.90.weights.npz", "ckpt-02-0.95.weights.npz",
                     "ckpt-03-0.80.weights.npz"]
    assert [kind for kind, _ in model.saves] == ["weights"] * 3


def test_model_checkpoint_best_only(tmp_path):
    model = FakeModel()
    ck = cb.ModelCheckpoint(str(tmp_path / "sub" / "m-{epoch}.model"), save_best_only=True)
    fit(model, epochs=4, callbacks=[ck], val=seq([0.9, 0.95, 0.8, 0.85]))
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["m-1.model", "m-3.model"]
    assert [kind for kind, _ in model.saves] == ["model", "model"] and ck.best == 0.8
    # one fixed path, max mode, an initial threshold to beat
    model = FakeModel()
    ck = cb.ModelCheckpoint(str(tmp_path / "best.model"), monitor="val_accuracy",
                            save_best_only=True, mode="max", initial_value_threshold=0.55)
    fit(model, epochs=4, callbacks=[ck], val=lambda e: {"accuracy": [0.5, 0.6, 0.58, 0.7][e]})
    assert [p.endswith("best.model") for _, p in model.saves] == [True, True]
    assert ck.best == 0.7


def test_model_checkpoint_every_n_batches_and_bad_keys(tmp_path):
    model = FakeModel()
    ck = cb.ModelCheckpoint(str(tmp_path / "e{epoch}-b{batch}.w"), save_weights_only=True,
                            save_freq=2)
    fit(model, epochs=2, steps=3, callbacks=[ck])
    assert [p.rsplit("/", 1)[-1] for _, p in model.saves] == ["e1-b2.w", "e2-b1.w", "e2-b3.w"]
    ck = cb.ModelCheckpoint(str(tmp_path / "{val_acc}.w"))
    with pytest.raises(KeyError, match="val_acc"):
        fit(FakeModel(), epochs=1, callbacks=[ck])
    with pytest.raises(ValueError, match="save_freq"):
        cb.ModelCheckpoint("x", save_freq="batch")


def test_learning_rate_scheduler():
    model = FakeModel()
    seen = []

    def halve(epoch, lr):
        seen.append((epoch, lr))
        return lr * 0.5
    h = fit(model, epochs=3, callbacks=[cb.LearningRateScheduler(halve)])
    assert model.optimizer.learning_rate == pytest.approx(0.0125)
    assert h.history["learning_rate"] == pytest.approx([0.05, 0.025, 0.0125])
    assert seen == [(0, 0.1), (1, 0.05), (2, 0.025)]
    fit(model, epochs=2, callbacks=[cb.LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))])
    assert model.optimizer.learning_rate == pytest.approx(0.02)      # Keras's old 1-arg API
    with pytest.raises(ValueError, match="must return a float"):
        fit(FakeModel(), epochs=1, callbacks=[cb.LearningRateScheduler(lambda e, lr: "fast")])

    def buggy(epoch, lr):
        raise TypeError("bug inside the schedule")
    with pytest.raises(TypeError, match="bug inside"):   # not swallowed and retried
        fit(FakeModel(), epochs=1, callbacks=[cb.LearningRateScheduler(buggy)])


def test_reduce_lr_on_plateau():
    model = FakeModel()
    rl = cb.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, cooldown=1,
                              min_lr=0.02)
    h = fit(model, epochs=9, callbacks=[rl], val=lambda e: {"loss": 1.0})
    assert h.history["learning_rate"] == pytest.approx(
        [0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.02, 0.02])
    assert model.optimizer.learning_rate == pytest.approx(0.02)     # floored at min_lr
    # an improvement larger than min_delta resets the wait
    model = FakeModel()
    rl = cb.ReduceLROnPlateau(factor=0.5, patience=2, min_delta=0.05)
    h = fit(model, epochs=6, callbacks=[rl], val=seq([1.0, 0.99, 0.9, 0.89, 0.88, 0.8]))
    assert h.history["learning_rate"] == pytest.approx([0.1] * 5 + [0.05])
    with pytest.raises(ValueError, match="factor"):
        cb.ReduceLROnPlateau(factor=2.0)


def test_csv_logger(tmp_path):
    path = tmp_path / "log.csv"
    fit(FakeModel(), epochs=3, callbacks=[cb.CSVLogger(str(path))], val=seq([0.9, 0.8, 0.7]))
    rows = list(csv.DictReader(open(path)))
    assert list(rows[0]) == ["epoch", "accuracy", "loss", "val_loss"]
    assert [r["epoch"] for r in rows] == ["0", "1", "2"]
    assert [float(r["val_loss"]) for r in rows] == [0.9, 0.8, 0.7]
    fit(FakeModel(), epochs=2, callbacks=[cb.CSVLogger(str(path), append=True)],
        val=seq([0.6, 0.5]))
    lines = path.read_text().splitlines()
    assert len(lines) == 6 and lines[0].startswith("epoch,")          # one header
    path2 = tmp_path / "semi.csv"
    logger = cb.CSVLogger(str(path2), separator=";")
    fit(FakeModel(), epochs=2, callbacks=[logger],
        val=lambda e: {"loss": 0.5} if e == 0 else {})                 # val_loss missing later
    lines = path2.read_text().splitlines()
    assert lines[0] == "epoch;accuracy;loss;val_loss" and lines[2].endswith(";NA")
    assert logger.csv_file.closed


def test_csv_logger_flushes_every_epoch(tmp_path):
    path = tmp_path / "live.csv"
    sizes = []
    spy = cb.LambdaCallback(on_epoch_end=lambda e, logs: sizes.append(len(path.read_text())))
    fit(FakeModel(), epochs=3, callbacks=[cb.CSVLogger(str(path)), spy])
    assert sizes[0] > 0 and sizes[0] < sizes[1] < sizes[2]


def test_terminate_on_nan_names_epoch_and_batch(capsys):
    model = FakeModel()
    ended = []
    t = cb.TerminateOnNaN()
    h = fit(model, epochs=5, steps=4, callbacks=[t, cb.LambdaCallback(
        on_train_end=lambda logs: ended.append(True))],
        batch_loss=lambda e, b: float("nan") if (e, b) == (1, 2) else 0.5)
    assert model.stop_training and ended == [True]
    assert (t.epoch, t.batch) == (1, 2) and len(h.epoch) == 2
    out = capsys.readouterr().out
    assert t.message in out
    assert "Epoch 2/5" in t.message and "epoch index 1" in t.message
    assert "batch index 2" in t.message
    t = cb.TerminateOnNaN(raise_error=True)
    with pytest.raises(RuntimeError, match="batch index 0"):
        fit(FakeModel(), epochs=2, callbacks=[t], batch_loss=lambda e, b: float("inf"))


def test_lambda_callback_and_callback_list():
    calls = []
    lam = cb.LambdaCallback(on_epoch_begin=lambda e, logs: calls.append(("begin", e)),
                            on_epoch_end=lambda e, logs: calls.append(("end", e, logs["loss"])),
                            on_train_batch_end=lambda b, logs: calls.append(("batch", b)),
                            on_test_end=lambda logs: calls.append(("test", logs["loss"])))
    fit(FakeModel(), epochs=1, steps=2, callbacks=[lam], val=seq([0.3]))
    assert calls == [("begin", 0), ("batch", 0), ("batch", 1), ("test", 0.3),
                     ("end", 0, pytest.approx(1 / 1.5))]
    with pytest.raises(ValueError, match="on_epoch_ending"):
        cb.LambdaCallback(on_epoch_ending=print)
    with pytest.raises(ValueError, match="Callback instances"):
        cb.CallbackList([print])

    class Legacy(cb.Callback):                  # Keras's on_batch_end alias still fires
        n = 0

        def on_batch_end(self, batch, logs=None):
            Legacy.n += 1
    fit(FakeModel(), epochs=2, steps=3, callbacks=[Legacy()])
    assert Legacy.n == 6
    given = cb.History()
    lst = cb.CallbackList([given, [cb.TerminateOnNaN()]], add_history=True, add_progbar=True)
    assert lst.history is given and len(lst) == 3 and isinstance(lst.callbacks[-1],
                                                                  cb.ProgbarLogger)


# ---------------------------------------------------------------------------------------------
# Progress display
# ---------------------------------------------------------------------------------------------
LINE = re.compile(r"^Epoch (\d+)/3 - \d+\.\d\ds - loss: \d\.\d{4} - accuracy: \d\.\d{4}"
                  r" - val_loss: \d\.\d{4}$")


@pytest.mark.parametrize("verbose", [1, 2, "auto"])
def test_progbar_prints_one_line_per_epoch_when_not_a_terminal(capsys, verbose):
    fit(FakeModel(), epochs=3, steps=5, verbose=verbose, val=seq([0.9, 0.8, 0.7]))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3, lines
    assert [int(LINE.match(line).group(1)) for line in lines] == [1, 2, 3]
    assert lines[2].endswith("val_loss: 0.7000")


def test_progbar_silent_at_verbose_0_and_shows_lr_and_small_values(capsys):
    fit(FakeModel(), epochs=2, verbose=0, val=seq([0.9, 0.8]))
    assert capsys.readouterr().out == ""
    fit(FakeModel(), epochs=1, verbose=2, callbacks=[cb.LearningRateScheduler(
        lambda e, lr: 1e-5)], val=seq([0.5]))
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "learning_rate: 1.0000e-05" in out
    fit(FakeModel(), epochs=2, verbose=0, callbacks=[cb.ProgbarLogger(verbose=2)])
    assert len(capsys.readouterr().out.splitlines()) == 2          # its own verbose wins


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_progbar_uses_tqdm_on_a_terminal_or_when_forced(capsys):
    pytest.importorskip("tqdm")
    tty = FakeTTY()
    fit(FakeModel(), epochs=2, steps=3, verbose=1, callbacks=[cb.ProgbarLogger(stream=tty)],
        val=seq([0.9, 0.8]))
    out = tty.getvalue()
    assert "\r" in out and "Epoch 1/2" in out and "Epoch 2/2" in out and "3/3" in out
    assert "loss: " in out and "val_loss: 0.8000" in out
    fit(FakeModel(), epochs=2, steps=3, verbose=1, callbacks=[cb.ProgbarLogger(bar=True)],
        val=seq([0.9, 0.8]))
    out = capsys.readouterr().out                 # not a terminal, bar forced
    assert "3/3" in out and "val_loss: 0.8000" in out and "step" in out
    fit(FakeModel(), epochs=2, steps=3, verbose=2, callbacks=[cb.ProgbarLogger(stream=tty)])
    assert tty.getvalue().count("\n") >= 2        # verbose=2: lines even on a terminal
    assert tty.getvalue().splitlines()[-1].startswith("Epoch 2/2 - ")


def test_progbar_evaluate_and_predict_outside_fit(capsys):
    lst = cb.CallbackList([], add_progbar=True, model=FakeModel(), verbose=1, epochs=1, steps=2)
    lst.on_test_begin()
    for b in range(2):
        lst.on_test_batch_end(b, {"loss": 0.25})
    lst.on_test_end({"loss": 0.25, "accuracy": 0.75})
    lst.on_predict_begin()
    for b in range(2):
        lst.on_predict_batch_end(b, {"outputs": np.zeros(3)})
    lst.on_predict_end()
    lines = capsys.readouterr().out.splitlines()
    assert re.match(r"^Evaluate 2/2 - \d+\.\d\ds - loss: 0\.2500 - accuracy: 0\.7500$", lines[0])
    assert re.match(r"^Predict 2/2 - \d+\.\d\ds$", lines[1]) and len(lines) == 2
