"""``nnmath.numpy.linalg``: differentiable linear algebra (numpy.linalg's names and semantics).

Rules, conventions (symmetric input, repeated eigenvalues, norms at 0) and references are in
:mod:`nnmath.numpy._linalg`.
"""
from ._linalg import (  # noqa: F401
    EighResult, LinAlgError, LstsqResult, QRResult, SlogdetResult, SVDResult, cholesky, cond, det,
    diagonal, eig, eigh, eigvals, eigvalsh, inv, lstsq, matmul, matrix_norm, matrix_power,
    matrix_rank, matrix_transpose, multi_dot, norm, outer, pinv, qr, slogdet, solve, svd, svdvals,
    tensordot, tensorinv, tensorsolve, trace, vecdot, vector_norm,
)

__all__ = [
    "EighResult", "LinAlgError", "LstsqResult", "QRResult", "SlogdetResult", "SVDResult",
    "cholesky", "cond", "det", "diagonal", "eig", "eigh", "eigvals", "eigvalsh", "inv", "lstsq",
    "matmul", "matrix_norm", "matrix_power", "matrix_rank", "matrix_transpose", "multi_dot",
    "norm", "outer", "pinv", "qr", "slogdet", "solve", "svd", "svdvals", "tensordot", "tensorinv",
    "tensorsolve", "trace", "vecdot", "vector_norm",
]
