"""nnmath.distributed (issue 13, analysis half): the tools that are a map over independent jobs
give, through a local process pool, a Dask LocalCluster and MPIPoolExecutor, the serial result
bit for bit; curvature products over data sharded across MPI ranks (``mpiexec -n 2``, ``-n 3``)
equal the single-process ones.

One process pool and one Dask cluster serve the whole module (each start costs seconds)."""
from __future__ import annotations

import concurrent.futures as cf
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import nnmath.keras as keras
from nnmath.analysis import (deep_ensemble, hessian_diagonal, hessian_spectral_density,
                             hessian_trace, linear_interpolation, loss_slice_1d, loss_surface_2d,
                             mc_dropout_predict)
from nnmath.distributed import MissingExtraError, dask_executor, local_executor, shard_slice

cloudpickle = pytest.importorskip("cloudpickle")
cloudpickle.register_pickle_by_value(sys.modules[__name__])   # build_fn travels by value

HAVE_DASK = importlib.util.find_spec("distributed") is not None
HAVE_MPI4PY = importlib.util.find_spec("mpi4py") is not None


def _mpiexec() -> str | None:
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return beside if os.path.exists(beside) else shutil.which("mpiexec")


MPIEXEC = _mpiexec()
needs_mpi = pytest.mark.skipif(
    not (HAVE_MPI4PY and MPIEXEC),
    reason="mpi4py or mpiexec is not installed: pip install 'nnmath[mpi]' (mpi4py + mpich)")


def build(seed=0):
    """A small float64 MLP with dropout (every stochastic path is exercised)."""
    m = keras.Sequential([keras.Input((4,)),
                          keras.layers.Dense(8, activation="tanh", dtype="float64"),
                          keras.layers.Dropout(0.2), keras.layers.Dense(1, dtype="float64")])
    m.compile(optimizer="adam", loss="mse")
    return m


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 4))
    return x, np.sin(x[:, :1])


@pytest.fixture(scope="module")
def model(data):
    keras.utils.set_random_seed(0)
    m = build()
    m.fit(*data, epochs=2, verbose=0)
    return m


@pytest.fixture(scope="module")
def pool():
    with local_executor(2) as ex:
        yield ex


@pytest.fixture(scope="module")
def cluster():
    if not HAVE_DASK:
        pytest.skip("dask.distributed is not installed: pip install 'nnmath[dask]'")
    with dask_executor(2) as ex:
        yield ex


ENGINES = ["pool", "dask"]


@pytest.fixture(params=ENGINES)
def executor(request):
    return request.getfixturevalue("pool" if request.param == "pool" else "cluster")


# ------------------------------------------------------------------------------------ maps

def test_landscape_grids_bit_identical(executor, model, data):
    x, y = data
    grid = dict(x=x, y=y, alphas=np.linspace(-1, 1, 5), betas=np.linspace(-0.5, 0.5, 4),
                metric="mae", batch_size=20)
    serial = loss_surface_2d(model, **grid)
    par = loss_surface_2d(model, executor=executor, **grid)
    assert np.array_equal(serial.loss, par.loss) and np.array_equal(serial.metric, par.metric)
    assert serial.loss.shape == (5, 4) and par.cosine == serial.cosine
    line = dict(x=x, y=y, alphas=np.linspace(-1, 1, 7))
    assert np.array_equal(loss_slice_1d(model, **line).loss,
                          loss_slice_1d(model, executor=executor, **line).loss)
    other = build(1)
    other.fit(x, y, epochs=1, verbose=0)
    a = linear_interpolation(model, None, other, x=x, y=y, num=6)
    b = linear_interpolation(model, None, other, x=x, y=y, num=6, executor=executor)
    assert np.array_equal(a.loss, b.loss) and a.barrier == b.barrier


def test_ensemble_of_four_bit_identical(executor, data):
    x, y = data
    from nnmath.training.data import global_rng
    serial = deep_ensemble(build, x, y, num_models=4, epochs=2, batch_size=16)
    after_serial = global_rng().bit_generator.state        # the state the serial loop leaves
    par = deep_ensemble(build, x, y, num_models=4, epochs=2, batch_size=16, executor=executor)
    assert par.seeds == serial.seeds == [0, 1, 2, 3]
    assert np.array_equal(serial.prediction.member_means, par.prediction.member_means)
    for a, b in zip(serial.models, par.models):
        assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))
    assert [h.history for h in serial.histories] == [h.history for h in par.histories]
    assert global_rng().bit_generator.state == after_serial
    assert np.array_equal(par.predict(x[:5]).mean, serial.predict(x[:5]).mean)


