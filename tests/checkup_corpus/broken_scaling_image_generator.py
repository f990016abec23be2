"""uint8 images through ImageDataGenerator without rescale, into a small CNN."""
# expect: scaling
import keras
import numpy as np
from tensorflow.keras.preprocessing.image import ImageDataGenerator

rng = np.random.default_rng(19)
n = 160
ids = rng.integers(0, 2, n)
images = rng.integers(0, 80, (n, 16, 16, 1)).astype("uint8")
images[ids == 1, 4:12, 4:12, :] = 250
flow = ImageDataGenerator(horizontal_flip=True).flow(images, ids.astype("float32"), batch_size=32)
model = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                          keras.layers.Flatten(), keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.SGD(0.01), loss="binary_crossentropy")
model.fit(flow, epochs=2, verbose=0)
