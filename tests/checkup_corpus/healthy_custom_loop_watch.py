"""A GradientTape loop hooked with tfclinic.checkup.watch."""
# expect: none
import keras
import numpy as np
import tensorflow as tf

import tfclinic.checkup

keras.utils.set_random_seed(0)
rng = np.random.default_rng(115)
x = rng.normal(size=(256, 4)).astype("float32")
y = (x[:, :1] + x[:, 1:2] > 0).astype("float32")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dense(1)])
loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)
model.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss_fn)
optimizer = model.optimizer
for epoch in range(6):
    for start in range(0, 256, 32):
        xb, yb = x[start:start + 32], y[start:start + 32]
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, model(xb, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        tfclinic.checkup.watch(model, xb, yb, loss)
