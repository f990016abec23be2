"""A GradientTape loop, hooked with one line, whose learning rate is far too low."""
# expect: learning_rate
import keras
import numpy as np
import tensorflow as tf

import tfclinic.checkup

rng = np.random.default_rng(27)
x = rng.normal(size=(256, 4)).astype("float32")
y = (x[:, :1] > 0).astype("float32")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.SGD(1e-6),
              loss=keras.losses.BinaryCrossentropy(from_logits=True))
loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)
optimizer = model.optimizer
for epoch in range(4):
    for start in range(0, 256, 32):
        xb, yb = x[start:start + 32], y[start:start + 32]
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, model(xb, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        tfclinic.checkup.watch(model, xb, yb, loss)
