"""``keras.callbacks``."""
from ..training.callbacks import (  # noqa: F401
    CSVLogger, Callback, CallbackList, EarlyStopping, History, LambdaCallback, LearningRateScheduler,
    ModelCheckpoint, ProgbarLogger, ReduceLROnPlateau, TerminateOnNaN,
)
