"""The analysis foundation: ravel_pytree, as_objective's three forms and batch weighting, and the
Hessian / GGN / Fisher operators — each against a dense matrix built independently."""
import numpy as np
import pytest
import scipy.sparse.linalg as sla

import nnmath as nm
import nnmath.numpy as mnp
from nnmath.analysis import (
    DenseTooLargeError,
    as_objective,
    fisher_operator,
    ggn_operator,
    hessian_matrix,
    hessian_operator,
)
from nnmath.keras import layers, regularizers
from nnmath.keras.models import Sequential
from nnmath.scipy.special import softmax


def _mlp(out=3, activation="softmax", reg=None, seed=0):
    from nnmath.keras.utils import set_random_seed
    set_random_seed(seed)
    return Sequential([
        layers.Dense(4, activation="tanh", input_dim=3, dtype="float64", kernel_regularizer=reg),
        layers.Dense(out, activation=activation, dtype="float64"),
    ])


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(23, 3))
    labels = rng.integers(0, 3, size=23)
    return x, labels, np.eye(3)[labels]


# ---------------------------------------------------------------------------------------------
# ravel_pytree
# ---------------------------------------------------------------------------------------------

def test_ravel_pytree_round_trip_keeps_shapes_and_dtypes():
    tree = {"b": np.arange(3, dtype=np.float32), "a": [np.ones((2, 2)), (np.array(7.0),)]}
    flat, unravel = nm.ravel_pytree(tree)
    assert flat.shape == (8,) and flat.dtype == np.float64
    back = unravel(flat)
    assert back["b"].dtype == np.float32 and back["a"][0].shape == (2, 2)
    np.testing.assert_array_equal(back["a"][1][0], 7.0)
    with pytest.raises(ValueError, match=r"expected a vector of shape \(8,\)"):
        unravel(np.zeros(7))


def test_ravel_pytree_matches_jax_order():
    jax = pytest.importorskip("jax")
    from jax.flatten_util import ravel_pytree as jax_ravel
    jax.config.update("jax_enable_x64", True)
    tree = {"w": np.arange(6.0).reshape(2, 3), "b": np.array([10.0, 11.0]), "c": [np.array(3.0)]}
    np.testing.assert_array_equal(nm.ravel_pytree(tree)[0], np.asarray(jax_ravel(tree)[0]))


def test_ravel_pytree_is_differentiable_both_ways():
    tree = {"w": np.array([[1.0, 2.0]]), "b": np.array([0.5])}
    flat, unravel = nm.ravel_pytree(tree)
    f = lambda v: mnp.sum(unravel(v)["w"] ** 2) * unravel(v)["b"][0]        # noqa: E731
    nm.check_grads(f, (flat,), order=2)
    g = nm.grad(lambda t: mnp.sum(nm.ravel_pytree(t)[0] ** 3))(tree)
    np.testing.assert_allclose(g["w"], 3 * tree["w"] ** 2)


# ---------------------------------------------------------------------------------------------
# as_objective
# ---------------------------------------------------------------------------------------------

def test_three_forms_give_the_same_loss_gradient_and_hvp(data):
    x, labels, onehot = data
    model = _mlp()
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    params = model.params
    flat, unravel = nm.ravel_pytree(params)

    def loss_fn(p):
        pr = model.apply(p, x)
        return -mnp.mean(mnp.sum(onehot * mnp.log(pr), axis=-1))
    objs = [as_objective(loss_fn, params),
            as_objective(model.apply, params, x=x, y=onehot, loss="categorical_crossentropy",
                         batch_size=5),
            as_objective(model, x=x, y=onehot, batch_size=7)]
    v = np.random.default_rng(1).normal(size=flat.size)
    ref_g = nm.grad(lambda t: loss_fn(unravel(t)))(flat)
    ref_hv = nm.hvp(lambda t: loss_fn(unravel(t)), (flat,), (v,))
    for obj in objs:
        assert obj.size == flat.size
        np.testing.assert_allclose(obj.value(), float(loss_fn(params)), rtol=1e-6)
        np.testing.assert_allclose(obj.grad_flat(), ref_g, rtol=1e-5, atol=1e-9)
        np.testing.assert_allclose(obj.hvp_flat(v), ref_hv, rtol=1e-5, atol=1e-9)
    assert objs[2].num_samples == 23 and len(objs[2].batches) == 4


