"""A student workspace: the exercise notebooks, a short README, and JupyterLab to work in.

``tfclinic workshop DIR`` copies ``exercises/<lesson>/<lesson>.ipynb`` of every lesson to
``DIR/<lesson>/<lesson>.ipynb`` (the layout ``tfclinic grade`` collects, one folder per
student), never replacing a notebook that is already there, then starts JupyterLab in
``DIR`` with nbgrader's *Validate* button. Instructor-only nbgrader extensions (formgrader,
assignment and course lists) are switched off for that server.
"""

import errno
import math
import os
import re
import shutil
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import TfclinicError
from ..project import exercise_notebook, lessons
from ..runtime import quiet_environment

DEFAULT_PORT = 8888
HOST = "127.0.0.1"
NBGRADER_LAB_EXTENSION = "@jupyter/nbgrader"
VALIDATE_PLUGIN = "@jupyter/nbgrader:validate-assignment"
# The Validate button's server side: tfclinic's subclass of nbgrader's handler, which reports
# visible tests as N/M and never "passes all the tests", serves nbgrader's URLs in its place.
VALIDATE_SERVER_EXTENSION = "tfclinic.course.lab_validate"
NBGRADER_VALIDATE_EXTENSION = "nbgrader.server_extensions.validate_assignment"
# The workshop plan of the instructor guide: a rule of thumb, stated there in words.
WORDS_PER_MINUTE = 100  # walking through a chapter with its code and output, not silent reading
MINUTES_PER_FUNCTION = 10  # per broken function students repair
MINUTES_TO_CHECK = 5  # validate, then discuss the fixes
# A track of the guide: some lessons, timed by the rules above, in a session of fixed length.
INTRO_MINUTES = 10  # the plan of the session, while the first cell imports TensorFlow
BREAK_MINUTES = 10  # between two lessons
CLOSE_MINUTES = 5  # the homework, and how to hand it in

INSTRUCTOR_SERVER_EXTENSIONS = (
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
)

README = """\
# tfclinic workshop

Each folder holds one exercise notebook: {lessons}.
Every notebook has functions that run and are wrong; the book chapter of the same name
explains why. Repair them until every test cell passes.

Check your work before you hand it in, in either of two ways:

- in JupyterLab, open the notebook and press **Validate** in its toolbar;
- in a terminal, run `tfclinic validate {example}/{example}.ipynb`.

Both count the visible tests only. Your instructor grades the same functions with hidden
tests on fresh data, so a fix that only works for the numbers in the notebook does not earn
the points; `tfclinic validate --fresh {example}/{example}.ipynb` tries your functions on
freshly drawn sizes and data first (practice checks, not the hidden tests).

To hand in, give your instructor this whole folder. Start JupyterLab here again with
`tfclinic workshop .`; it never replaces a notebook that is already here.
"""


@dataclass
class Workspace:
    """What ``prepare`` did in a workspace folder."""

    folder: Path
    copied: list = field(default_factory=list)  # lessons whose notebook was copied
    kept: list = field(default_factory=list)  # lessons whose notebook was already there


def prepare(project, folder, names=None):
    """Copy the exercise notebooks and a README into ``folder``, keeping existing work.

    Args:
        project: the tfclinic checkout (its ``exercises/`` are copied).
        folder: the workspace; created if missing.
        names: lessons to copy (default: every lesson of the course).

    Returns:
        A ``Workspace`` saying which notebooks were copied and which were kept.

    Raises:
        TfclinicError: if ``folder`` is a file, or an exercise notebook is missing from the
            checkout.
    """
    folder = Path(folder)
    names = list(lessons(project) if names is None else names)
    if folder.exists() and not folder.is_dir():
        raise TfclinicError(f"{folder} is a file; give a folder for the workshop.")
    sources = {name: exercise_notebook(project, name) for name in names}
    missing = [str(path) for path in sources.values() if not path.is_file()]
    if missing:
        raise TfclinicError(f"no exercise notebook at {', '.join(missing)}; run `tfclinic release`.")
    folder.mkdir(parents=True, exist_ok=True)
    workspace = Workspace(folder)
    for name, source in sources.items():
        target = folder / name / f"{name}.ipynb"
        if target.exists():
            workspace.kept.append(name)
            continue
        target.parent.mkdir(exist_ok=True)
        with open(source, "rb") as src, open(target, "xb") as dst:  # "x": never replace
            shutil.copyfileobj(src, dst)
        workspace.copied.append(name)
    readme = folder / "README.md"
    if not readme.exists():
        example = names[0] if names else "LESSON"
        readme.write_text(README.format(lessons=", ".join(names), example=example))
    return workspace


