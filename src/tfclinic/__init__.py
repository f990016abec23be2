"""tfclinic: why isn't my TensorFlow model training?

The package is light to import: TensorFlow is only loaded by the modules that need it
(`tfclinic.runtime.begin`, the lessons' own code), so the command line starts quickly.
"""

__version__ = "0.1.0"


def __getattr__(name):
    """Load ``tfclinic.checkup`` on first use, so ``import tfclinic`` stays light."""
    if name == "checkup":
        import importlib

        return importlib.import_module(".checkup", __name__).checkup
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
