"""A hand-written loss subtracts float predictions from int32 labels."""
# expect: dtypes
import keras
import numpy as np
import tensorflow as tf

rng = np.random.default_rng(9)
x = tf.constant(rng.normal(size=(64, 3)).astype("float32"))
y = tf.constant((rng.random((64, 1)) > 0.5).astype("int32"))
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
optimizer = keras.optimizers.Adam(0.01)
for step in range(20):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(y - model(x)))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
