# The Keras example from the reference document "Decoding the Matrix: The Advanced Mathematics of
# Neural Networks" (shared/reference/000_04f4d0753d73dbbe.txt), unchanged except for its imports:
# `tensorflow.keras` → `nnmath.keras`, and `import tensorflow as tf` → `import nnmath as tf`
# (the script never uses `tf`).
import numpy as np

import nnmath as tf

from nnmath.keras.models import Sequential

from nnmath.keras.layers import Dense, Activation

from nnmath.keras.optimizers import Adam

from nnmath.keras.losses import MeanSquaredError

from nnmath.keras.utils import to_categorical

# Generate dummy data

num_samples = 1000

num_features = 20

num_classes = 3

# Input data (X) and one-hot encoded output data (Y)

X = np.random.rand(num_samples, num_features)

Y = to_categorical(np.random.randint(num_classes, size=num_samples), num_classes)

# Define the model

model = Sequential()

# Input layer and first hidden layer

model.add(Dense(64, input_dim=num_features))

model.add(Activation('relu')) # Non-linear activation function

# Second hidden layer

model.add(Dense(64))

model.add(Activation('relu'))

# Output layer

model.add(Dense(num_classes))

model.add(Activation('softmax')) # Output probabilities

# Compile the model

model.compile(optimizer=Adam(learning_rate=0.001),

loss=MeanSquaredError(), # Mean Squared Error loss function

metrics=['accuracy'])

# Train the model

model.fit(X, Y, epochs=50, batch_size=32, validation_split=0.2)

# Evaluate the model

loss, accuracy = model.evaluate(X, Y)

print(f'Loss: {loss}, Accuracy: {accuracy}')

# Make predictions

predictions = model.predict(X[:5])

print(f'Predictions: {predictions}')
