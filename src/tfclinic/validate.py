"""The student's self-check: run a notebook and say, test cell by test cell, what passed.

It executes the notebook the way the grader does (same time limit, counted in CPU seconds
as the grader counts it, same quiet TensorFlow, same rule for stderr) but reports in plain
words instead of writing a gradebook.
"""

import json
import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from .errors import TfclinicError
from .course.nbgrader_course import CELL_TIMEOUT_SECONDS, STDERR_IGNORE_PATTERN
from .processes import WALL_BACKSTOP_FACTOR, CpuBudget
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


# The largest notebook tfclinic reads (to grade, validate or collect): far above any lesson
# notebook with its outputs, and small enough that parsing it takes about a second.
MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
# The most cells it reads: lessons have at most 33. Within the size limit a notebook could
# hold 100,000 one-line cells, each a round trip to the student process when it is graded
# and a block of its feedback page; nbformat's validation alone spends seconds on them.
MAX_NOTEBOOK_CELLS = 2000


def read_notebook(path):
    """Read a notebook, turning every way it can be unreadable into a one-line error.

    The size is checked before the file is parsed, so a huge file costs no memory or time;
    the number of cells is counted in the plain JSON, before nbformat builds and validates
    the notebook (what takes the time).

    Raises:
        TfclinicError: for a missing file, one over ``MAX_NOTEBOOK_BYTES`` or with more than
            ``MAX_NOTEBOOK_CELLS`` cells, or a file that is not a valid notebook.
    """
    path = Path(path)
    if not path.is_file():
        raise TfclinicError(f"no notebook at {path}")
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        raise TfclinicError(f"{path} is not a valid notebook: it is {size / 2**20:.0f} MB, more than "
                            f"the {MAX_NOTEBOOK_BYTES // 2**20} MB a notebook may be")
    try:
        text = path.read_bytes().decode("utf-8")
        data = json.loads(text)
    except ValueError as error:  # not UTF-8, or not JSON (nbformat's message quoted the bytes)
        raise TfclinicError(f"{path} is not a valid notebook: it is not JSON ({error})") from None
    cells = _cell_count(data)
    if cells > MAX_NOTEBOOK_CELLS:
        raise TfclinicError(f"{path} is not a valid notebook: it has {cells} cells, more than "
                            f"the {MAX_NOTEBOOK_CELLS} a notebook may have")
    try:
        notebook = nbformat.reads(text, as_version=4)  # parses the text again, in nbformat's way
        nbformat.validate(notebook)
    except Exception as error:  # wrong schema, an unknown format version...
        summary = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise TfclinicError(f"{path} is not a valid notebook: {summary}") from None
    return notebook


def _cell_count(data):
    """Cells of a notebook's plain JSON: ``cells`` (format 4) or its worksheets' (format 3)."""
    if not isinstance(data, dict):
        return 0  # nbformat refuses it
    lists = [data.get("cells")] + [sheet.get("cells") for sheet in data.get("worksheets") or ()
                                   if isinstance(sheet, dict)]
    return sum(len(cells) for cells in lists if isinstance(cells, list))


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


class _OverBudget(Exception):
    """A cell used more CPU than its limit and was interrupted."""


class CellCpuLimit:
    """Interrupt the kernel when one cell uses more than ``seconds`` of CPU, as grading does.

    nbclient's own timeout counts wall time, which a busy machine stretches; it stays as the
    backstop for cells that only wait. Hooked into ``NotebookClient`` as ``on_cell_execute``
    (start the cell's budget) and ``on_cell_executed`` (end it, and stop execution if it was
    exceeded). A kernel that ignores the interrupt is killed after a grace period.
    """

    GRACE_SECONDS = 5

    def __init__(self, client, seconds):
        self.client, self.seconds = client, seconds
        self.exceeded, self._budget, self._interrupted_at = None, None, None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def start_cell(self, **_):
        pid = getattr(getattr(self.client.km, "provisioner", None), "pid", None)
        self._budget = CpuBudget(pid, self.seconds) if pid else None
        if not self._thread.is_alive():
            self._thread.start()

    def end_cell(self, **_):
        self._budget = None
        if self.exceeded:
            raise _OverBudget(self.exceeded)

    def close(self):
        self._stop.set()

    def _watch(self):
        while not self._stop.wait(0.5):
            budget = self._budget
            if budget is None:
                continue
            if self.exceeded is None:
                self.exceeded = budget.exceeded()
                if self.exceeded:
                    self._interrupted_at = time.monotonic()
                    self._signal(budget.pid, signal.SIGINT)
            elif time.monotonic() - self._interrupted_at > self.GRACE_SECONDS:
                self._signal(budget.pid, signal.SIGKILL)
                self._budget = None

    @staticmethod
    def _signal(pid, number):
        try:
            os.kill(pid, number)
        except OSError:
            pass


