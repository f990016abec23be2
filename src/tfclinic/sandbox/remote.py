"""Objects that stay in the student process: the grader reads their attributes there.

A handle the student process sends back (a closure, a History, a model the grader cannot
rebuild, such as one with the student's own layer class) becomes a ``StudentObject``. Test code
uses it as it uses the object in a notebook: ``model.fit(x, y)``, ``model(x)``,
``float(model.optimizer.learning_rate)``. Each call and each public attribute read is one
request that runs in the student process (``attribute`` there) and brings back data or
another handle, so the grader still never receives student code.
"""

from .student import StudentFunction


class StudentObject(StudentFunction):
    """A student object held by handle: calling it and reading its public attributes run in
    the student process. Private and special names are not forwarded, so NumPy and Python
    protocols (``__array__``, ``__len__``...) see a plain object here."""

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        found, value = self._process.call(["library", __name__, "attribute"], [self, name], {})
        if not found:  # the reason is the student's text: within a test, only the name
            raise AttributeError(name if self._process.withholding else value)
        return value


def attribute(value, name):
    """In the student process: ``(True, value.name)``, or ``(False, why)`` when there is none."""
    try:
        return True, getattr(value, name)
    except AttributeError as error:
        return False, str(error)
