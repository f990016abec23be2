"""A throw-away nbgrader course directory, and the one function that runs nbgrader in it.

nbgrader wants its own layout (``source/``, ``release/``, ``submitted/``...) and a gradebook.
tfclinic keeps its repository layout (``solutions/``, ``exercises/``) and builds that layout
on demand, so nbgrader never writes logs or databases into the checkout. nbgrader runs in a
child process (``tfclinic.course.nbgrader_main``): a crash there is reported, it never takes the
caller down.
"""

import json
import os
import shutil
import sys
from pathlib import Path

from ..errors import TfclinicError
from ..processes import run_contained
from ..runtime import quiet_environment

# The per-cell time limit for graded runs. nbgrader's own default is 30 s too; we state it so
# that nobody has to guess, and lessons are written to stay far inside it. tfclinic counts it
# in CPU seconds of the student's process (so a busy machine does not fail a cell), and stops
# code that only waits at ten times as many wall seconds (tfclinic.processes.CpuBudget).
CELL_TIMEOUT_SECONDS = 30

# The limit for one whole submission, kernel start included, in CPU seconds too. A cell that
# ignores the interrupt sent at the cell limit would otherwise hold the batch up for ever.
SUBMISSION_TIMEOUT_SECONDS = 300

# stderr lines that are noise, not failure: Python warnings and TensorFlow/absl log lines.
# nbgrader scores any other stderr output in a test cell as a failed test.
STDERR_IGNORE_PATTERN = (
    r"(?m)^(.*\b\w*Warning\b.*|\s*warnings\.warn\(.*|\s*super\(\).__init__\(.*"
    r"|WARNING: All log messages before absl.*|[IWE]\d{4} .*)$"
)

_CONFIG_TEMPLATE = """\
# Written by tfclinic for one run; the course settings live in {shared}.
c = get_config()  # noqa: F821
load_subconfig({shared!r})  # noqa: F821
c.CourseDirectory.root = {root!r}
c.CourseDirectory.db_url = {db_url!r}
"""


class NbgraderCourse:
    """An nbgrader course directory under ``root`` whose gradebook is ``gradebook``."""

    def __init__(self, project, root, gradebook=None):
        self.project = Path(project).resolve()
        self.root = Path(root).resolve()
        self.gradebook = Path(gradebook).resolve() if gradebook else self.root / "gradebook.db"
        self.root.mkdir(parents=True, exist_ok=True)
        shared = self.project / "autograder" / "nbgrader_config.py"
        (self.root / "nbgrader_config.py").write_text(_CONFIG_TEMPLATE.format(
            shared=str(shared), root=str(self.root), db_url=f"sqlite:///{self.gradebook}"))

    def add_source(self, lesson):
        """Copy the solution notebook folder of ``lesson`` into ``source/``."""
        target = self.root / "source" / lesson
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(self.project / "solutions" / lesson, target,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))

    def add_submission(self, student, lesson, notebook):
        """Copy a student's notebook to ``submitted/<student>/<lesson>/<lesson>.ipynb``."""
        target = self.root / "submitted" / student / lesson
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(notebook, target / f"{lesson}.ipynb")

    def path(self, step, student, lesson, suffix=".ipynb"):
        """Where nbgrader keeps ``lesson`` of ``student`` at ``step`` (autograded, feedback...)."""
        return self.root / step / student / lesson / f"{lesson}{suffix}"

    def grade_submission(self, server, student, lesson, work, seed, timeout, limits, cell_timeout):
        """Grade the submitted ``lesson`` of ``student`` with ``tfclinic.sandbox.runner``.

        The runner is forked by ``server`` (a ``tfclinic.sandbox.forkserver.ForkServer``) and
        writes ``result.json``, ``autograded.ipynb`` and its logs into ``work``.

        Returns:
            A ``tfclinic.processes.Finished`` record.
        """
        args = [str(self.root / "source" / lesson / f"{lesson}.ipynb"),
                str(self.root / "submitted" / student / lesson / f"{lesson}.ipynb"), str(work),
                "--seed", str(seed), "--cell-timeout", str(cell_timeout),
                "--limits", json.dumps(limits.__dict__)]
        return server.run(args, cwd=work, env={"TFCLINIC_SEED": str(seed)}, timeout=timeout,
                          stdout=work / "runner-stdout.txt", stderr=work / "runner-stderr.txt")

    def run(self, *args, seed=None, timeout=None):
        """Run ``nbgrader ARGS`` in the course directory.

        Args:
            args: nbgrader's command line, after ``nbgrader``.
            seed: ``TFCLINIC_SEED`` for the notebooks it executes.
            timeout: seconds before nbgrader and everything it started are killed.

        Returns:
            A ``tfclinic.processes.Finished`` record.

        Raises:
            TfclinicError: when nbgrader could not load the course configuration. nbgrader
                itself logs that and carries on with its defaults, which would grade with the
                wrong settings.
        """
        env = {**os.environ, **quiet_environment()}
        # nbgrader runs `alembic` by name: find it beside this Python even without an activated venv
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        if seed is not None:
            env["TFCLINIC_SEED"] = str(seed)
        done = run_contained([sys.executable, "-m", "tfclinic.course.nbgrader_main", *args], cwd=self.root,
                             env=env, timeout=timeout)
        if "Exception while loading config file" in done.stderr:
            detail = [line.strip() for line in done.stderr.splitlines() if line.strip()]
            raise TfclinicError("nbgrader could not load autograder/nbgrader_config.py: "
                                + next((l for l in reversed(detail) if "Error" in l), detail[-1]))
        return done


def last_error_line(process):
    """The most telling line of a failed nbgrader run, for a one-line report."""
    lines = [line.strip() for line in (process.stderr + process.stdout).splitlines() if line.strip()]
    for line in reversed(lines):
        if "[ERROR]" in line or "Error" in line:
            return line
    return lines[-1] if lines else f"nbgrader exited with status {process.returncode}"
