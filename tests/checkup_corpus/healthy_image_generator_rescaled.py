"""uint8 images through ImageDataGenerator(rescale=1/255) into a small CNN."""
# expect: none
import keras
import numpy as np
from tensorflow.keras.preprocessing.image import ImageDataGenerator

keras.utils.set_random_seed(0)
rng = np.random.default_rng(113)
n = 192
ids = rng.integers(0, 2, n)
images = rng.integers(0, 80, (n, 12, 12, 1)).astype("uint8")
images[ids == 1, 3:9, 3:9, :] = 250
flow = ImageDataGenerator(rescale=1 / 255, horizontal_flip=True).flow(
    images, ids.astype("float32"), batch_size=32, seed=0)
model = keras.Sequential([keras.Input((12, 12, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                          keras.layers.Flatten(), keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
model.fit(flow, epochs=6, verbose=0)
