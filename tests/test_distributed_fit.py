"""Data-parallel fit/evaluate/predict (issue 13): ``mpiexec -n 2`` and ``-n 3`` runs follow the
single-process trajectory, ranks stay identical, only rank 0 writes, a failing rank ends the job
with a clear message within seconds, and the argument errors are clear.

The MPI runs are subprocesses (``nnmath.distributed.mpiexec``: MPICH's mpiexec beside the
interpreter, one BLAS thread per rank); the reference is the same script run by plain Python
(one process: MPIDataParallel().size == 1, so fit takes its ordinary path)."""
from __future__ import annotations

import os
import sys
import textwrap
import time

import numpy as np
import pytest

pytest.importorskip("mpi4py")
from nnmath.distributed import (MissingExtraError, MPIDataParallel, mpiexec,  # noqa: E402
                                mpiexec_path)
from nnmath.training import distribution as tdist  # noqa: E402

try:
    mpiexec_path()
except MissingExtraError:                                   # pragma: no cover
    pytest.skip("mpiexec is not installed", allow_module_level=True)

TIMEOUT = 120

# One script, three uses: plain Python (the single-process reference), mpiexec -n 2, -n 3.
_TRAIN = textwrap.dedent("""
    import sys, numpy as np
    from nnmath.keras import callbacks, layers, models, utils
    from nnmath.distributed import MPIDataParallel
    out, kind = sys.argv[1], sys.argv[2]
    dist = MPIDataParallel()
    rng = np.random.default_rng(1)
    x = rng.normal(size=(100, 5)); y = rng.integers(0, 3, 100)
    utils.set_random_seed(0)
    model = models.Sequential([layers.Dense(16, activation="tanh", input_shape=(5,),
                                            dtype="float64"),
                               layers.Dense(3, activation="softmax", dtype="float64")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    kw = {}
    if kind == "equal":          # 80 samples, batch 20: 4 steps per epoch, 5 epochs = 20 steps
        kw = dict(x=x[:80], y=y[:80], batch_size=20, epochs=5)
    else:                        # batch 26 of 80: shards 9/9/8, a last batch of 2 (one rank empty)
        sw = rng.uniform(0.5, 2.0, 100)
        kw = dict(x=x, y=y, batch_size=26, epochs=3, validation_split=0.2, sample_weight=sw,
                  class_weight={0: 1.0, 1: 2.0, 2: 0.5},
                  callbacks=[callbacks.CSVLogger(out + ".csv"),
                             callbacks.EarlyStopping("val_loss")])
    hist = model.fit(verbose=0, distribution=dist, **kw)
    ev = model.evaluate(x, y, batch_size=17, verbose=0, return_dict=True, distribution=dist)
    pred = model.predict(x, batch_size=23, distribution=dist)
    np.savez(f"{out}.rank{dist.rank}.npz", w=model.flat_params, pred=pred,
             ev=np.array(list(ev.values())),
             **{"h_" + k: np.array(v) for k, v in hist.history.items()})
    if dist.is_chief:
        print("collectives", dist.num_collectives)
""")


