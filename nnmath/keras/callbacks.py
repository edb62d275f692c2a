"""``keras.callbacks``."""
from ..training.callbacks import (  # noqa: F401
    BackupAndRestore, CSVLogger, Callback, CallbackList, EarlyStopping, History, LambdaCallback,
    LearningRateScheduler, ModelCheckpoint, ProgbarLogger, ReduceLROnPlateau, TensorBoard,
    TerminateOnNaN,
)
