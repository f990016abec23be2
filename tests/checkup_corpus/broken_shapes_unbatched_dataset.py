"""A tf.data pipeline that was never batched: each element is one sample."""
# expect: shapes
import keras
import numpy as np
import tensorflow as tf

rng = np.random.default_rng(4)
x = rng.normal(size=(256, 6)).astype("float32")
y = (x[:, 0] > 0).astype("float32")
dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(256)
model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy")
model.fit(dataset, epochs=2, verbose=0)
