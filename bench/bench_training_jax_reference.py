"""The reference example (examples/keras_reference.py) written directly in JAX: same data sizes, MLP
20-64-64-3 softmax, MSE, Adam(1e-3, ε 1e-7, Keras's formula), batch 32, 50 epochs, last 20 % held out
and evaluated each epoch with loss and accuracy, per-epoch log line, then evaluate and predict.
One jit'd training step; used by bench/bench_training.py to time the whole script, imports included."""
import numpy as np

import jax
import jax.numpy as jnp

num_samples, num_features, num_classes = 1000, 20, 3
X = np.random.rand(num_samples, num_features).astype(np.float32)
Y = np.eye(num_classes, dtype=np.float32)[np.random.randint(num_classes, size=num_samples)]
n_tr = num_samples - int(num_samples * 0.2)
Xtr, Ytr, Xva, Yva = X[:n_tr], Y[:n_tr], X[n_tr:], Y[n_tr:]
LR, B1, B2, EPS = 1e-3, 0.9, 0.999, 1e-7

rng = np.random.default_rng()
params = []
for fi, fo in [(num_features, 64), (64, 64), (64, num_classes)]:
    lim = np.sqrt(6.0 / (fi + fo))
    params += [jnp.asarray(rng.uniform(-lim, lim, (fi, fo)).astype(np.float32)), jnp.zeros(fo, jnp.float32)]
params = tuple(params)


def forward(p, x):
    h = jax.nn.relu(x @ p[0] + p[1])
    h = jax.nn.relu(h @ p[2] + p[3])
    return jax.nn.softmax(h @ p[4] + p[5], axis=-1)


def loss_fn(p, x, y):
    pr = forward(p, x)
    return jnp.mean((pr - y) ** 2), pr


def metrics(pr, y):
    return jnp.mean(jnp.argmax(pr, 1) == jnp.argmax(y, 1))


@jax.jit
def train_step(p, m, v, t, x, y):
    (l, pr), g = jax.value_and_grad(loss_fn, has_aux=True)(p, x, y)
    t = t + 1
    alpha = LR * jnp.sqrt(1 - B2 ** t) / (1 - B1 ** t)
    m = tuple(mi + (gi - mi) * (1 - B1) for mi, gi in zip(m, g))
    v = tuple(vi + (gi * gi - vi) * (1 - B2) for vi, gi in zip(v, g))
    p = tuple(pi - alpha * mi / (jnp.sqrt(vi) + EPS) for pi, mi, vi in zip(p, m, v))
    return p, m, v, t, l, metrics(pr, y)


@jax.jit
def eval_step(p, x, y):
    l, pr = loss_fn(p, x, y)
    return l, metrics(pr, y)


def evaluate(p, x, y, batch=32):
    tot = acc = 0.0
    for s in range(0, len(x), batch):
        l, a = eval_step(p, x[s:s + batch], y[s:s + batch])
        n = len(x[s:s + batch])
        tot += float(l) * n
        acc += float(a) * n
    return tot / len(x), acc / len(x)


m = tuple(jnp.zeros_like(w) for w in params)
v = tuple(jnp.zeros_like(w) for w in params)
t = jnp.zeros((), jnp.float32)
for epoch in range(50):
    order = rng.permutation(n_tr)
    losses, accs = [], []
    for s in range(0, n_tr, 32):
        idx = order[s:s + 32]
        params, m, v, t, l, a = train_step(params, m, v, t, Xtr[idx], Ytr[idx])
        losses.append(l)
        accs.append(a)
    vl, va = evaluate(params, Xva, Yva)
    print(f"Epoch {epoch + 1}/50 - loss: {float(np.mean(jax.device_get(losses))):.4f} - accuracy: "
          f"{float(np.mean(jax.device_get(accs))):.4f} - val_loss: {vl:.4f} - val_accuracy: {va:.4f}")

loss, accuracy = evaluate(params, X, Y)
print(f'Loss: {loss}, Accuracy: {accuracy}')
predictions = np.asarray(jax.jit(forward)(params, X[:5]))
print(f'Predictions: {predictions}')
