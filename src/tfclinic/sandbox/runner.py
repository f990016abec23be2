"""Grade one submission: the student's code in a confined process, the tests in this one.

``python -I -m tfclinic.sandbox.runner SOURCE SUBMISSION OUTDIR --seed N`` writes
``OUTDIR/result.json`` (status, message, a score per test cell) and ``OUTDIR/autograded.ipynb``
(the notebook with outputs, for feedback). The grader starts one runner per submission.

How a notebook is split:

- The student process runs every code cell of the *submission* except test cells: setup,
  data, the student's solutions and any cells the student added. It leaves out the
  instructor's cells after the last solution cell (a training run, a checkup) when no other
  cell it runs reads or binds a name they bind (``grader_only_cells``): the grader runs
  those cells anyway, calling into the student process, so running them there as well
  would only spend the CPU twice.
- This process runs every code cell of the *source* notebook (the instructor's, with hidden
  tests) except solution cells. Where a solution cell was, the names it defines become
  ``StudentFunction`` stand-ins that call into the student process. So test code, test
  data and ``numpy.testing`` are the grader's own, and only data comes back.
- A test cell earns its points when it runs without raising. What student code prints
  while it runs is not in its outputs (one note says so), nor the message of an error it
  raises (its name is, if Python or TensorFlow defines it): both could show the test's inputs.
"""

import argparse
import ast
import contextlib
import json
import os
import shutil
import signal
import symtable
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat

from . import student as student_module
from .confine import Limits
from ..processes import become_subreaper, kill_new_descendants
from .student import StudentFunction, StudentProcess, StudentProcessEnded
from .worker import CappedText

SOLUTION, TEST, TRUSTED = "solution", "test", "trusted"
OUTPUT_CHARS_PER_CELL = 20_000


class CellTimeout(Exception):
    """A cell of the grader's own code ran past its time limit."""


