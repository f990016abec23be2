"""Build the online book with Jupyter Book 1: every chapter executed, warnings are errors."""

import os
import subprocess
import sys
from pathlib import Path

from .errors import TfclinicError
from .runtime import quiet_environment


def jupyter_book_command(source, output=None):
    """The ``jupyter-book build`` command line for ``source`` (a folder with ``_config.yml``)."""
    executable = Path(sys.executable).with_name("jupyter-book")
    command = [str(executable), "build", str(source), "--warningiserror", "--keep-going"]
    if output is not None:
        command += ["--path-output", str(output)]
    return command


def build(project, output=None, echo=True):
    """Build ``book/`` of ``project`` to HTML and return the path of ``index.html``.

    Args:
        project: the tfclinic checkout.
        output: folder that receives ``_build/``; the book folder itself by default.
        echo: stream Jupyter Book's progress to the terminal; otherwise capture it.

    Raises:
        TfclinicError: when the build fails: a chapter raised an error it was not tagged to
            raise, a cell timed out, or Sphinx reported a warning.
    """
    source = Path(project) / "book"
    env = {**os.environ, **quiet_environment(), "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    done = subprocess.run(jupyter_book_command(source, output), env=env, text=True,
                          capture_output=not echo)
    if done.returncode != 0:
        detail = "" if echo else "\n" + (done.stdout + done.stderr)[-4000:]
        raise TfclinicError(f"the book did not build (exit {done.returncode}); "
                            "the messages above say which chapter and why." + detail)
    return Path(output or source) / "_build" / "html" / "index.html"
