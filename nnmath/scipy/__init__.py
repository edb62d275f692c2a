"""``nnmath.scipy``: differentiable versions of scipy functions (scipy's names)."""
from . import linalg  # noqa: F401
from . import special  # noqa: F401
from . import stats  # noqa: F401
