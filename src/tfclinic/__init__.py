"""tfclinic: why isn't my TensorFlow model training?

The folders say which install each part belongs to. The modules here and ``checkup/`` and
``sandbox/`` are the core, ``pip install tfclinic``: what a notebook imports (``runtime``,
``data``, ``plots``, ``training``, ``leakage``), the checkup, ``doctor``, ``validate`` (with
the ``validate`` extra) and the command line. ``course/`` (book, release, workshop, collect)
and ``grading/`` (the grader) need ``pip install "tfclinic[course]"``.

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
