"""Which install each part of tfclinic needs, and the one line that says so when it is missing.

``pip install tfclinic`` is the core: what a notebook imports and the checkup. The extras add
the rest (``pyproject.toml``): ``validate`` the terminal self-check, ``course`` the book,
release, workshop, collect and the grader, ``cluster`` Dask. A command whose extra is missing
ends with one line naming the install command, never a traceback (:func:`missing_extra`).
"""

# The extra each command needs beyond the core install; commands not listed need none.
COMMAND_EXTRAS = {
    "validate": "validate",
    "book": "course",
    "release": "course",
    "workshop": "course",
    "collect": "course",
    "grade": "course",
}

# What each extra brings, in words, for the message.
EXTRA_PURPOSE = {
    "validate": "the notebook runner (nbclient)",
    "course": "the course tools (nbgrader, Jupyter Book)",
    "cluster": "Dask distributed",
}


def install_command(extra):
    """The pip command that adds ``extra``, quoted for any shell.

    Example:
        >>> install_command("course")
        'pip install "tfclinic[course]"'
    """
    return f'pip install "tfclinic[{extra}]"'


def missing_extra(command, error):
    """The one-line message for ``error``, a ``ModuleNotFoundError`` raised by ``command``.

    Args:
        command: the subcommand that was running (``"grade"``).
        error: the ``ModuleNotFoundError``.

    Returns:
        The message, or ``None`` when the missing module is part of tfclinic itself (a bug to
        report, not an install to complete).
    """
    module = (error.name or "").split(".")[0]
    if not module or module == "tfclinic":
        return None
    extra = COMMAND_EXTRAS.get(command)
    if extra == "course" and module in ("dask", "distributed"):
        extra = "cluster"
    if extra is None:
        return (f"`tfclinic {command}` needs the Python module {module!r}, which is not "
                f"installed here: pip install {module}")
    return (f"`tfclinic {command}` needs {EXTRA_PURPOSE[extra]}, not installed here (no module "
            f"{module!r}): {install_command(extra)}")
