"""Issue 9 part B: confusion-count metrics, Precision/Recall options, AUC, MAPE against
scikit-learn (and real Keras 3 where sklearn has no equivalent); metrics subclassed as Keras users
write them; the callbacks added or hardened (evaluate/predict hooks, BackupAndRestore,
TensorBoard, TerminateOnNaN, EarlyStopping)."""
from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

from nnmath.training import metrics as mt

skm = pytest.importorskip("sklearn.metrics")

R = np.random.default_rng(0)
N = 300
Y = R.integers(0, 2, N)
P = np.clip(Y * 0.3 + R.random(N) * 0.7, 0, 1)
W = R.random(N) + 0.1


def run(metric, y, p, w=None, split=3):
    metric.reset_state()
    for idx in np.array_split(np.arange(len(y)), split):
        metric.update_state(y[idx], p[idx], None if w is None else w[idx])
    return metric.result()


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("threshold", [0.5, 0.3, 0.8])
def test_confusion_counts_against_sklearn(weighted, threshold):
    w = W if weighted else None
    tn, fp, fn, tp = skm.confusion_matrix(Y, P > threshold, sample_weight=w).ravel()
    for cls, ref in [(mt.TruePositives, tp), (mt.FalsePositives, fp), (mt.TrueNegatives, tn),
                     (mt.FalseNegatives, fn)]:
        assert run(cls(thresholds=threshold), Y, P, w) == pytest.approx(ref, rel=1e-12)
    got = run(mt.TruePositives(thresholds=[0.8, threshold]), Y, P, w)
    assert isinstance(got, np.ndarray) and got[1] == pytest.approx(tp, rel=1e-12)
    assert run(mt.Precision(thresholds=threshold), Y, P, w) == pytest.approx(
        skm.precision_score(Y, P > threshold, sample_weight=w, zero_division=0), rel=1e-12)
    assert run(mt.Recall(thresholds=threshold), Y, P, w) == pytest.approx(
        skm.recall_score(Y, P > threshold, sample_weight=w), rel=1e-12)


def test_precision_recall_class_id_and_top_k():
    k = 4
    labels = R.integers(0, k, N)
    onehot = np.eye(k)[labels]
    scores = R.random((N, k)) + onehot * 0.4
    for c in range(k):
        ref_p = skm.precision_score(labels == c, scores[:, c] > 0.5)
        ref_r = skm.recall_score(labels == c, scores[:, c] > 0.5)
        assert run(mt.Precision(class_id=c), onehot, scores) == pytest.approx(ref_p, rel=1e-12)
        assert run(mt.Recall(class_id=c), onehot, scores) == pytest.approx(ref_r, rel=1e-12)
    # top_k=1: the argmax is the only positive → precision = recall = top-1 accuracy
    acc = np.mean(scores.argmax(1) == labels)
    assert run(mt.Precision(top_k=1), onehot, scores) == pytest.approx(acc, rel=1e-12)
    assert run(mt.Recall(top_k=1), onehot, scores) == pytest.approx(acc, rel=1e-12)
    keras = _keras()
    for kw in ({"top_k": 2}, {"top_k": 2, "class_id": 1}, {"class_id": 3, "thresholds": 0.7}):
        ref = keras.metrics.Precision(**kw)
        ref.update_state(onehot, scores)
        assert run(mt.Precision(**kw), onehot, scores, split=1) == pytest.approx(
            float(ref.result()), rel=1e-6), kw
    with pytest.raises(ValueError, match="class_id=7"):
        mt.Precision(class_id=7).update_state(onehot, scores)


def test_auc_against_sklearn_and_keras():
    exact = skm.roc_auc_score(Y, P, sample_weight=W)
    assert run(mt.AUC(exact=True), Y, P, W) == pytest.approx(exact, rel=1e-12)
    approx = run(mt.AUC(num_thresholds=1000), Y, P, W)
    assert approx == pytest.approx(exact, abs=2e-3)
    keras = _keras()
    ref = keras.metrics.AUC(num_thresholds=50)
    ref.update_state(Y, P, sample_weight=W)
    assert run(mt.AUC(num_thresholds=50), Y, P, W) == pytest.approx(float(ref.result()), rel=1e-5)


def test_mape_against_sklearn():
    y = R.random((N, 3)) + 0.5
    p = y + R.normal(size=y.shape) * 0.2
    got = run(mt.MeanAbsolutePercentageError(), y, p)
    assert got == pytest.approx(100 * skm.mean_absolute_percentage_error(y, p), rel=1e-10)
    got = run(mt.MeanAbsolutePercentageError(), y, p, W)
    per_sample = np.mean(np.abs(y - p) / np.abs(y), axis=1)
    assert got == pytest.approx(100 * np.average(per_sample, weights=W), rel=1e-10)
    assert mt.get("mape").name == "mape"
    assert isinstance(mt.get("mean_absolute_percentage_error"), mt.MeanAbsolutePercentageError)