def check_port_free(port, host=HOST):
    """Raise ``TfclinicError`` if something already listens on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Jupyter's server does
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise TfclinicError(f"port {port} on {host} is already in use; "
                                    "choose another one with --port N.") from None
            raise TfclinicError(f"cannot listen on {host}:{port}: {error.strerror}.") from None


def check_validate_extension():
    """Raise ``TfclinicError`` unless nbgrader's JupyterLab extension (the *Validate*
    button) is installed and its validate plugin is not disabled."""
    from jupyter_core.paths import jupyter_path
    from jupyterlab_server.config import get_federated_extensions, get_page_config

    paths = jupyter_path("labextensions")
    if NBGRADER_LAB_EXTENSION not in get_federated_extensions(paths):
        raise TfclinicError("nbgrader's JupyterLab extension is not installed in this "
                            "environment; reinstall tfclinic (make install).")
    disabled = get_page_config(paths).get("disabledExtensions", {})
    disabled = disabled if isinstance(disabled, dict) else {name: True for name in disabled}
    for name in (NBGRADER_LAB_EXTENSION, VALIDATE_PLUGIN):
        if disabled.get(name):
            raise TfclinicError(f"the JupyterLab extension {name} is disabled; enable it with "
                                f"`jupyter labextension enable {name}`.")


def lab_command(folder, port, open_browser=True):
    """The command line that starts JupyterLab in ``folder`` with only the student's
    nbgrader extension (validate, served by :mod:`tfclinic.course.lab_validate`) switched on."""
    command = [sys.executable, "-m", "jupyter", "lab",
               f"--ServerApp.root_dir={Path(folder).resolve()}",
               f"--ServerApp.ip={HOST}", f"--ServerApp.port={port}",
               "--ServerApp.port_retries=0",
               f"--ServerApp.open_browser={open_browser}",
               f"--ServerApp.jpserver_extensions={VALIDATE_SERVER_EXTENSION}=True"]
    command += [f"--ServerApp.jpserver_extensions={name}=False"
                for name in (NBGRADER_VALIDATE_EXTENSION, *INSTRUCTOR_SERVER_EXTENSIONS)]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--ServerApp.allow_root=True")  # containers and CI run as root
    return command


def start_lab(folder, port, open_browser=True):
    """Replace this process with JupyterLab serving ``folder``; never returns.

    The server runs in ``folder`` because nbgrader's validate button reads its settings from
    the server's working directory; TensorFlow's start-up logs are quieted, as in grading.
    """
    env = {**os.environ, **quiet_environment()}
    command = lab_command(folder, port, open_browser)
    sys.stdout.flush()
    sys.stderr.flush()
    os.chdir(folder)
    os.execve(command[0], command, env)


def summary(workspace):
    """Lines that tell the student what ``prepare`` did."""
    lines = []
    if workspace.copied:
        lines.append(f"copied {len(workspace.copied)} exercise notebooks to {workspace.folder}: "
                     + ", ".join(f"{name}/{name}.ipynb" for name in workspace.copied))
    if workspace.kept:
        lines.append("kept your existing work (not overwritten): "
                     + ", ".join(f"{name}/{name}.ipynb" for name in workspace.kept))
    return lines



@dataclass
class LessonPlan:
    """One row of the workshop timetable in the instructor guide."""

    lesson: str
    title: str
    prose_words: int
    functions: int
    points: float

    @property
    def walkthrough_minutes(self):
        return 5 * math.ceil(self.prose_words / WORDS_PER_MINUTE / 5)

    @property
    def repair_minutes(self):
        return self.functions * MINUTES_PER_FUNCTION

    @property
    def exercise_minutes(self):
        return self.repair_minutes + MINUTES_TO_CHECK

    @property
    def minutes(self):
        return self.walkthrough_minutes + self.exercise_minutes


def _prose(markdown):
    """The prose of a MyST chapter: front matter and fenced blocks (code cells) removed."""
    text = re.sub(r"\A---\n.*?\n---\n", "", markdown, flags=re.DOTALL)
    return re.sub(r"^(```|~~~).*?^\1", "", text, flags=re.DOTALL | re.MULTILINE)


def lesson_plan(project, names):
    """Measure each lesson for the timetable: chapter prose, functions to repair, points.

    Args:
        project: the tfclinic checkout.
        names: the lessons, in teaching order.

    Returns:
        A list of ``LessonPlan``, one per lesson.
    """
    import nbformat

    plan = []
    for name in names:
        chapter = (Path(project) / "book" / f"{name}.md").read_text(encoding="utf-8")
        prose = _prose(chapter)
        title = re.search(r"^# (.+)$", prose, flags=re.MULTILINE)
        notebook = nbformat.read(exercise_notebook(project, name), as_version=4)
        graded = [cell.metadata.get("nbgrader", {}) for cell in notebook.cells]
        plan.append(LessonPlan(
            lesson=name, title=title.group(1).strip() if title else name,
            prose_words=len(prose.split()),
            functions=sum(bool(meta.get("solution")) and not meta.get("grade") for meta in graded),
            points=sum(meta.get("points", 0) for meta in graded if meta.get("grade"))))
    return plan


@dataclass(frozen=True)
class Track:
    """A session shorter than the whole course: which lessons it teaches, and its length."""

    name: str
    lessons: tuple  # in teaching order; the other lessons are homework
    budget_minutes: int


TRACKS = {"two-hour": Track("two-hour", ("shapes", "scaling"), 120)}


@dataclass(frozen=True)
class Segment:
    """One row of a track's plan: what happens from ``start`` for ``minutes``."""

    start: int  # minutes since the session began
    minutes: int
    kind: str  # intro, walk-through, exercise, debrief, break or close
    lesson: str  # empty for the segments that belong to no lesson
    what: str

    @property
    def clock(self):
        return f"{self.start // 60}:{self.start % 60:02d}"