def test_batches_weighted_with_sample_weights_and_regulariser(data):
    x, labels, _ = data
    model = _mlp(reg=regularizers.L2(0.03))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    sw = np.linspace(0.5, 2.0, len(x))
    params = model.params
    flat, unravel = nm.ravel_pytree(params)
    kernel_name = model.layers[0].name

    def full(t):
        p = unravel(t)
        pr = model.apply(p, x)
        nll = -mnp.log(mnp.take_along_axis(pr, labels[:, None], axis=1))[:, 0]
        return mnp.mean(nll * sw) + 0.03 * mnp.sum(p[kernel_name]["kernel"] ** 2)
    H_ref = nm.hessian(full)(flat)
    for bs in (4, 23, 100):
        obj = as_objective(model, x=x, y=labels, sample_weight=sw, batch_size=bs)
        np.testing.assert_allclose(obj.value(), float(full(flat)), rtol=1e-10)
        np.testing.assert_allclose(hessian_operator(obj).to_dense(), H_ref, atol=1e-10)


def test_batches_never_hold_more_than_batch_size_samples(data):
    x, _, onehot = data
    seen = []

    def apply_fn(w, xb):
        seen.append(xb.shape[0])
        return mnp.tanh(xb @ w)
    obj = as_objective(apply_fn, np.zeros((3, 3)), x=x, y=onehot, loss="mse", batch_size=6)
    obj.hvp_flat(np.ones(9))
    ggn_operator(obj) @ np.ones(9)
    assert max(seen) <= 6


def test_dtype_is_kept_unless_asked(data):
    x, labels, _ = data
    from nnmath.keras.utils import set_random_seed
    set_random_seed(0)
    model = Sequential([layers.Dense(2, input_dim=3), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    op = hessian_operator(model, x=x, y=labels)
    assert op.dtype == np.float32 and (op @ np.ones(op.shape[0], np.float32)).dtype == np.float32
    op64 = hessian_operator(model, x=x, y=labels, dtype=np.float64)
    assert op64.dtype == np.float64
    assert model.params[model.layers[0].name]["kernel"].dtype == np.float32     # model untouched
    np.testing.assert_allclose(op @ np.ones(op.shape[0], np.float32),
                               op64 @ np.ones(op.shape[0]), rtol=2e-3, atol=1e-4)


# ---------------------------------------------------------------------------------------------
# Curvature operators against dense matrices built independently
# ---------------------------------------------------------------------------------------------

def _jacobian_and_probs(model, x):
    flat, unravel = nm.ravel_pytree(model.params)
    J = nm.jacfwd(lambda t: model.apply(unravel(t), x))(flat)        # (n, k, P)
    return flat, unravel, J, model.apply(model.params, x)


def test_ggn_equals_jt_h_j(data):
    x, labels, onehot = data
    model = _mlp()
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    flat, unravel, J, p = _jacobian_and_probs(model, x)
    n = len(x)
    # ℓ = −(1/n) Σ yᵢ·log pᵢ  ⇒  ∂²ℓ/∂p² = diag(yᵢ/pᵢ²)/n per sample
    G_ref = sum(J[i].T @ np.diag(onehot[i] / p[i] ** 2) @ J[i] for i in range(n)) / n
    G = ggn_operator(model, x=x, y=onehot, batch_size=8).to_dense()
    np.testing.assert_allclose(G, G_ref, atol=1e-10)
    assert np.linalg.eigvalsh(G).min() > -1e-10                   # PSD for a convex loss


def test_ggn_equals_hessian_for_a_linear_model_with_l2():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(10, 4)), rng.normal(size=(10, 2))
    model = Sequential([layers.Dense(2, input_dim=4, dtype="float64",
                                     kernel_regularizer=regularizers.L2(0.1))])
    model.compile(optimizer="sgd", loss="mse")
    G = ggn_operator(model, x=X, y=Y, batch_size=3).to_dense()
    H = hessian_matrix(model, x=X, y=Y, batch_size=3)
    np.testing.assert_allclose(G, H, atol=1e-12)


@pytest.mark.parametrize("loss, logits", [("categorical_crossentropy", False),
                                          ("sparse_categorical_crossentropy", False),
                                          ("categorical_crossentropy", True)])
def test_true_fisher_is_the_expected_outer_product_of_scores(data, loss, logits):
    x, labels, onehot = data
    model = _mlp(activation=None if logits else "softmax")
    from nnmath.nn import losses as L
    loss_obj = (L.CategoricalCrossentropy(from_logits=True) if logits else loss)
    model.compile(optimizer="sgd", loss=loss_obj)
    y = labels if loss.startswith("sparse") else onehot
    flat, unravel = nm.ravel_pytree(model.params)

    def log_probs(t):
        out = model.apply(unravel(t), x)
        return out - mnp.log(mnp.sum(mnp.exp(out), axis=-1, keepdims=True)) if logits else mnp.log(out)
    scores = nm.jacrev(log_probs)(flat)                 # (n, C, P): ∇ log p(c | xᵢ)
    probs = np.exp(log_probs(flat))
    F_ref = np.einsum("nc,ncp,ncq->pq", probs, scores, scores) / len(x)
    F = fisher_operator(model, x=x, y=y, kind="true", batch_size=10).to_dense()
    np.testing.assert_allclose(F, F_ref, atol=1e-10)


def test_true_fisher_binary_crossentropy():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(15, 3)), rng.integers(0, 2, size=(15, 1)).astype(float)
    model = _mlp(out=1, activation="sigmoid")
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    flat, unravel, J, p = _jacobian_and_probs(model, x)
    # Bernoulli: F_out = 1/(p(1−p)) in probability space
    F_ref = sum(J[i].T @ np.diag(1 / (p[i] * (1 - p[i]))) @ J[i] for i in range(len(x))) / len(x)
    F = fisher_operator(model, x=x, y=y, kind="true").to_dense()
    np.testing.assert_allclose(F, F_ref, rtol=1e-6, atol=1e-10)


