"""``keras.models``."""
from ..training import Model, Sequential, load_model  # noqa: F401
