"""tfclinic: why isn't my TensorFlow model training?

The package is light to import: TensorFlow is only loaded by the modules that need it
(`tfclinic.runtime.begin`, the lessons' own code), so the command line starts quickly.
"""

__version__ = "0.1.0"
