"""Build the online book with Jupyter Book 1: every chapter executed, warnings are errors.

The public edition goes to ``book/_build/html``. A local build links within itself (relative
addresses); the publish build (``publish=True``, ``tfclinic book --publish``, what CI deploys to
GitHub Pages) first refuses a placeholder ``repository.url`` (:mod:`tfclinic.publishing`), then
sets the book's absolute address (Sphinx's ``html_baseurl``, and the checkup's links in the
chapters) and puts the tfclinic wheel the notebooks' setup cell installs in
``_static/wheels/``. The instructor edition
(``with_solutions=True``) adds each lesson's nbgrader source notebook, solutions and hidden
tests included, and goes to ``book/_build/instructor/_build/html``; it reuses the public
edition's execution cache, so chapters run once for both.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

from ..errors import TfclinicError
from ..project import lessons
from ..publishing import BOOK_URL_VARIABLE, check_publishable, project_urls, read_config
from ..runtime import quiet_environment
from .sphinx_lessons import EXECUTION_CACHE_VARIABLE, WITH_SOLUTIONS_VARIABLE

INSTRUCTOR_FOLDER = "instructor"
WHEELS_FOLDER = "_static/wheels"  # in the HTML folder: where the setup cell's wheel is published


def chapters(project):
    """The files listed in ``book/_toc.yml``, in reading order (the root page left out)."""
    toc = (Path(project) / "book" / "_toc.yml").read_text(encoding="utf-8")
    return re.findall(r"^\s*-\s*file:\s*(\S+)", toc, flags=re.MULTILINE)


def lesson_chapters(project):
    """The chapters of the book that are lessons (they have a notebook in ``solutions/``)."""
    known = set(lessons(project))
    return [chapter for chapter in chapters(project) if chapter in known]


def edition_folder(project, output=None, with_solutions=False):
    """The folder that receives ``_build/`` for an edition (``--path-output`` of jupyter-book)."""
    base = Path(output) if output is not None else Path(project) / "book"
    return base / "_build" / INSTRUCTOR_FOLDER if with_solutions else base


def jupyter_book_command(source, output=None):
    """The ``jupyter-book build`` command line for ``source`` (a folder with ``_config.yml``)."""
    executable = Path(sys.executable).with_name("jupyter-book")
    command = [str(executable), "build", str(source), "--warningiserror", "--keep-going"]
    if output is not None:
        command += ["--path-output", str(output)]
    return command


def build_wheel(project, folder, echo=True):
    """Build the tfclinic wheel of ``project`` into ``folder`` and return its path.

    pip builds it in an isolated environment with the build backend ``pyproject.toml`` names.

    Raises:
        TfclinicError: when pip cannot build it.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    before = set(folder.glob("tfclinic-*.whl"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                           "--disable-pip-version-check", "--wheel-dir", str(folder), str(project)],
                          text=True, capture_output=not echo)
    wheels = sorted(set(folder.glob("tfclinic-*.whl")) - before) or sorted(folder.glob("tfclinic-*.whl"))
    if done.returncode != 0 or not wheels:
        detail = "" if echo else ": " + (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise TfclinicError(f"pip could not build the tfclinic wheel (exit {done.returncode}){detail}")
    return wheels[-1]


def build(project, output=None, echo=True, with_solutions=False, publish=False):
    """Build ``book/`` of ``project`` to HTML and return the path of ``index.html``.

    Args:
        project: the tfclinic checkout.
        output: folder that receives ``_build/``; the book folder itself by default.
        echo: stream Jupyter Book's progress to the terminal; otherwise capture it.
        with_solutions: build the instructor edition into ``OUTPUT/_build/instructor``, with
            each lesson's solution notebook as a page; it shares the execution cache of the
            public edition in ``OUTPUT/_build/.jupyter_cache``.
        publish: build the edition to publish: refuse a placeholder ``repository.url``, use
            the book's absolute address, and add the wheel the setup cell installs.

    Raises:
        TfclinicError: when the build fails: a chapter raised an error it was not tagged to
            raise, a cell timed out, or Sphinx reported a warning.
    """
    source = Path(project) / "book"
    base = check_publishable(read_config(project), project_urls(project)) if publish else ""
    env = {**os.environ, **quiet_environment(), "PYDEVD_DISABLE_FILE_VALIDATION": "1",
           BOOK_URL_VARIABLE: base}
    env.pop(WITH_SOLUTIONS_VARIABLE, None)
    env.pop(EXECUTION_CACHE_VARIABLE, None)
    if with_solutions:
        public = edition_folder(project, output)
        output = edition_folder(project, output, with_solutions=True)
        env[WITH_SOLUTIONS_VARIABLE] = "1"
        env[EXECUTION_CACHE_VARIABLE] = str((public / "_build" / ".jupyter_cache").resolve())
    done = subprocess.run(jupyter_book_command(source, output), env=env, text=True,
                          capture_output=not echo)
    if done.returncode != 0:
        detail = "" if echo else "\n" + (done.stdout + done.stderr)[-4000:]
        raise TfclinicError(f"the book did not build (exit {done.returncode}); "
                            "the messages above say which chapter and why." + detail)
    html = Path(output or source) / "_build" / "html"
    if publish:
        build_wheel(project, html / WHEELS_FOLDER, echo=echo)
    return html / "index.html"
