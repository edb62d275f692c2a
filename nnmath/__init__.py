"""nnmath: the mathematics of neural networks, executable, checkable and fast."""
from ._core.batching import vmap
from ._core.custom import custom_jvp, custom_vjp, stop_gradient
from ._core.jit import ConcretizationError, jit
from ._core.transforms import grad, jvp, value_and_grad, vjp
from ._core.tree import tree_flatten, tree_leaves, tree_map, tree_structure, tree_unflatten
from . import numpy  # noqa: F401  (attaches array behaviour to traced values)
from . import scipy  # noqa: F401
from . import nn  # noqa: F401
from ._gradcheck import check_grads
from ._transforms import hessian, hvp, jacfwd, jacobian, jacrev, linearize
from ._ravel import ravel_pytree
from . import extend  # noqa: F401  (nnmath.extend: user-declared primitives)

__version__ = "0.1.0"

__all__ = [
    "vmap", "jit", "ConcretizationError", "check_grads", "hessian", "hvp", "jacfwd", "jacobian", "jacrev", "linearize", "custom_jvp", "custom_vjp", "grad", "jvp", "stop_gradient", "tree_flatten", "tree_leaves",
    "tree_map", "ravel_pytree", "tree_structure", "tree_unflatten", "value_and_grad", "vjp",
]