def test_empirical_fisher_equals_per_sample_gradient_outer_products(data):
    x, labels, _ = data
    model = _mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    flat, unravel = nm.ravel_pytree(model.params)

    def sample_loss(t, xi, yi):
        return -mnp.sum(yi * mnp.log(model.apply(unravel(t), xi[None])[0]))
    G = nm.vmap(nm.grad(sample_loss), in_axes=(None, 0, 0))(flat, x, np.eye(3)[labels])
    F = fisher_operator(model, x=x, y=labels, batch_size=6).to_dense()
    np.testing.assert_allclose(F, G.T @ G / len(x), atol=1e-10)


def test_operators_work_with_scipy_eigsh_and_cg(data):
    x, labels, _ = data
    model = _mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    op = ggn_operator(model, x=x, y=labels)
    dense = op.to_dense()
    top = sla.eigsh(op, k=2, which="LA", return_eigenvectors=False)
    np.testing.assert_allclose(np.sort(top), np.linalg.eigvalsh(dense)[-2:], rtol=1e-8)
    shifted = sla.aslinearoperator(op) + 0.1 * sla.aslinearoperator(np.eye(op.shape[0]))
    b = np.ones(op.shape[0])
    sol, info = sla.cg(shifted, b, rtol=1e-12, maxiter=500)
    assert info == 0
    np.testing.assert_allclose(sol, np.linalg.solve(dense + 0.1 * np.eye(op.shape[0]), b), rtol=1e-6)
    assert op.num_matvecs > 0


def test_matvec_tree_takes_and_returns_pytrees():
    params = {"a": np.array([1.0, 2.0]), "b": np.array(3.0)}
    H = hessian_operator(lambda p: mnp.sum(p["a"] ** 2) * p["b"], params)
    out = H.matvec_tree({"a": np.array([1.0, 0.0]), "b": np.array(0.0)})
    np.testing.assert_allclose(out["a"], [6.0, 0.0])
    np.testing.assert_allclose(out["b"], 2.0)


# ---------------------------------------------------------------------------------------------
# Bad input gets a clear error
# ---------------------------------------------------------------------------------------------

def test_errors_name_what_is_wrong(data):
    x, labels, _ = data
    with pytest.raises(ValueError, match="must return a scalar loss, got an array of shape"):
        hessian_operator(lambda w: w ** 2, np.ones(3))
    model = _mlp()
    with pytest.raises(RuntimeError, match="not compiled"):
        hessian_operator(model, x=x, y=labels)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="23 samples but y has 22"):
        hessian_operator(model, x=x, y=labels[:-1])
    with pytest.raises(ValueError, match="x has 23 samples but y has 20"):
        ggn_operator(lambda w, xb: xb @ w, np.zeros(3), x=x, y=np.zeros(20), loss="mse")
    with pytest.raises(ValueError, match="needs the model's outputs"):
        ggn_operator(lambda w: mnp.sum(w ** 2), np.ones(3))
    with pytest.raises(ValueError, match="kind must be 'empirical' or 'true'"):
        fisher_operator(model, x=x, y=labels, kind="exact")
    with pytest.raises(ValueError, match="negative log-likelihood"):
        fisher_operator(lambda w, xb: xb @ w, np.zeros(3), x=x, y=np.zeros(23), loss="mae",
                        kind="true")
    op = hessian_operator(model, x=x, y=labels)
    with pytest.raises(ValueError, match=f"expected a vector of {op.shape[0]} entries"):
        op.objective.hvp_flat(np.ones(3))
    with pytest.raises(ValueError, match="does not match the parameters"):
        op.matvec_tree({"nope": np.ones(3)})
    with pytest.raises(DenseTooLargeError, match=r"needs .*KiB; the limit is 100 B"):
        op.to_dense(max_bytes=100)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        hessian_operator(model, x=x, y=labels, batch_size=0)


def test_dense_refusal_names_the_memory_needed():
    op = hessian_operator(lambda w: mnp.sum(w ** 2), np.zeros(100_000))
    with pytest.raises(DenseTooLargeError, match=r"100,000 × 100,000 float64 .* needs 74.5 GiB"):
        op.to_dense()
