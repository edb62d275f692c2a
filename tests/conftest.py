"""Fixtures shared by the test modules."""
import pytest


@pytest.fixture(scope="module")
def jax():
    """JAX in float64, the test-only reference of the complex, fft and transform tests."""
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return jax
