"""The student's self-check: run a notebook and say, test cell by test cell, what passed.

It executes the notebook the way the grader does (same time limit, same quiet TensorFlow,
same rule for stderr) but reports in plain words instead of writing a gradebook.
"""

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from .errors import TfclinicError
from .nbgrader_course import CELL_TIMEOUT_SECONDS, STDERR_IGNORE_PATTERN
from .runtime import SEED_VARIABLE, quiet_environment

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
HIDDEN_TESTS_NOTE = ("Hidden tests call your functions again on fresh data, with other sizes, "
                     "when your work is graded; no self-check runs them. "
                     "`tfclinic validate --fresh NOTEBOOK` (or, in Colab, "
                     "`from tfclinic.practice import check; check(globals())` in a cell) "
                     "tries your functions on freshly drawn sizes and data before you hand in.")


@dataclass
class CellResult:
    """The outcome of one graded test cell."""

    grade_id: str
    points: float
    passed: bool
    message: str = ""


def read_notebook(path):
    """Read a notebook, turning every way it can be unreadable into a one-line error.

    Raises:
        TfclinicError: for a missing file or a file that is not a valid notebook.
    """
    path = Path(path)
    if not path.is_file():
        raise TfclinicError(f"no notebook at {path}")
    try:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # invalid JSON, wrong schema, undecodable bytes...
        summary = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise TfclinicError(f"{path} is not a valid notebook: {summary}") from None
    return notebook


def _nbgrader(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def summarize_error(ename, evalue, max_lines=None):
    """``ename: evalue`` in full, so that ``assert_allclose``'s ACTUAL and DESIRED and the
    inner error of a traced function stay; left out are blank lines, Keras's list of the
    call's arguments, the library frames TensorFlow lists in it and the machine's paths (a notebook cell is "a cell", a library file is
    named from its package). ``max_lines`` cuts it, when given."""
    from .display import readable_message

    lines = []
    for line in readable_message(evalue).splitlines():
        if line.strip().startswith("Arguments received by"):
            break
        if line.strip():
            lines.append(line.rstrip())
    if max_lines is not None:
        lines = lines[:max_lines]
    text = "\n      ".join(line.strip() if i == 0 else line for i, line in enumerate(lines))
    return f"{ename}: {text}" if text else ename


def _causes(output):
    """The errors that led to this one, from the readable traceback of tfclinic.display."""
    text = _ANSI.sub("", "\n".join(output.get("traceback", [])))
    parts = text.split("\nThe error above led to this one:\n")
    causes = []
    for part in parts[:-1]:
        last = [line for line in part.splitlines() if line and not line.startswith(" ")
                and not line.startswith("Traceback")]
        if last:
            causes.append(last[0])
    return causes


def _failure(cell):
    """The error message of a failed cell, or "" when the cell passed."""
    for output in cell.get("outputs", []):
        if output.output_type == "error":
            message = summarize_error(output.ename, output.get("evalue", ""))
            causes = _causes(output)
            return message + "".join(f"\n      caused by {cause}" for cause in causes)
        if output.output_type == "stream" and output.name == "stderr":
            if not re.search(STDERR_IGNORE_PATTERN, output.text):
                return "wrote to stderr: " + output.text.strip().splitlines()[0]
    return ""


def run_notebook(notebook, directory, seed=None, timeout=CELL_TIMEOUT_SECONDS):
    """Execute ``notebook`` in place in a fresh kernel started in ``directory``.

    Errors in cells are recorded in the outputs and execution goes on, as in grading. A cell
    that exceeds ``timeout`` seconds, or a kernel that dies, stops execution there.

    Returns:
        ``None`` when every cell ran, otherwise a sentence saying where execution stopped.
    """
    env = {**os.environ, **quiet_environment()}
    if seed is not None:
        env[SEED_VARIABLE] = str(seed)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(directory)}})
    try:
        client.execute(env=env, stderr=subprocess.DEVNULL)  # the kernel process's own log
    except CellTimeoutError:
        return f"a cell ran longer than the {timeout} s limit"
    except DeadKernelError:
        return "the kernel died (the notebook crashed Python or ran out of memory)"
    return None


def validate(path, seed=None):
    """Run the notebook at ``path`` and grade each test cell as passed or failed.

    Returns:
        ``(results, stopped)``: a list of ``CellResult`` in notebook order, and ``None`` or the
        reason execution stopped early (test cells after that point count as failed).

    Raises:
        TfclinicError: when the file is missing, not a notebook, or has no test cells.
    """
    notebook = read_notebook(path)
    tests = [cell for cell in notebook.cells if _nbgrader(cell).get("grade") and cell.cell_type == "code"]
    if not tests:
        raise TfclinicError(f"{path} has no graded test cells; is it a tfclinic exercise?")
    stopped = run_notebook(notebook, Path(path).resolve().parent, seed=seed)
    results = []
    for cell in tests:
        meta = _nbgrader(cell)
        ran = cell.get("execution_count") is not None
        message = _failure(cell) if ran else (f"not run: {stopped}" if stopped else "not run")
        results.append(CellResult(meta.get("grade_id", "?"), float(meta.get("points", 0)),
                                  passed=ran and not message, message=message))
    return results, stopped


def format_report(path, results, stopped, seconds):
    """The report printed by ``tfclinic validate``: visible tests as N/M with points."""
    from .lab_validate import visible_summary

    earned = sum(r.points for r in results if r.passed)
    total = sum(r.points for r in results)
    verdict = visible_summary(sum(r.passed for r in results), len(results), earned, total)
    lines = [f"{path}: {verdict}, {seconds:.1f} s"]
    if stopped:
        lines.append(f"  execution stopped early: {stopped}")
    for r in results:
        status = "PASS" if r.passed else "FAIL"
        lines.append(f"  {status} {r.grade_id} ({r.points:g} pt)" + (f": {r.message}" if r.message else ""))
    lines.append(HIDDEN_TESTS_NOTE)
    return "\n".join(lines)


def practice(path, seed=None):
    """Run the notebook's own cells (test cells left out), then the practice checks of its
    lesson on freshly drawn sizes and data (:mod:`tfclinic.practice`).

    Returns:
        ``(lesson, outcomes, stopped)``: the lesson, a list of ``practice.Outcome`` and
        ``None`` or the reason execution stopped early.

    Raises:
        TfclinicError: when the notebook cannot be read or defines no lesson's functions.
    """
    import json

    from .practice import REPORT_MARKER, Outcome

    notebook = read_notebook(path)
    notebook.cells = [cell for cell in notebook.cells
                      if cell.cell_type != "code" or not _nbgrader(cell).get("grade")]
    lesson = Path(path).stem
    call = f"lesson={lesson!r}" if lesson in _practice_lessons() else "lesson=None"
    notebook.cells.append(nbformat.v4.new_code_cell(
        f"from tfclinic.practice import report as _tfclinic_report\n"
        f"_tfclinic_report(globals(), {call}, seed={seed!r})"))
    stopped = run_notebook(notebook, Path(path).resolve().parent)
    for output in notebook.cells[-1].get("outputs", []):
        for line in output.get("text", "").splitlines():
            if line.startswith(REPORT_MARKER):
                found = json.loads(line[len(REPORT_MARKER):])
                if "error" in found:
                    raise TfclinicError(found["error"])
                return found["lesson"], [Outcome(**o) for o in found["outcomes"]], stopped
    raise TfclinicError(f"the practice checks did not run: {stopped or 'a cell of the notebook failed before them'}")


def _practice_lessons():
    from .practice import LESSONS

    return LESSONS
