"""``keras.utils``."""
from ..training.data import set_random_seed, to_categorical  # noqa: F401
