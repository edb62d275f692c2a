"""``keras.optimizers``."""
from ..optimizers import SGD, Adagrad, Adam, AdamW, Lion, Nadam, Optimizer, RMSprop, get, schedules  # noqa: F401
