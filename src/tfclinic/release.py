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

from .errors import TfclinicError
from .nbgrader_course import NbgraderCourse, last_error_line
from .project import exercise_notebook

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


def _find(lines, marker):
    return next((i for i, line in enumerate(lines) if marker in line), None)


def release_source(source, begin_solution="BEGIN SOLUTION", end_solution="END SOLUTION"):
    """Replace the solution region of ``source`` by its uncommented broken region.

    Delimiters are found the way nbgrader finds them: anywhere in a line.

    Returns:
        The new source, or ``None`` when the cell has no broken region.

    Raises:
        RuntimeError: when the broken region is unclosed or does not follow a solution region.
    """
    lines = source.split("\n")
    broken_first, broken_last = _find(lines, BEGIN_BROKEN), _find(lines, END_BROKEN)
    if broken_first is None:
        return None
    first, last = _find(lines, begin_solution), _find(lines, end_solution)
    if None in (broken_last, first, last) or not first < last < broken_first < broken_last:
        raise RuntimeError(f"a {BEGIN_BROKEN} ... {END_BROKEN} region must follow a closed "
                           "solution region in the same cell")
    broken = [_uncomment(line) for line in lines[broken_first + 1: broken_last]]
    return "\n".join(lines[:first] + lines[last + 1: broken_first] + broken + lines[broken_last + 1:])


class ClearSolutionsToBroken(ClearSolutions):
    """nbgrader's ClearSolutions, but a solution becomes the broken code when there is one."""

    def _replace_solution_region(self, cell, language):
        released = release_source(cell.source, self.begin_solution_delimeter,
                                  self.end_solution_delimeter)
        if released is None:
            return super()._replace_solution_region(cell, language)
        cell.source = released
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