def cell_kind(cell):
    """``solution``, ``test`` or ``trusted`` for a code cell, from its nbgrader metadata."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    if meta.get("solution"):
        return SOLUTION
    if meta.get("grade"):
        return TEST
    return TRUSTED


def grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


# Student text this process reads or passes on is bounded here, outside the student's limits
# (lesson cells are a few thousand characters): the longest cell it parses, to match a
# solution cell or see which names a cell uses (a syntax tree takes about 400 times its
# text in memory: 6 GB for a 15 MB cell); how much of a solution cell's text, and of an
# error's name and message, the autograded notebook keeps (rendering a page of 2 MB of code
# as feedback takes about a minute of CPU and 1.6 GB).
MAX_READ_CHARS = 100_000
MAX_SHOWN_CHARS = OUTPUT_CHARS_PER_CELL
MAX_ERROR_NAME_CHARS = 200
# What reading an odd cell raises: bad syntax or null bytes, nesting too deep to follow.
UNREADABLE = (SyntaxError, ValueError, RecursionError, MemoryError)


def _readable(source):
    """``source``, or a ``SyntaxError`` if it is too long to read here (``MAX_READ_CHARS``)."""
    if len(source) > MAX_READ_CHARS:
        raise SyntaxError(f"a cell of {len(source)} characters is not read")
    return source


def defined_names(source):
    """The names a cell binds at its top level (functions, classes, assignments, imports).

    Raises:
        one of ``UNREADABLE`` for a cell that cannot be read.
    """
    names = []
    for node in ast.parse(_readable(source)).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names += [(a.asname or a.name).split(".")[0] for a in node.names]
    return list(dict.fromkeys(names))


def student_cells(submission, test_ids, skipped=frozenset()):
    """The submission's code cells that run in the student process: all but test cells (and
    the indices in ``skipped``)."""
    return [(index, cell.source) for index, cell in enumerate(submission.cells)
            if cell.cell_type == "code" and grade_id(cell) not in test_ids and cell_kind(cell) != TEST
            and index not in skipped]


# Code that reaches globals by name at run time, which reading a cell cannot follow.
DYNAMIC_LOOKUPS = frozenset({"globals", "vars", "locals", "eval", "exec", "get_ipython",
                             "__import__", "__builtins__"})


def global_names(source):
    """Every name a cell reads or binds as a global, in any of its scopes (a function's
    parameters and locals are not globals); ``None`` when reading the cell cannot tell: it
    does not parse, has IPython syntax, or looks names up at run time."""
    try:
        table = symtable.symtable(_readable(source), "<cell>", "exec")
    except UNREADABLE:
        return None
    names, scopes = set(), [table]
    while scopes:
        scope = scopes.pop()
        module = scope.get_type() == "module"
        names.update(s.get_name() for s in scope.get_symbols() if module or s.is_global())
        scopes.extend(scope.get_children())
    return None if names & DYNAMIC_LOOKUPS else names


def grader_only_cells(source, submission, test_ids):
    """Indices of submission cells the student process need not run: copies, word for word,
    of the source's trusted cells after its last solution cell, whose bound names no other
    cell of the student process reads or binds, and that bind no solution's name.

    The grader runs those cells itself (the source's text), so the student process's state
    that tests see differs only by names nothing there uses. A cell that changed an object in
    place would break that; a lesson's closing cells must not (README, "Writing a lesson").
    Where any cell cannot be read (``global_names``), every cell runs.
    """
    code = [c for c in source.cells if c.cell_type == "code"]
    solutions = [i for i, c in enumerate(code) if cell_kind(c) == SOLUTION]
    if not solutions:
        return frozenset()
    try:
        answers = {n for c in code if cell_kind(c) == SOLUTION for n in defined_names(c.source)}
        closing = {c.source: set(defined_names(c.source)) for c in code[solutions[-1] + 1:]
                   if cell_kind(c) == TRUSTED}
    except UNREADABLE:
        return frozenset()
    candidates = {index for index, text in student_cells(submission, test_ids)
                  if text in closing and not closing[text] & answers}
    if not candidates:
        return frozenset()
    used = set()
    for index, text in student_cells(submission, test_ids, skipped=candidates):
        names = global_names(text)
        if names is None:
            return frozenset()
        used |= names
    return frozenset(index for index in candidates
                     if not closing[submission.cells[index].source] & used)


def _shown(text, limit, mark=""):
    """``text`` cut to ``limit`` characters, with a line (after ``mark``) saying how many
    were left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n{mark}[... {len(text) - limit:,} more characters not shown]"


def _stream(text):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def _error(name, message):
    """An error output for the feedback: the message without machine paths or library frames
    (:func:`tfclinic.display.readable_message`), shown once."""
    from ..display import readable_message

    name = _shown(str(name), MAX_ERROR_NAME_CHARS)
    message = readable_message(_shown(str(message), MAX_SHOWN_CHARS))
    return nbformat.v4.new_output("error", ename=name, evalue=message,
                                  traceback=[f"{name}: {message}" if message else name])


class Grading:
    """One submission being graded: the source notebook, the student process, the outputs."""

    def __init__(self, source, submission, process, cell_timeout):
        self.source, self.submission, self.process = source, submission, process
        self.cell_timeout = cell_timeout
        self.test_ids = {grade_id(c) for c in source.cells
                         if c.cell_type == "code" and cell_kind(c) == TEST}
        self.skipped = grader_only_cells(source, submission, self.test_ids)
        self.student_outputs = {}  # submission cell index -> outputs
        self.ready = threading.Event()
        self.setup_error = None

    def run_student_cells(self):
        """In a thread: run the submission's cells in the student process, in order."""
        try:
            self.process.wait_ready()
            for index, source in student_cells(self.submission, self.test_ids, self.skipped):
                output, error = self.process.run_cell(source)
                outputs = [_stream(output)] if output else []
                if error:
                    outputs.append(_error(*error[:2]))
                self.student_outputs[index] = outputs
        except StudentProcessEnded:
            pass
        except Exception as error:  # noqa: BLE001 - recorded, never fatal to the batch
            self.setup_error = f"{type(error).__name__}: {error}"
        finally:
            self.ready.set()

    def run(self):
        """Execute the source notebook here; returns ``(tests, autograded notebook)``."""
        threading.Thread(target=self.run_student_cells, daemon=True).start()
        student_module.ACTIVE = self.process
        _mirror_seeds(self.process)
        namespace = {"__name__": "__main__"}
        solutions = {}  # grade_id -> index of the first submission cell that has it
        for index, cell in enumerate(self.submission.cells):
            if cell.cell_type == "code":
                solutions.setdefault(grade_id(cell), index)
        notebook = nbformat.v4.new_notebook(metadata=self.source.metadata)
        tests = {}
        for cell in self.source.cells:
            cell = nbformat.from_dict(dict(cell))
            notebook.cells.append(cell)
            if cell.cell_type != "code":
                continue
            cell.execution_count = None
            kind = cell_kind(cell)
            if kind == SOLUTION:
                self.ready.wait()
                index = solutions.get(grade_id(cell))
                if index is None:  # metadata stripped (Colab, VS Code): match by the names
                    index = self.defining_cell(defined_names(self.source_cell(cell)))
                cell.source = _shown(self.submission.cells[index].source, MAX_SHOWN_CHARS, "# ") \
                    if index is not None else "# (this cell is missing from the submission)"
                cell.outputs = self.student_outputs.get(index, [])
                for name in defined_names(self.source_cell(cell)):
                    namespace[name] = StudentFunction(self.process, ["student", name], f"{name}()")
                continue
            cell.outputs, error = self.execute(cell.source, namespace, test=kind == TEST)
            if kind == TEST:
                points = float(cell.metadata["nbgrader"].get("points", 0))
                tests[grade_id(cell)] = {"points": points, "score": 0.0 if error else points,
                                         "error": error}
        return tests, notebook

    def defining_cell(self, names):
        """The index of the last submission cell that defines one of ``names``, the one whose
        definition the student process ends up with; ``None`` if no cell does."""
        found = None
        for index, source in student_cells(self.submission, self.test_ids):
            try:
                if set(defined_names(source)) & set(names):
                    found = index
            except UNREADABLE:
                continue
        return found

    def source_cell(self, cell):
        return next(c.source for c in self.source.cells if grade_id(c) == grade_id(cell))

    def execute(self, source, namespace, test=False):
        """Run trusted code; returns ``(outputs, error or None)``.

        In a ``test`` cell, what student code prints is replaced by one note: the test's
        inputs, hidden ones included, are what a ``print`` in a student function would show.
        """
        output = CappedText(OUTPUT_CHARS_PER_CELL)
        error = None
        previous = signal.signal(signal.SIGALRM, _raise_cell_timeout)
        signal.alarm(int(3 * self.cell_timeout))
        try:
            with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output), \
                    self.process.output_withheld() if test else contextlib.nullcontext():
                exec(compile(source, "<test cell>", "exec"), namespace)  # noqa: S102 - our own code
        except BaseException as caught:  # noqa: BLE001 - a failing test is a result
            if isinstance(caught, KeyboardInterrupt):
                raise
            error = [type(caught).__name__, str(caught)[:2000]]
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
        outputs = [_stream(output.getvalue())] if output.getvalue() else []
        if error:
            outputs.append(_error(*error))
        return outputs, error


