"""``nnmath.extend``: declare primitives of your own, with their derivative and batching rules.

A primitive is a numpy function nnmath treats as one step: it calls the function on plain values,
and uses the rules declared with it when the value is being differentiated (``grad``, ``vjp``,
``jvp``, ``hessian``, ``check_grads``), vectorised (``vmap``) or recorded (``jit``). Write the
rules with ``nnmath.numpy`` so that they can be differentiated again (higher orders for free).

Declarations (each is the one statement that defines a primitive):
    defprimitive   the general form: impl, one VJP and one JVP rule per positional argument
                   (None where not differentiable), a batching rule, ``saves``
    elementwise    y = f(x) elementwise, from f′(x) given as ``deriv(y, x)``
    elementwise2   y = f(a, b) elementwise, from ∂f/∂a and ∂f/∂b; broadcasting undone for you
    elementwise_n  the same for any number of operands
    linear         y linear in its first argument: give the transpose; the JVP follows
    bilinear       y = f(a, b) linear in each (matmul, multiply, einsum): give the transposes
    nondifferentiable  a function whose derivative is zero (floor, argmax, comparisons)

Helpers for rules: ``safe_mul`` (ȳ ⊙ d with 0 · ∞ = 0), ``primal_value`` (derivative levels
stripped: for masks and branch choices), ``strip_tracers`` (every level stripped, for choosing
between exact formulas), ``concrete_value`` (the numbers, for error messages), ``Variadic``.

Example: softplus y = ln(1 + eˣ), declared by a user, f′(x) = σ(x) = 1 − e^(−y).

>>> import numpy as np, nnmath as nm, nnmath.numpy as mnp
>>> from nnmath.extend import elementwise
>>> my_softplus = elementwise("my_softplus", lambda x: np.logaddexp(0.0, x),
...                           lambda y, x: 1.0 - mnp.exp(-y))
>>> x = np.array([-1.0, 0.0, 2.0])
>>> nm.grad(lambda x: mnp.sum(my_softplus(x)))(x)          # σ(x)
array([0.26894142, 0.5       , 0.88079708])
>>> float(nm.hessian(lambda x: mnp.sum(my_softplus(x)))(x)[1, 1])   # σ′(0) = ¼
0.25
>>> nm.vmap(my_softplus)(x[:, None]).shape, nm.jit(my_softplus)(x).round(4)
((3, 1), array([0.3133, 0.6931, 2.1269]))
>>> nm.check_grads(my_softplus, (x,), order=2)
"""
from ._core.declare import BATCH_STRUCTURES, SAVES, Variadic, defprimitive
from ._core.primitive import Primitive
from .numpy._helpers import (bilinear, concrete_value, elementwise, elementwise2, elementwise_n,
                             linear, nondifferentiable, primal_value, safe_mul, strip_tracers)

__all__ = ["defprimitive", "elementwise", "elementwise2", "elementwise_n", "linear", "bilinear",
           "nondifferentiable", "safe_mul", "primal_value", "strip_tracers", "concrete_value",
           "Variadic", "Primitive", "SAVES", "BATCH_STRUCTURES"]