def run_notebook(notebook, directory, seed=None, timeout=CELL_TIMEOUT_SECONDS):
    """Execute ``notebook`` in place in a fresh kernel started in ``directory``.

    Errors in cells are recorded in the outputs and execution goes on, as in grading. A cell
    that uses more than ``timeout`` seconds of CPU (or waits ten times as long), or a kernel
    that dies, stops execution there.

    Returns:
        ``None`` when every cell ran, otherwise a sentence saying where execution stopped.
    """
    env = {**os.environ, **quiet_environment()}
    if seed is not None:
        env[SEED_VARIABLE] = str(seed)
    client = NotebookClient(notebook, timeout=timeout * WALL_BACKSTOP_FACTOR, kernel_name="python3",
                            allow_errors=True, resources={"metadata": {"path": str(directory)}})
    limit = CellCpuLimit(client, timeout)
    client.on_cell_execute, client.on_cell_executed = limit.start_cell, limit.end_cell
    try:
        client.execute(env=env, stderr=subprocess.DEVNULL)  # the kernel process's own log
    except _OverBudget as error:
        return f"a cell {error} and was stopped"
    except CellTimeoutError:
        return f"a cell ran for more than {timeout * WALL_BACKSTOP_FACTOR:g} s and was stopped"
    except DeadKernelError:
        if limit.exceeded:
            return f"a cell {limit.exceeded}, ignored the interrupt and was stopped"
        return "the kernel died (the notebook crashed Python or ran out of memory)"
    finally:
        limit.close()
    return None


_CHECK_CELL = ("from tfclinic.validate import check_like_the_grader as _tfclinic_check\n"
               "_tfclinic_check(globals(), {names!r})\n"
               "del _tfclinic_check")


def check_like_the_grader(namespace, names):
    """Make the functions ``names`` of a notebook's ``namespace`` refuse, as grading does, to
    return a value the grader cannot receive (``tfclinic.sandbox.protocol.crossing_problem``).

    In grading, test code calls a solution function from the grader and only what can cross
    the channel comes back; here, in one process, everything would. So a call from test code
    raises ``NotGradable`` with grading's own sentence; a call from the student's own code
    (one function using another) does not cross the channel in grading and is not checked.
    """
    import inspect

    for name in names:
        function = namespace.get(name)
        if inspect.isfunction(function) and not hasattr(function, "__tfclinic_checked__"):
            namespace[name] = _checked(function)


_calls = threading.local()


def _checked(function):
    import functools

    from .sandbox.protocol import NotGradable, crossing_problem

    @functools.wraps(function)
    def checked(*args, **kwargs):
        outermost = not getattr(_calls, "depth", 0)
        _calls.depth = getattr(_calls, "depth", 0) + 1
        try:
            value = function(*args, **kwargs)
        finally:
            _calls.depth -= 1
        problem = crossing_problem(value) if outermost else None
        if problem:
            raise NotGradable(problem)
        return value

    checked.__tfclinic_checked__ = True
    return checked


def _with_grader_checks(notebook):
    """Put a cell after each solution cell that applies ``check_like_the_grader`` to the names
    it defines, as the grader binds them."""
    from .sandbox.runner import defined_names

    cells = []
    for cell in notebook.cells:
        cells.append(cell)
        if cell.cell_type == "code" and _nbgrader(cell).get("solution"):
            try:
                names = defined_names(cell.source)
            except SyntaxError:
                continue
            if names:
                cells.append(nbformat.v4.new_code_cell(_CHECK_CELL.format(names=names)))
    notebook.cells = cells
    return notebook


def validate(path, seed=None):
    """Run the notebook at ``path`` and grade each test cell as passed or failed.

    Each solution function's values go through grading's rule for what can reach the grader
    (``check_like_the_grader``), so a form the grader would refuse fails here too.

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
    stopped = run_notebook(_with_grader_checks(notebook), Path(path).resolve().parent, seed=seed)
    results = []
    for cell in tests:
        meta = _nbgrader(cell)
        ran = cell.get("execution_count") is not None
        message = _failure(cell) if ran else (f"not run: {stopped}" if stopped else "not run")
        results.append(CellResult(meta.get("grade_id", "?"), float(meta.get("points", 0)),
                                  passed=ran and not message, message=message))
    return results, stopped


def visible_summary(passed_cells, total_cells, points, max_points):
    """The verdict every self-check prints (this one and the Lab's Validate button): N/M
    visible test cells and points."""
    return (f"Visible tests: {passed_cells}/{total_cells} test cells passed "
            f"({points:g}/{max_points:g} points)")


def format_report(path, results, stopped, seconds):
    """The report printed by ``tfclinic validate``: visible tests as N/M with points."""
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