def test_mc_dropout_bit_identical(executor, model, data):
    x, _ = data
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    serial = mc_dropout_predict(model, x, num_samples=9, seed=g1, batch_size=20)
    par = mc_dropout_predict(model, x, num_samples=9, seed=g2, batch_size=20, executor=executor)
    assert np.array_equal(serial.samples, par.samples)
    assert g1.bit_generator.state == g2.bit_generator.state       # the generator moved alike


def test_hutchinson_and_slq_probe_blocks_bit_identical(executor, model, data):
    x, y = data
    d = dict(x=x, y=y, batch_size=20)
    a, b = hessian_trace(model, num_samples=40, **d), hessian_trace(model, num_samples=40,
                                                                     executor=executor, **d)
    assert np.array_equal(a.samples, b.samples) and a.num_hvps == b.num_hvps == 40
    a = hessian_diagonal(model, num_samples=20, **d)
    b = hessian_diagonal(model, num_samples=20, executor=executor, **d)
    assert np.array_equal(a.diagonal_flat, b.diagonal_flat)
    assert np.array_equal(a.standard_error_flat, b.standard_error_flat)
    a = hessian_diagonal(model, exact=True, **d)
    assert np.array_equal(a.diagonal_flat,
                          hessian_diagonal(model, exact=True, executor=executor, **d).diagonal_flat)
    a = hessian_spectral_density(model, num_probes=3, lanczos_steps=12, **d)
    b = hessian_spectral_density(model, num_probes=3, lanczos_steps=12, executor=executor, **d)
    assert np.array_equal(a.nodes, b.nodes) and np.array_equal(a.density, b.density)


def test_a_plain_thread_pool_and_a_lambda_loss(model):
    """Any Executor: a ThreadPoolExecutor (workers share the process; each thread keeps its
    own rebuilt Objective), with a lambda loss (sent by value)."""
    import nnmath.numpy as mnp
    loss = lambda w: mnp.sum(mnp.tanh(w) ** 2 * np.arange(1.0, 7.0))     # noqa: E731
    with cf.ThreadPoolExecutor(2) as ex:
        a = loss_surface_2d(loss, np.ones(6), alphas=[-1.0, 0.0, 1.0], seed=1,
                            normalization=None, ignore=None)
        b = loss_surface_2d(loss, np.ones(6), alphas=[-1.0, 0.0, 1.0], seed=1,
                            normalization=None, ignore=None, executor=ex)
        assert np.array_equal(a.loss, b.loss)
        t = hessian_trace(loss, np.ones(6), num_samples=20, executor=ex)
        assert np.array_equal(t.samples, hessian_trace(loss, np.ones(6), num_samples=20).samples)


def test_errors_are_clear(model, data):
    x, y = data
    with pytest.raises(TypeError, match="concurrent.futures.Executor"):
        loss_slice_1d(model, x=x, y=y, executor="dask")
    lock = threading.Lock()

    def holds_a_lock(w):
        with lock:
            return (w ** 2).sum()
    with cf.ThreadPoolExecutor(1) as ex, pytest.raises(TypeError, match="cannot be sent"):
        hessian_trace(holds_a_lock, np.ones(3), num_samples=2, executor=ex)


def test_missing_extra_names_it(monkeypatch):
    import builtins
    real = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name.split(".")[0] == "distributed":
            raise ImportError("No module named 'distributed'")
        return real(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_dask)
    monkeypatch.delitem(sys.modules, "distributed", raising=False)
    with pytest.raises(MissingExtraError, match=r"pip install 'nnmath\[dask\]'"):
        dask_executor(1)


def test_local_executor_checks_its_arguments():
    with pytest.raises(ValueError, match="fork can deadlock"):
        local_executor(2, context="fork")
    with pytest.raises(ValueError, match="max_workers"):
        local_executor(0)


def test_shard_slices_cover_the_data():
    for n, p in ((10, 3), (7, 7), (5, 2), (3, 4)):
        slices = [shard_slice(n, rank=r, size=p) for r in range(p)]
        assert np.array_equal(np.concatenate([np.arange(n)[s] for s in slices]), np.arange(n))
        sizes = [s.stop - s.start for s in slices]
        assert max(sizes) - min(sizes) <= 1


# ------------------------------------------------------------------------------------ MPI