def _run_train(tmp_path, kind: str, ranks: int):
    script = tmp_path / "train.py"
    script.write_text(_TRAIN)
    ref = str(tmp_path / "ref")
    import subprocess
    r = subprocess.run([sys.executable, str(script), ref, kind], capture_output=True, text=True,
                       timeout=TIMEOUT, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert r.returncode == 0, r.stderr
    out = str(tmp_path / "mpi")
    r = mpiexec(ranks, [sys.executable, str(script), out, kind], timeout=TIMEOUT)
    assert r.returncode == 0, r.stdout + r.stderr
    ref_csv = os.path.exists(ref + ".csv") and open(ref + ".csv").read()
    return (np.load(ref + ".rank0.npz"), [np.load(f"{out}.rank{k}.npz") for k in range(ranks)],
            r.stdout, ref_csv, out)


def _assert_follows(ref, runs, tol):
    for key in ref.files:
        np.testing.assert_allclose(runs[0][key], ref[key], rtol=0, atol=tol, err_msg=key)
    for other in runs[1:]:                     # the optimizer stepped identically everywhere
        for key in ref.files:
            np.testing.assert_array_equal(other[key], runs[0][key], err_msg=key)


def test_two_ranks_equal_shards_follow_single_process(tmp_path):
    ref, runs, stdout, _, _ = _run_train(tmp_path, "equal", 2)
    _assert_follows(ref, runs, 1e-10)
    assert len(ref["h_loss"]) == 5 and "h_accuracy" in ref.files
    # 20 fit steps + 6 evaluate batches + 5 predict batches: one collective each
    assert "collectives 31" in stdout


def test_three_ranks_unequal_shards_weights_and_validation(tmp_path):
    ref, runs, _, ref_csv, out = _run_train(tmp_path, "unequal", 3)
    _assert_follows(ref, runs, 1e-10)
    assert "h_val_loss" in ref.files
    # only rank 0 writes (CSVLogger is left out on the others; it writes the same log)
    assert open(out + ".csv").read().splitlines()[0] == ref_csv.splitlines()[0]
    assert len(open(out + ".csv").read().splitlines()) == len(ref_csv.splitlines())


_STATEFUL = textwrap.dedent("""
    import sys, numpy as np
    from nnmath.keras import layers, models, utils
    from nnmath.distributed import MPIDataParallel
    dist = MPIDataParallel()
    utils.set_random_seed(dist.rank)      # different seeds: rank 0's weights and shuffling win
    model = models.Sequential([layers.Dense(8, activation="relu", input_shape=(4,)),
                               layers.BatchNormalization(), layers.Dropout(0.3), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32"); y = x[:, :1] ** 2
    model.fit(x, y, batch_size=16, epochs=2, verbose=1, distribution=dist)
    w = np.concatenate([np.ravel(v) for v in model.get_weights()])
    ws = dist.comm.allgather(w)
    assert all(np.array_equal(v, ws[0]) for v in ws), "ranks diverged"
    if dist.comm.allreduce(1) == dist.size and dist.is_chief:   # every rank got here
        print("identical on", dist.size, "ranks")
""")


def test_batchnorm_dropout_ranks_stay_identical_and_only_rank0_prints(tmp_path):
    script = tmp_path / "stateful.py"
    script.write_text(_STATEFUL)
    r = mpiexec(2, [sys.executable, str(script)], timeout=TIMEOUT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("identical on 2 ranks") == 1
    assert r.stdout.count("Epoch 1/2") == 1            # the progress line on rank 0 only


_CRASH = textwrap.dedent("""
    import sys, numpy as np
    import nnmath.numpy as mnp
    from nnmath.keras import callbacks, layers, models, utils
    from nnmath.distributed import MPIDataParallel
    dist = MPIDataParallel()
    mode, calls = sys.argv[1], [0]
    def loss(y, p):
        calls[0] += 1
        if dist.rank == 1 and (mode == "first" or (mode == "step" and calls[0] == 3)):
            raise FloatingPointError("injected failure")
        return mnp.mean((y - p) ** 2)
    class Bad(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if dist.rank == 1:
                raise RuntimeError("callback failed on rank 1")
    utils.set_random_seed(0)
    model = models.Sequential([layers.Dense(1, input_shape=(3,), dtype="float64")])
    model.compile(optimizer="sgd", loss=loss, run_eagerly=True)
    model.fit(np.ones((40, 3)), np.ones((40, 1)), batch_size=8, epochs=50, verbose=0,
              distribution=dist, callbacks=[Bad()] if mode == "callback" else None)
    print("finished")
""")


@pytest.mark.parametrize("mode, expected", [
    ("step", "fit: rank 1 of 2 raised during step 3 (FloatingPointError: injected failure); "
             "every rank stops"),
    ("first", "nnmath: rank 1 of 2 raised FloatingPointError: injected failure in the first "
              "gradient_step of fit; ending all 2 ranks"),
    ("callback", "nnmath: rank 1 of 2 raised RuntimeError: callback failed on rank 1 during fit"),
], ids=["in-a-step", "first-step", "in-a-callback"])
def test_a_failing_rank_ends_the_job_with_a_clear_message(tmp_path, mode, expected):
    script = tmp_path / "crash.py"
    script.write_text(_CRASH)
    t = time.perf_counter()
    r = mpiexec(2, [sys.executable, str(script), mode], timeout=TIMEOUT)
    elapsed = time.perf_counter() - t
    assert r.returncode != 0
    assert expected in r.stderr, r.stderr
    assert "finished" not in r.stdout
    assert elapsed < 30, f"the job took {elapsed:.1f} s to end"
    if mode == "step":                 # rank 0 names the failing rank too
        assert "fit: rank 1 of 2 raised during step 3 (its traceback is on that rank's " \
               "stderr)" in r.stderr


def test_mpiexec_missing_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingExtraError, match=r"pip install 'nnmath\[mpi\]'"):
        mpiexec_path()
    with pytest.raises(ValueError, match="n must be a positive integer, got 0"):
        mpiexec(0, ["true"])


class _TwoRanks(tdist.Distribution):
    """Two ranks whose transport must not be reached (the checks below fail before it)."""
    rank, size = 0, 2

    def allreduce_sum(self, buf):
        raise AssertionError("no collective expected")

    broadcast = broadcast_object = allreduce_sum


def _model():
    from nnmath.keras import layers, models, utils
    utils.set_random_seed(0)
    m = models.Sequential([layers.Dense(2, input_shape=(3,))])
    return m


def test_argument_errors_are_clear_and_raised_before_any_collective():
    m = _model()
    m.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((4, 3)), np.ones((4, 2))
    with pytest.raises(TypeError, match="fit: distribution must be a Distribution .* got 3"):
        m.fit(x, y, verbose=0, distribution=3)
    with pytest.raises(TypeError, match="set_distribution: expected a Distribution"):
        tdist.set_distribution("mpi")
    from nnmath.keras import layers, losses, models
    m.compile(optimizer="sgd", loss=losses.MeanSquaredError(reduction="none"))
    with pytest.raises(ValueError, match="reduction='none' returns per-sample values"):
        m.fit(x, y, verbose=0, distribution=_TwoRanks())

    class Custom(models.Sequential):
        def train_step(self, data):
            return super().train_step(data)
    c = Custom([layers.Dense(2, input_shape=(3,))])
    c.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="does not run an overridden train_step"):
        c.fit(x, y, verbose=0, distribution=_TwoRanks())


