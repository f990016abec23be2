"""Generate the student exercises from the solution notebooks with nbgrader.

A solution cell may carry the broken code the student has to repair, commented out, right
after its solution region::

    def build_model(n_features):
        ### BEGIN SOLUTION
        inputs = keras.Input(shape=(n_features,))
        ### END SOLUTION
        ### BEGIN BROKEN
        # inputs = keras.Input(shape=(10,))
        ### END BROKEN

In the released exercise the solution region is replaced by the uncommented broken code, so
the student starts from a notebook that runs and fails the way real code fails. In the
solution notebook the broken lines are comments and do nothing. Cells without a broken
region get nbgrader's usual stub.
"""

import filecmp
import shutil
import tempfile
from pathlib import Path

from nbgrader.preprocessors import ClearSolutions

from ..errors import TfclinicError
from .nbgrader_course import NbgraderCourse, last_error_line
from ..project import exercise_notebook, solution_notebook

BEGIN_BROKEN = "### BEGIN BROKEN"
END_BROKEN = "### END BROKEN"


def _uncomment(line):
    stripped = line.lstrip()
    indent = line[: len(line) - len(stripped)]
    if stripped.startswith("# "):
        return indent + stripped[2:]
    if stripped.startswith("#"):
        return indent + stripped[1:]
    return line


def release_source(source, begin_solution="BEGIN SOLUTION", end_solution="END SOLUTION"):
    """Replace every solution region that a broken region follows by the uncommented broken code.

    Delimiters are found the way nbgrader finds them: anywhere in a line. Solution regions
    without a broken region are kept, for nbgrader's stub.

    Returns:
        The new source, or ``None`` when the cell has no broken region.

    Raises:
        RuntimeError: when a broken region is unclosed or does not directly follow a closed
            solution region.
    """
    lines = source.split("\n")
    if not any(BEGIN_BROKEN in line for line in lines):
        return None
    kept, index, pending = [], 0, None  # pending: the last solution region, not yet emitted
    while index < len(lines):
        line = lines[index]
        if begin_solution in line:
            end = _find(lines, end_solution, index + 1)
            if end is None:
                raise RuntimeError("a solution region is not closed")
            if pending:
                kept.extend(pending)
            pending, index = lines[index: end + 1], end + 1
            continue
        if BEGIN_BROKEN in line:
            end = _find(lines, END_BROKEN, index + 1)
            if pending is None or end is None:
                raise RuntimeError(f"a {BEGIN_BROKEN} ... {END_BROKEN} region must directly "
                                   "follow a closed solution region in the same cell")
            kept.extend(_uncomment(broken) for broken in lines[index + 1: end])
            pending, index = None, end + 1
            continue
        if pending:
            kept.extend(pending)
            pending = None
        kept.append(line)
        index += 1
    kept.extend(pending or [])
    return "\n".join(kept)


def _find(lines, marker, start):
    return next((i for i in range(start, len(lines)) if marker in lines[i]), None)


class ClearSolutionsToBroken(ClearSolutions):
    """nbgrader's ClearSolutions, but a solution becomes the broken code when there is one.

    Solution regions with no broken region after them still get nbgrader's stub.
    """

    def _replace_solution_region(self, cell, language):
        released = release_source(cell.source, self.begin_solution_delimeter,
                                  self.end_solution_delimeter)
        if released is None:
            return super()._replace_solution_region(cell, language)
        cell.source = released
        super()._replace_solution_region(cell, language)  # any region left without broken code
        return True


def generate(project, lessons, out_dir, workdir=None):
    """Run nbgrader's generate_assignment for ``lessons`` and copy the results to ``out_dir``.

    Args:
        project: the tfclinic checkout.
        lessons: lesson names to release.
        out_dir: where ``<lesson>/<lesson>.ipynb`` is written (``exercises/`` for a release).
        workdir: scratch folder for the nbgrader course; a temporary one when omitted.

    Raises:
        TfclinicError: when nbgrader fails on a lesson, with nbgrader's error line.
    """
    with tempfile.TemporaryDirectory(prefix="tfclinic-release-") as scratch:
        course = NbgraderCourse(project, Path(workdir or scratch) / "course")
        for lesson in lessons:
            course.add_source(lesson)
            done = course.run("generate_assignment", lesson, "--force")
            if done.returncode != 0:
                raise TfclinicError(f"nbgrader could not release {lesson}: {last_error_line(done)}")
            target = Path(out_dir) / lesson
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(course.root / "release" / lesson, target)


def drift(project, lessons):
    """Return the lessons whose ``exercises/`` folder differs from a fresh release."""
    with tempfile.TemporaryDirectory(prefix="tfclinic-drift-") as scratch:
        generate(project, lessons, Path(scratch) / "release", workdir=scratch)
        changed = []
        for lesson in lessons:
            fresh = Path(scratch) / "release" / lesson / f"{lesson}.ipynb"
            committed = exercise_notebook(project, lesson)
            if not committed.is_file() or not filecmp.cmp(fresh, committed, shallow=False):
                changed.append(lesson)
        return changed


def refresh_setup_cells(project, lessons, write=True):
    """Give each lesson's solution notebook the setup cell that ``book/_config.yml`` asks for.

    The cell (:mod:`tfclinic.course.setup_cell`) installs the tfclinic of this checkout from
    ``tfclinic.install``; nbgrader then copies it, read-only, into the exercise.

    Args:
        project: the tfclinic checkout.
        lessons: lesson names.
        write: rewrite the notebooks whose setup cell is missing or stale; with ``False`` only
            report them (``tfclinic release --check``).

    Returns:
        The lessons whose solution notebook had a missing or stale setup cell.
    """
    import nbformat

    from .. import __version__
    from ..publishing import install_requirement, read_config
    from .setup_cell import setup_cell, with_setup_cell

    requirement = install_requirement(read_config(project))
    stale = []
    for lesson in lessons:
        path = solution_notebook(project, lesson)
        notebook = nbformat.read(path, as_version=4)
        cell = setup_cell(requirement, __version__, grade_id=f"{lesson}-setup")
        fresh = nbformat.from_dict(with_setup_cell(notebook, cell))
        if nbformat.writes(fresh) != nbformat.writes(notebook):
            stale.append(lesson)
            if write:
                nbformat.write(fresh, path)
    return stale
