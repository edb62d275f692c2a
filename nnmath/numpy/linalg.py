"""``nnmath.numpy.linalg``: differentiable linear algebra (numpy.linalg's names and semantics).

Rules, conventions (symmetric and Hermitian input, repeated eigenvalues, norms at 0) and
references are in :mod:`nnmath.numpy._linalg`; general eigenproblems in :mod:`._eig`, composites
(norms, cond, matrix_power, multi_dot, lstsq) in :mod:`._linalg_composites`.
"""
from ._eig import EigResult, eig, eigvals  # noqa: F401
from ._linalg_composites import (  # noqa: F401
    cond, lstsq, matrix_norm, matrix_power, multi_dot, norm, vector_norm,
)
from ._linalg import (  # noqa: F401
    EighResult, LinAlgError, LstsqResult, QRResult, SlogdetResult, SVDResult, cholesky, det,
    diagonal, eigh, eigvalsh, inv, matmul, matrix_rank, matrix_transpose, outer, pinv, qr,
    slogdet, solve, svd, svdvals, tensordot, tensorinv, tensorsolve, trace, vecdot,
)

__all__ = [
    "EigResult", "EighResult", "LinAlgError", "LstsqResult", "QRResult", "SlogdetResult", "SVDResult",
    "cholesky", "cond", "det", "diagonal", "eig", "eigh", "eigvals", "eigvalsh", "inv", "lstsq",
    "matmul", "matrix_norm", "matrix_power", "matrix_rank", "matrix_transpose", "multi_dot",
    "norm", "outer", "pinv", "qr", "slogdet", "solve", "svd", "svdvals", "tensordot", "tensorinv",
    "tensorsolve", "trace", "vecdot", "vector_norm",
]