def test_set_distribution_applies_and_one_process_is_unchanged():
    from nnmath import keras
    x = np.random.default_rng(0).normal(size=(8, 3))
    y = x[:, :2]
    a = _model()                                # seeds weights and shuffling
    a.compile(optimizer="sgd", loss="mse")
    a.fit(x, y, batch_size=4, epochs=2, verbose=0)
    b = _model()
    b.compile(optimizer="sgd", loss="mse")
    single = MPIDataParallel()                  # not under mpiexec: one rank
    assert (single.rank, single.size, single.is_chief) == (0, 1, True)
    keras.distribution.set_distribution(single)
    try:
        assert keras.distribution.distribution() is single
        b.fit(x, y, batch_size=4, epochs=2, verbose=0)
    finally:
        keras.distribution.set_distribution(None)
    np.testing.assert_array_equal(a.flat_params, b.flat_params)
    assert single.num_collectives == 0
    tdist.set_distribution(_TwoRanks())         # the global one reaches fit (and is checked)
    try:
        b.compile(optimizer="sgd", loss=keras.losses.MeanSquaredError(reduction="none"))
        with pytest.raises(ValueError, match="fit: a loss with reduction='none'"):
            b.fit(x, y, verbose=0)
    finally:
        tdist.set_distribution(None)