def track_plan(project, track, known=None):
    """The minute-by-minute plan of ``track``, from the same measurements as the timetable.

    Each lesson is its walk-through, its exercise (the broken functions) and a debrief (the
    minutes to validate and discuss), so a lesson lasts as long here as in the timetable. The
    session opens with an introduction, has a break between two lessons, and ends with a close.

    Args:
        project: the tfclinic checkout.
        track: a ``Track``, or the name of one in ``TRACKS``.
        known: the lessons that may appear (default: the lessons of the book, in its order).

    Returns:
        A list of ``Segment``; the last one ends at the sum of all their minutes.

    Raises:
        TfclinicError: if the track names a lesson that is not known, lists them out of the
            book's order, or does not fit in its budget.
    """
    from .book import lesson_chapters

    track = TRACKS[track] if isinstance(track, str) else track
    known = list(lesson_chapters(project) if known is None else known)
    unknown = [name for name in track.lessons if name not in known]
    if unknown:
        raise TfclinicError(f"the {track.name} track names lessons the book does not have: "
                            f"{', '.join(unknown)}.")
    if sorted(track.lessons, key=known.index) != list(track.lessons):
        raise TfclinicError(f"the {track.name} track lists its lessons out of the book's order.")
    rows = []

    def add(minutes, kind, lesson, what):
        start = rows[-1].start + rows[-1].minutes if rows else 0
        rows.append(Segment(start, minutes, kind, lesson, what))

    homework = [name for name in known if name not in track.lessons]
    add(INTRO_MINUTES, "intro", "", "the plan of the session; students run the first cell of "
        "each notebook, which imports TensorFlow")
    for index, row in enumerate(lesson_plan(project, track.lessons)):
        if index:
            add(BREAK_MINUTES, "break", "", "break")
        add(row.walkthrough_minutes, "walk-through", row.lesson,
            f"walk through “{row.title}” ({row.prose_words} words of prose)")
        add(row.repair_minutes, "exercise", row.lesson,
            f"students repair {row.functions} broken "
            f"function{'s' if row.functions != 1 else ''} ({row.points:g} points)")
        add(MINUTES_TO_CHECK, "debrief", row.lesson,
            "validate, then discuss the fixes and the wrong fixes seen")
    add(CLOSE_MINUTES, "close", "", "homework: " + (", ".join(homework) or "none")
        + "; how to hand in")
    total = rows[-1].start + rows[-1].minutes
    if total > track.budget_minutes:
        raise TfclinicError(f"the {track.name} track takes {total} min, more than its "
                            f"{track.budget_minutes} min.")
    return rows
