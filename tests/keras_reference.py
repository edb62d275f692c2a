"""Real Keras 3 (PyPI ``keras``, test-only), the reference the Keras-API tests compare against.

Importing this module sets ``KERAS_BACKEND=jax`` unless already set; a test calls
:func:`real_keras` for the module, skipped when Keras is missing or on another backend.
"""
import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")


def real_keras():
    """The ``keras`` module on its JAX backend (skips the test otherwise)."""
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("these comparisons run on Keras's JAX backend")
    return keras
