"""Callbacks with Keras 3 semantics: hooks that ``fit``, ``evaluate`` and ``predict`` call.

``fit`` drives them as Keras does (``keras/src/trainers``)::

    callbacks = CallbackList(user_callbacks, add_history=True, add_progbar=verbose != 0,
                             model=model, verbose=verbose, epochs=epochs, steps=steps)
    model.stop_training = False
    callbacks.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        callbacks.on_epoch_begin(epoch)
        for step, batch in enumerate(batches):
            callbacks.on_train_batch_begin(step)      # batch hooks and their logs only when some
            logs = train_step(batch)                  # callback overrides one (as Keras); logs:
            callbacks.on_train_batch_end(step, logs)  # running means {'loss': …, 'accuracy': …}
            if model.stop_training:
                break
        epoch_logs = dict(logs)                       # plus 'val_loss', 'val_accuracy', … from
        callbacks.on_epoch_end(epoch, epoch_logs)     # validation (on_test_* hooks, silent)
        if model.stop_training:
            break
    callbacks.on_train_end(epoch_logs)
    return callbacks.history

Epochs and batches are 0-based in the hooks; printed messages say ``Epoch {epoch + 1}`` like Keras.
The progress display is itself a callback (:class:`ProgbarLogger`), added last so that it sees
what other callbacks put in the logs (``learning_rate``).

The model interface the callbacks use: ``model.stop_training`` (bool),
``model.optimizer.learning_rate`` (a settable float), ``model.get_weights()`` /
``model.set_weights(weights)``, ``model.save(path)``, ``model.save_weights(path)``, and optionally
``model.metrics`` (objects with ``name`` and ``direction``, for ``mode='auto'``) and
``model.metrics_names`` (for CSVLogger's columns).

Modules: ``base`` (Callback, CallbackList, History), ``progbar`` (ProgbarLogger), ``monitor``
(EarlyStopping, ModelCheckpoint, LearningRateScheduler, ReduceLROnPlateau), ``loggers``
(CSVLogger, TensorBoard, TerminateOnNaN, LambdaCallback), ``backup`` (BackupAndRestore).

References: Keras 3 ``keras/src/callbacks/*.py``.
"""
from .backup import BackupAndRestore
from .base import HOOKS, Callback, CallbackList, History
from .loggers import CSVLogger, LambdaCallback, TensorBoard, TerminateOnNaN
from .monitor import (
    EarlyStopping,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
)
from .progbar import ProgbarLogger

__all__ = [
    "Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping", "ModelCheckpoint",
    "LearningRateScheduler", "ReduceLROnPlateau", "CSVLogger", "TensorBoard", "TerminateOnNaN",
    "LambdaCallback", "BackupAndRestore", "HOOKS",
]
