"""``keras.models``."""
from ..training import Functional, Input, Model, Sequential, load_model  # noqa: F401
