"""A batched, shuffled tf.data pipeline with validation data."""
# expect: none
import keras
import numpy as np
import tensorflow as tf

keras.utils.set_random_seed(0)
rng = np.random.default_rng(111)
x = rng.normal(size=(512, 6)).astype("float32")
y = (x[:, 0] - x[:, 1] > 0).astype("float32")
train = tf.data.Dataset.from_tensor_slices((x[:400], y[:400])).shuffle(400).batch(32)
val = tf.data.Dataset.from_tensor_slices((x[400:], y[400:])).batch(64)
model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
model.fit(train, validation_data=val, epochs=10, verbose=0)
