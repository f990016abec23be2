"""The one exception type for user mistakes: reported as a single line, exit status 2."""


class TfclinicError(Exception):
    """A problem the user can fix (a wrong path, an unknown lesson); never a bug in tfclinic."""