# ---------------------------------------------------------------------------------------------
# Metrics written as Keras users write them
# ---------------------------------------------------------------------------------------------
class BinaryTruePositives(mt.Metric):
    """The Keras guide's example (``keras.io/api/metrics/#creating-custom-metrics``), numpy ops."""

    def __init__(self, name="binary_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(shape=(), initializer="zeros",
                                                name="true_positives")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = np.asarray(y_true).astype(bool).reshape(-1)
        y_pred = (np.asarray(y_pred) > 0.5).reshape(-1)
        values = np.logical_and(y_true, y_pred).astype("float64")
        if sample_weight is not None:
            values = values * np.broadcast_to(np.asarray(sample_weight, "float64"), values.shape)
        self.true_positives.assign(self.true_positives + np.sum(values))

    def result(self):
        return self.true_positives


class MeanOfSquares(mt.Metric):
    """State made with add_weight (name first), an own reset_state, a vector variable."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.total = self.add_weight("total", initializer="zeros")
        self.count = self.add_weight(name="count", shape=(2,))

    def update_state(self, y_true, y_pred, sample_weight=None):
        d = (np.asarray(y_true) - np.asarray(y_pred)) ** 2
        self.total.assign_add(d.sum())
        self.count.assign_add([d.size, 1])

    def result(self):
        return self.total / self.count[0]

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(np.zeros(2))


def test_keras_style_metric_subclasses():
    m = BinaryTruePositives()
    assert run(m, Y, P, W) == pytest.approx(float(np.sum(W * ((Y == 1) & (P > 0.5)))), rel=1e-12)
    assert [v.name for v in m.variables] == ["true_positives"]
    m.reset_state()
    assert float(m.result()) == 0.0
    s = MeanOfSquares(name="sq")
    assert float(run(s, P, Y.astype(float))) == pytest.approx(np.mean((P - Y) ** 2))
    assert s.count.numpy()[1] == 3


def test_keras_style_metrics_in_fit_and_evaluate():
    from nnmath.nn.layers import Dense
    from nnmath.training import Sequential
    x = R.normal(size=(64, 3))
    y = (x[:, :1] > 0).astype(float)
    model = Sequential([Dense(1, activation="sigmoid", input_dim=3)])
    model.compile(optimizer="adam", loss="binary_crossentropy",
                  metrics=[BinaryTruePositives(), mt.TruePositives(name="tp"), "mape",
                           mt.Precision(), mt.AUC()])
    hist = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert set(hist.history) >= {"loss", "binary_true_positives", "tp", "mape", "precision", "auc"}
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    pred = model.predict(x)
    assert logs["binary_true_positives"] == pytest.approx(float(np.sum((y == 1) & (pred > 0.5))))
    assert logs["tp"] == logs["binary_true_positives"]


_KERAS = {}


def _keras():
    if "k" not in _KERAS:
        os.environ.setdefault("KERAS_BACKEND", "jax")
        jax = pytest.importorskip("jax")
        jax.config.update("jax_enable_x64", True)
        keras = pytest.importorskip("keras")
        if keras.backend.backend() != "jax":
            pytest.skip("real Keras is loaded with another backend")
        _KERAS["k"] = keras
    return _KERAS["k"]


# ---------------------------------------------------------------------------------------------
# Callbacks
# ---------------------------------------------------------------------------------------------
from nnmath.training import callbacks as cb  # noqa: E402


def _model(seed=0):
    from nnmath.nn.layers import Dense
    from nnmath.training import Sequential, set_random_seed
    set_random_seed(seed)
    model = Sequential([Dense(4, activation="tanh", input_dim=3), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model


XS = np.random.default_rng(1).normal(size=(40, 3))
YS = XS[:, :1] * 2 - XS[:, 1:2]


class Recorder(cb.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []


def _recording(hook):
    def method(self, *args, **kwargs):
        self.calls.append((hook, args[0] if args and not isinstance(args[0], dict) else None))
    return method


for _hook in cb.HOOKS:
    setattr(Recorder, _hook, _recording(_hook))


def test_callback_list_for_evaluate_and_predict():
    """The CallbackList side of ``evaluate(callbacks=…)`` / ``predict(callbacks=…)``: driven as
    the hook in model.py is to drive it (see the report)."""
    model = _model()
    rec = Recorder()
    cbl = cb.CallbackList.for_loop([rec], model, verbose=0, steps=2)
    assert cbl.params["steps"] == 2 and rec.params["steps"] == 2 and rec.model is model
    assert cbl.has_test_batch_hooks and cbl.has_predict_batch_hooks
    assert cb.CallbackList.for_loop(cbl, model) is cbl           # fit's list, for validation
    cbl.on_test_begin()
    for step in range(2):
        cbl.on_test_batch_begin(step)
        cbl.on_test_batch_end(step, {"loss": 1.0})
    cbl.on_test_end({"loss": 1.0})
    assert [c[0] for c in rec.calls] == ["on_test_begin", "on_test_batch_begin",
                                         "on_test_batch_end", "on_test_batch_begin",
                                         "on_test_batch_end", "on_test_end"]
    assert not cb.CallbackList([cb.History()]).has_predict_batch_hooks


def test_evaluate_and_predict_take_callbacks():
    model = _model()
    rec = Recorder()
    model.evaluate(XS, YS, callbacks=[rec], verbose=0, batch_size=16)
    model.predict(XS, callbacks=[rec], batch_size=16)
    assert rec.calls == ([("on_test_begin", None)]
                         + [(h, b) for b in range(3)
                            for h in ("on_test_batch_begin", "on_test_batch_end")]
                         + [("on_test_end", None), ("on_predict_begin", None)]
                         + [(h, b) for b in range(3)
                            for h in ("on_predict_batch_begin", "on_predict_batch_end")]
                         + [("on_predict_end", None)])


class Interrupt(cb.Callback):
    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at:
            raise KeyboardInterrupt("simulated pre-emption")


def test_backup_and_restore(tmp_path):
    backup = str(tmp_path / "backup")
    model = _model()
    with pytest.raises(KeyboardInterrupt):
        model.fit(XS, YS, epochs=5, verbose=0, callbacks=[cb.BackupAndRestore(backup), Interrupt(2)])
    saved = [w.copy() for w in model.get_weights()]
    opt = {k: np.array(v) for k, v in model.optimizer.flat_state().items()}
    assert os.path.exists(os.path.join(backup, "latest.nnmath.npz"))
    fresh = _model(seed=7)
    restore = cb.BackupAndRestore(backup)
    fresh._ensure_optimizer()
    restore.set_model(fresh)
    restore.on_train_begin()
    assert restore.restored_epoch == 3 and fresh._initial_epoch == 3      # epochs 0, 1, 2 done
    for a, b in zip(fresh.get_weights(), saved):
        np.testing.assert_array_equal(a, b)
    for k, v in fresh.optimizer.flat_state().items():
        np.testing.assert_array_equal(v, opt[k])
    restore.on_train_end()
    assert not os.path.exists(backup)
    with pytest.raises(ValueError, match="save_freq=0"):
        cb.BackupAndRestore(backup, save_freq=0)


def test_backup_and_restore_resumes_fit(tmp_path):
    """With the model.py hook (fit starts at model._initial_epoch) a resumed run equals an
    uninterrupted one."""
    backup = str(tmp_path / "b")
    ref = _model()
    ref.fit(XS, YS, epochs=4, verbose=0, shuffle=False)
    model = _model()
    with pytest.raises(KeyboardInterrupt):
        model.fit(XS, YS, epochs=4, verbose=0, shuffle=False,
                  callbacks=[cb.BackupAndRestore(backup), Interrupt(1)])
    again = _model(seed=3)
    h = again.fit(XS, YS, epochs=4, verbose=0, shuffle=False, callbacks=[cb.BackupAndRestore(backup)])
    assert h.epoch == [2, 3]
    for a, b in zip(again.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_tensorboard_without_writer_warns_once(monkeypatch, tmp_path):
    from nnmath.training.callbacks import loggers
    monkeypatch.setattr(loggers, "_summary_writer_class", lambda: None)
    model = _model()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        model.fit(XS, YS, epochs=2, verbose=0, callbacks=[cb.TensorBoard(str(tmp_path))])
    msgs = [str(x.message) for x in w if "TensorBoard" in str(x.message)]
    assert len(msgs) == 1 and "pip install tensorboard" in msgs[0]


def test_tensorboard_writes_scalars(monkeypatch, tmp_path):
    from nnmath.training.callbacks import loggers
    written = []

    class Writer:
        def __init__(self, path):
            self.path = path

        def add_scalar(self, tag, value, step):
            written.append((os.path.basename(self.path), tag, step, value))

        def flush(self):
            pass

        def close(self):
            pass
    monkeypatch.setattr(loggers, "_summary_writer_class", lambda: Writer)
    model = _model()
    h = model.fit(XS, YS, epochs=2, verbose=0, validation_split=0.25,
                  callbacks=[cb.TensorBoard(str(tmp_path), update_freq="batch")])
    assert ("train", "epoch_loss", 1, h.history["loss"][1]) in written
    assert ("validation", "epoch_loss", 0, h.history["val_loss"][0]) in written
    assert any(t == "batch_loss" for _, t, _, _ in written)

    class Broken(Writer):
        def add_scalar(self, *a):
            raise OSError("disk full")
    monkeypatch.setattr(loggers, "_summary_writer_class", lambda: Broken)
    with pytest.warns(UserWarning, match="disk full"):
        model.fit(XS, YS, epochs=2, verbose=0, callbacks=[cb.TensorBoard(str(tmp_path))])


def test_terminate_on_nan_is_recorded_in_history():
    model = _model()
    y = YS.copy()
    y[30:] = np.inf
    try:
        h = model.fit(XS, y, epochs=3, batch_size=10, verbose=0, shuffle=False,
                      callbacks=[cb.TerminateOnNaN()])
    except ValueError:          # fit refuses non-finite targets up front: make the loss explode
        big = _model()
        big.optimizer.learning_rate = 1e12
        h = big.fit(XS, YS * 1e30, epochs=3, batch_size=10, verbose=0, shuffle=False,
                    callbacks=[cb.TerminateOnNaN()])
    stop = h.stopped_by
    assert stop["callback"] == "TerminateOnNaN" and stop["batch"] is not None
    assert stop["epoch"] == h.epoch[-1]


def test_early_stopping_missing_key_and_patience():
    model = _model()
    with pytest.warns(UserWarning, match=r"val_acc.*available metrics are: loss"):
        model.fit(XS, YS, epochs=1, verbose=0, callbacks=[cb.EarlyStopping(monitor="val_acc",
                                                                             mode="max")])
    with pytest.raises(ValueError, match="patience=-1"):
        cb.EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match="patience=-2"):
        cb.ReduceLROnPlateau(patience=-2)
    h = model.fit(XS, YS, epochs=30, verbose=0, callbacks=[cb.EarlyStopping(
        monitor="loss", patience=0, min_delta=10.0)])
    assert h.stopped_by["callback"] == "EarlyStopping" and h.stopped_by["epoch"] == 1


# ---------------------------------------------------------------------------------------------
# Data checks (nnmath/training/data.py): Keras's errors
# ---------------------------------------------------------------------------------------------
def _classifier():
    from nnmath.nn.layers import Dense
    from nnmath.training import Sequential
    model = Sequential([Dense(3, activation="softmax", input_dim=2)])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model


def test_class_weight_keys():
    model = _classifier()
    x = np.random.default_rng(0).normal(size=(9, 2))
    y = np.arange(9) % 3
    for cw, match in [({"0": 1.0, 1: 1.0, 2: 1.0}, "are not integers"),
                      ({0.5: 1.0, 1: 1.0, 2: 1.0}, "are not integers"),
                      ({-1: 1.0, 0: 1, 1: 1, 2: 1}, r"keys \[-1\] name no class"),
                      ({0: "a", 1: 1, 2: 1}, r"class_weight\[0\]='a'"),
                      ([1.0, 2.0], "must be a dict")]:
        with pytest.raises(ValueError, match=match):
            model.fit(x, y, class_weight=cw, epochs=1, verbose=0)
    onehot = np.eye(3)[y]
    model2 = _classifier()
    model2.compile(optimizer="sgd", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match=r"number of classes \(3\).*keys \[5\]"):
        model2.fit(x, onehot, class_weight={0: 1, 1: 1, 2: 1, 5: 2}, epochs=1, verbose=0)
    model.fit(x, y, class_weight={0: 1, 1: 2, 2: 0.5, 7: 1}, epochs=1, verbose=0)  # absent class 7


def test_string_ragged_and_list_inputs():
    model = _classifier()
    y = np.array([0, 1])
    with pytest.raises(ValueError, match="strings"):
        model.fit(np.array([["a", "b"], ["c", "d"]]), y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="ragged"):
        model.fit([[1.0, 2.0], [3.0]], y, epochs=1, verbose=0)
    x = np.ones((2, 2))
    with pytest.raises(ValueError, match="expects 1 input, but it received 2"):
        model.fit([x, x], y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="expects 1 input, but it received 2"):
        model.predict([x, x])
    model.fit([[1.0, 2.0], [3.0, 4.0]], y, epochs=1, verbose=0)      # nested lists: one input
    model.fit([x], y, epochs=1, verbose=0)                              # [x]: one input
