# The reference Keras example (examples/keras_reference.py) for Keras 3, imports changed back:
# `nnmath.keras` → `keras` (Keras 3, run with KERAS_BACKEND=jax). Used by bench/bench_training.py to time
# the whole script, imports included. Not a project dependency: run it with a python that has keras.
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np

from keras.models import Sequential
from keras.layers import Dense, Activation, Input
from keras.optimizers import Adam
from keras.losses import MeanSquaredError
from keras.utils import to_categorical

num_samples = 1000
num_features = 20
num_classes = 3
X = np.random.rand(num_samples, num_features)
Y = to_categorical(np.random.randint(num_classes, size=num_samples), num_classes)

model = Sequential()
model.add(Input((num_features,)))          # Keras 3 has no input_dim; same model
model.add(Dense(64))
model.add(Activation('relu'))
model.add(Dense(64))
model.add(Activation('relu'))
model.add(Dense(num_classes))
model.add(Activation('softmax'))
model.compile(optimizer=Adam(learning_rate=0.001), loss=MeanSquaredError(), metrics=['accuracy'])
model.fit(X, Y, epochs=50, batch_size=32, validation_split=0.2)
loss, accuracy = model.evaluate(X, Y)
print(f'Loss: {loss}, Accuracy: {accuracy}')
predictions = model.predict(X[:5])
print(f'Predictions: {predictions}')