SHARDED = textwrap.dedent('''
    import json
    import numpy as np
    import nnmath.keras as keras
    from mpi4py import MPI
    from nnmath.analysis import as_objective, hessian_top_eigenvalues, hessian_trace
    from nnmath.distributed import MPIObjective, shard

    comm = MPI.COMM_WORLD
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((5,)),
        keras.layers.Dense(8, activation="tanh", dtype="float64",
                           kernel_regularizer=keras.regularizers.L2(1e-3)),
        keras.layers.Dense(3, dtype="float64")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.build((None, 5))
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(61, 5)), rng.integers(0, 3, size=61)
    xs, ys = shard(x, y)                                # unequal shards: 61 samples
    dist = MPIObjective(model, x=xs, y=ys, batch_size=16)
    single = as_objective(model, x=x, y=y, batch_size=16)
    v = np.random.default_rng(2).normal(size=dist.size)
    out = {}
    before = dist.num_allreduces
    (vd, gd), (vs, gs) = dist.value_and_grad_flat(), single.value_and_grad_flat()
    out["collectives"] = dist.num_allreduces - before
    out["value"], out["grad"] = abs(vd - vs), float(np.max(np.abs(gd - gs)))
    out["hvp"] = float(np.max(np.abs(dist.hvp_flat(v) - single.hvp_flat(v))))
    out["ggn"] = float(np.max(np.abs(dist.ggn_vp_flat(v) - single.ggn_vp_flat(v))))
    td, ts = (hessian_trace(o, num_samples=20, seed=3) for o in (dist, single))
    out["trace"] = [td.estimate, ts.estimate]
    out["trace_samples"] = float(np.max(np.abs(td.samples - ts.samples)))
    ed, es = (hessian_top_eigenvalues(o, k=2, seed=4) for o in (dist, single))
    out["eig"] = [ed.eigenvalues.tolist(), es.eigenvalues.tolist()]
    out["iterations"] = comm.allgather(ed.num_iterations)
    out["local"] = comm.allgather(dist.local_samples)
    out["num_samples"] = dist.num_samples
    if comm.rank == 0:
        print("RESULT " + json.dumps(out))
''')

POOL = textwrap.dedent('''
    import json
    import numpy as np
    import nnmath.keras as keras
    from nnmath.analysis import deep_ensemble, loss_surface_2d

    def build(seed):
        m = keras.Sequential([keras.Input((3,)),
                              keras.layers.Dense(6, activation="tanh", dtype="float64"),
                              keras.layers.Dense(1, dtype="float64")])
        m.compile(optimizer="adam", loss="mse")
        return m

    def main():
        from nnmath.distributed import mpi_executor
        rng = np.random.default_rng(0)
        x = rng.normal(size=(40, 3))
        y = np.sin(x[:, :1])
        model = build(0)
        model.fit(x, y, epochs=1, verbose=0)
        grid = dict(x=x, y=y, alphas=np.linspace(-1, 1, 4))
        surface = loss_surface_2d(model, **grid).loss
        members = deep_ensemble(build, x, y, num_models=4, epochs=2).prediction.member_means
        with mpi_executor() as ex:
            workers = ex.num_workers
            p_surface = loss_surface_2d(model, executor=ex, **grid).loss
            p_members = deep_ensemble(build, x, y, num_models=4, epochs=2,
                                      executor=ex).prediction.member_means
        print("RESULT " + json.dumps({
            "surface": bool(np.array_equal(surface, p_surface)),
            "ensemble": bool(np.array_equal(members, p_members)), "workers": workers}))

    if __name__ == "__main__":
        main()
''')


def _mpirun(tmp_path, script: str, args: list) -> dict:
    path = tmp_path / "job.py"
    path.write_text(script)
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([MPIEXEC] + args + [str(path)], capture_output=True, text=True,
                          timeout=120, env=env, cwd=tmp_path)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"mpiexec failed:\n{proc.stdout}\n{proc.stderr}"
    return json.loads(lines[0][len("RESULT "):])


@needs_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_sharded_curvature_equals_single_process(tmp_path, ranks):
    out = _mpirun(tmp_path, SHARDED, ["-n", str(ranks), sys.executable])
    assert out["collectives"] == 1                    # value and gradient in one Allreduce
    assert sum(out["local"]) == out["num_samples"] == 61 and len(out["local"]) == ranks
    assert out["value"] < 1e-12 and out["grad"] < 1e-12
    assert out["hvp"] < 1e-10 and out["ggn"] < 1e-10
    (td, ts), (ed, es) = out["trace"], out["eig"]
    assert abs(td - ts) <= 1e-12 * abs(ts) and out["trace_samples"] < 1e-9
    np.testing.assert_allclose(ed, es, rtol=1e-12)
    assert len(set(out["iterations"])) == 1           # every rank ran the same Lanczos


@needs_mpi
def test_mpi_pool_executor_bit_identical(tmp_path):
    out = _mpirun(tmp_path, POOL, ["-n", "3", sys.executable, "-m", "mpi4py.futures"])
    assert out == {"surface": True, "ensemble": True, "workers": 2}


@needs_mpi
def test_mpi_executor_outside_mpiexec_says_how_to_launch():
    code = ("from nnmath.distributed import mpi_executor\n"
            "try:\n    mpi_executor()\nexcept RuntimeError as e:\n    print(e)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert "python -m mpi4py.futures" in proc.stdout, proc.stderr
