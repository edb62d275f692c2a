"""``nnmath.numpy.linalg``: differentiable linear algebra (numpy.linalg's names)."""
from ._linalg import norm  # noqa: F401