def student_environment(workdir, seed):
    """The student process's whole environment: its own folder, quiet TensorFlow, the seed."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(workdir),
           "TMPDIR": str(workdir), "KERAS_HOME": str(workdir), "MPLCONFIGDIR": str(workdir),
           "MPLBACKEND": "Agg", "TFCLINIC_SEED": str(seed), "TF_CPP_MIN_LOG_LEVEL": "3",
           "TF_ENABLE_ONEDNN_OPTS": "0", "PYTHONDONTWRITEBYTECODE": "1"}
    for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS",
                 "OPENBLAS_NUM_THREADS", "CUDA_VISIBLE_DEVICES"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def _raise_cell_timeout(signum, frame):
    raise CellTimeout("the test cell ran out of time")


def _mirror_seeds(process):
    """Make ``keras.utils.set_random_seed`` in test code seed the student process too."""
    import keras

    original = keras.utils.set_random_seed

    def set_random_seed(seed):
        original(seed)
        with contextlib.suppress(StudentProcessEnded):
            process.seed(seed)

    keras.utils.set_random_seed = set_random_seed


def grade_submission(source_path, submission_path, outdir, seed=0, limits=Limits(), cell_timeout=30):
    """Grade one submission; write ``result.json`` and ``autograded.ipynb`` into ``outdir``."""
    start = time.perf_counter()
    outdir = Path(outdir)
    workdir = Path(tempfile.mkdtemp(prefix="tfclinic-student-"))
    # fork the student process first: it must not inherit the notebooks, hidden tests included
    process = StudentProcess(workdir, student_environment(workdir, seed), limits,
                             call_timeout=cell_timeout, log=outdir)
    try:
        source = nbformat.read(source_path, as_version=4)
        submission = nbformat.read(submission_path, as_version=4)
        grading = Grading(source, submission, process, cell_timeout)
        tests, notebook = grading.run()
    finally:
        process.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    status, message = process.ended or ("graded", "")
    if grading.setup_error:
        status, message = "crashed", grading.setup_error
    result = {"status": status, "message": message, "tests": tests, "confined": process.confined,
              "seconds": time.perf_counter() - start, "peak_mb": _peak_mb()}
    nbformat.write(notebook, outdir / "autograded.ipynb")
    (outdir / "result.json").write_text(json.dumps(result, indent=1))
    return result


def _peak_mb():
    """This runner's peak resident memory in MB (what loading student models may raise)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 ** 2 if sys.platform == "darwin" else 1024)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("submission")
    parser.add_argument("outdir")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cell-timeout", type=float, default=30)
    parser.add_argument("--limits", default="{}", help="JSON of tfclinic.sandbox.confine.Limits")
    args = parser.parse_args(argv)
    become_subreaper()
    os.environ["TFCLINIC_SEED"] = str(args.seed)
    try:
        grade_submission(args.source, args.submission, args.outdir, seed=args.seed,
                         limits=Limits(**json.loads(args.limits)), cell_timeout=args.cell_timeout)
    finally:
        kill_new_descendants(before=set())


if __name__ == "__main__":
    main()
