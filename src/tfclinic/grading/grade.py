"""Grade a folder of submissions: a fresh gradebook, a CSV and feedback.

Layout of SUBMISSIONS: ``<student>/<lesson>/<lesson>.ipynb``, with the submission time in
``timestamp.txt`` beside it when ``tfclinic collect`` wrote the folder. Layout of the output
folder::

    OUT/grades.csv                       one row per student and lesson
    OUT/grades-<canvas|moodle|wide>.csv  one row per student, for an LMS import (``--export``)
    OUT/report.html                      the debrief: pass rates, common failures, late work
    OUT/feedback/<student>/<lesson>.html what each student gets back
    OUT/gradebook.db                     nbgrader's gradebook, created fresh on every run
    OUT/nbgrader/                        nbgrader's working course directory
    OUT/journal.jsonl                    what each recorded submission got, with the sha256
                                         of its notebook: ``--resume`` skips those

Each submission is graded by its own runner process (``tfclinic.sandbox.runner``): the
student's code runs confined in a process of its own, the tests run in the runner, and only
data passes between them. A submission that cannot be graded is recorded with a reason; the
others are still graded. Runners work in parallel (``jobs``); this process alone writes the
gradebook, the CSV and the feedback.

Where runners run is the executor's business: ``ThreadExecutor`` (threads of this process,
one fork server on this machine) or, with ``cluster``, ``tfclinic.grading.cluster``'s
``DaskExecutor`` (Dask distributed workers, one fork server per worker). Both feed the same
grading loop (``_grade_all``) with the same outcomes, so the scores do not depend on where a
submission was graded. ``resume`` keeps what an interrupted run recorded in
``OUT/journal.jsonl`` and grades only what is missing there, or changed since.

Deadlines and the late policy come from the course settings (``tfclinic.course.course_settings``);
the penalty is computed there once per submission, subtracted from ``score`` and recorded in
the gradebook as nbgrader's late-submission penalty, which its feedback page shows.
"""

import csv
import hashlib
import itertools
import json
import shutil
import time
import warnings
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..course.collect import read_students, student_name_problem
from ..course.course_settings import CourseSettings, read_timestamp, utc_text
from .debrief import write_debrief
from ..errors import TfclinicError
from .exports import printable, spreadsheet_safe, write_exports
from ..course.nbgrader_course import CELL_TIMEOUT_SECONDS, SUBMISSION_TIMEOUT_SECONDS, NbgraderCourse, last_error_line
from ..processes import descendant_pids, kill_new_descendants
from ..project import check_lesson, lessons as course_lessons
from ..runtime import lesson_seed
from ..sandbox.confine import LAYERS, Limits
from ..sandbox.forkserver import ForkServer
from ..validate import read_notebook

MARKER = ".tfclinic-grading"
JOURNAL = "journal.jsonl"
GRADED, CORRUPT, MISSING, FAILED, TIMEOUT, CRASHED, OUT_OF_MEMORY = (
    "graded", "corrupt notebook", "missing notebook", "not graded", "timeout", "crashed",
    "out of memory")


@dataclass
class Grade:
    """One row of ``grades.csv``; ``score`` is after the late penalty."""

    student: str
    lesson: str
    score: float
    max_score: float
    status: str
    message: str = ""
    submitted: datetime | None = None
    seconds_late: float | None = None
    penalty: float = 0.0


CSV_COLUMNS = ["student", "lesson", "score", "max_score", "status", "submitted", "hours_late",
               "penalty", "message"]


def find_submissions(submissions, only_lesson=None, known=()):
    """List ``(student, lesson, notebook_path)`` under ``submissions``, and folders to skip.

    Returns:
        ``(found, skipped)``; ``skipped`` holds ``"student/folder: reason"`` strings for
        folders that name no lesson of the course.

    Raises:
        TfclinicError: naming every student folder whose name cannot be graded (a comma,
            quote, newline or other character nbgrader, file systems or CSV files break on)
            and every symbolic link, before anything is graded; an LMS's display names go
            through ``tfclinic collect``, which turns them into such names.
    """
    found, skipped, refused = [], [], []
    for student_dir in sorted(p for p in Path(submissions).iterdir() if p.is_dir()):
        if student_dir.name.startswith("."):
            continue
        problem = student_name_problem(student_dir.name)
        if problem or student_dir.is_symlink():
            refused.append(problem or f"{student_dir.name!r} is a symbolic link; copy the folder instead")
            continue
        for lesson_dir in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            if lesson_dir.name.startswith("."):
                continue
            notebook = lesson_dir / f"{lesson_dir.name}.ipynb"
            if lesson_dir.is_symlink() or notebook.is_symlink():
                refused.append(f"{student_dir.name}/{printable(lesson_dir.name)} holds a symbolic link; "
                               "copy the notebook instead")
                continue
            if lesson_dir.name not in known:
                skipped.append(f"{student_dir.name}/{lesson_dir.name}: not a lesson of this course")
            elif only_lesson in (None, lesson_dir.name):
                found.append((student_dir.name, lesson_dir.name, notebook))
    if refused:
        raise TfclinicError(f"cannot grade {submissions}: " + "; ".join(refused[:5])
                            + (f"; and {len(refused) - 5} more" if len(refused) > 5 else "")
                            + ". Nothing was graded.")
    return found, skipped


def prepare_output(out, resume=False):
    """Make ``out`` an empty grading folder, replacing only what an earlier run wrote.

    With ``resume`` and a journal in ``out``, the gradebook, nbgrader's folder and the
    journal stay; what is written at the end of a run (CSV, exports, debrief, feedback) goes.

    Raises:
        TfclinicError: when ``out`` holds anything that tfclinic did not write.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise TfclinicError(f"--out {out} is a file, not a folder.")
    if out.exists() and any(out.iterdir()) and not (out / MARKER).exists():
        raise TfclinicError(f"--out {out} is not empty and was not written by tfclinic grade; "
                            "choose a new folder so nothing in it is overwritten.")
    keep = resume and (out / JOURNAL).is_file()
    for name in ("grades.csv", "report.html", *(f"grades-{f}.csv" for f in ("canvas", "moodle", "wide")),
                 *(() if keep else ("gradebook.db", JOURNAL))):
        (out / name).unlink(missing_ok=True)
    for name in ("feedback", *(() if keep else ("nbgrader",))):
        shutil.rmtree(out / name, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("This folder is written by `tfclinic grade` and replaced on every run.\n")
    return out


def _max_scores(course, lessons):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.gradebook}") as gradebook:
        return {lesson: gradebook.find_assignment(lesson).max_score for lesson in lessons}


def grade(project, submissions, out, lesson=None, seed=None, timeout=SUBMISSION_TIMEOUT_SECONDS,
          jobs=1, limits=Limits(), cell_timeout=CELL_TIMEOUT_SECONDS, report=print, warn=print,
          feedback=True, server=None, settings=CourseSettings(), exports=(), cluster=None,
          resume=False):
    """Autograde every submission under ``submissions`` into the fresh folder ``out``.

    Args:
        project: the tfclinic checkout (its ``solutions/`` are the answer key).
        submissions: folder of ``<student>/<lesson>/<lesson>.ipynb``.
        out: the output folder (see the module docstring).
        lesson: grade only this lesson.
        seed: the ``TFCLINIC_SEED`` the hidden tests draw fresh data with.
        timeout: CPU seconds one submission may use before it is stopped and scored zero.
        jobs: how many submissions to grade at once (on this machine; not with ``cluster``).
        limits: a ``tfclinic.sandbox.confine.Limits`` for each student process.
        cell_timeout: CPU seconds one cell, or one call into student code, may use (code that
            only waits is stopped at ten times as many wall seconds).
        report: called with one progress line per submission, as it finishes.
        warn: called with one line per submission or folder that could not be graded.
            Both get their lines with control characters escaped (``exports.printable``):
            folder names and runners' messages are the students' to shape.
        feedback: write ``out/feedback/`` and the debrief ``out/report.html`` (tests of
            scores alone skip both).
        server: a running ``ForkServer`` to reuse across calls, started with the same
            ``jobs`` (it runs that many runners at once); by default one is started for this
            call and stopped at its end.
        settings: the ``CourseSettings`` with deadlines and the late policy.
        exports: LMS formats to write besides ``grades.csv`` (``tfclinic.grading.exports.FORMATS``).
        cluster: grade on Dask distributed workers instead of here: a scheduler's address
            (``tcp://host:8786``, ``tls://...``) or ``local:N`` for N local workers
            (``tfclinic.grading.cluster``; needs the ``tfclinic[cluster]`` extra).
        resume: keep what an earlier, interrupted run into ``out`` recorded for the same
            notebook bytes (and the same seed, limits and lesson sources); grade the rest.

    Returns:
        The list of ``Grade`` rows, also written to ``out/grades.csv``.

    Raises:
        TfclinicError: for a missing SUBMISSIONS folder, an unknown lesson, nothing to grade,
            ``jobs`` below 1, or an ``out`` folder that holds other files.
    """
    report, warn = _printable_lines(report), _printable_lines(warn)
    submissions = Path(submissions)
    if not submissions.is_dir():
        raise TfclinicError(f"submissions folder {submissions} does not exist.")
    if jobs < 1:
        raise TfclinicError(f"--jobs must be at least 1, not {jobs}.")
    known = course_lessons(project)
    if lesson is not None:
        check_lesson(project, lesson)
    found, skipped = find_submissions(submissions, lesson, known)
    for line in skipped:
        warn(f"skipped {line}")
    if not found:
        raise TfclinicError(f"nothing to grade in {submissions}: expected "
                            "<student>/<lesson>/<lesson>.ipynb with lessons " + ", ".join(known) + ".")
    submitted = _submission_times(found, warn)
    if resume and not (Path(out) / JOURNAL).is_file():
        warn(f"nothing to resume in {out} (no {JOURNAL}): grading every submission")
    out = prepare_output(out, resume=resume)
    course = NbgraderCourse(project, out / "nbgrader", gradebook=out / "gradebook.db")
    lessons = sorted({lesson for _, lesson, _ in found})
    for name in lessons:
        course.add_source(name)
    seed = lesson_seed() if seed is None else seed
    options = dict(seed=seed, timeout=timeout, limits=limits, cell_timeout=cell_timeout)
    journal = Journal(out / JOURNAL, course, lessons, options)
    before = descendant_pids()

    if cluster:
        from .cluster import DaskExecutor

        executor = DaskExecutor(cluster, warn=warn)
    else:
        executor = ThreadExecutor(jobs, server)
    with executor, journal:
        grades, tests, unconfined = _grade_all(executor, course, found, report, warn, settings,
                                               submitted, journal, **options)
        rows = [grades[(student, name)] for student, name, _ in found]
        rendered = feedback and executor.render_feedback(course, out, rows, tests, settings.deadlines, warn)
    kill_new_descendants(before)
    if unconfined:
        missing = (f"{layer} layer (it needs {LAYERS.get(layer, 'see tfclinic.sandbox.confine')})"
                   for layer in sorted(unconfined))
        warn("this machine could not confine student code fully: no " + "; no ".join(missing))
    unknown = sum(row.submitted is None and row.lesson in settings.deadlines for row in rows)
    if unknown:
        warn(f"{unknown} submissions have no submission time (no timestamp.txt; `tfclinic collect` "
             "writes one) and were not judged late")
    if feedback and not rendered:
        _collect_feedback(course, out, rows, jobs, warn)
    write_csv(rows, out / "grades.csv")
    _, export_warnings = write_exports(exports, rows, out, read_students(submissions), settings.lms_columns)
    for line in export_warnings:
        warn(line)
    if feedback:
        write_debrief(out / "report.html", rows, tests, settings, skipped)
    return rows


def _printable_lines(emit):
    return lambda line: emit(printable(line))


def refuse_unconfined(allow=False, warn=print):
    """Refuse to grade on a host that cannot keep student code off the instructor's files,
    network or memory, unless ``allow``: then warn, naming what is missing.

    The host is probed as ``tfclinic doctor --instructor`` probes it (``tfclinic.doctor``).
    A missing ``processes`` layer (Linux before 6.7) does not refuse; like any layer that did
    not hold while grading, it is named in the warning at the end of ``grade``.

    Returns:
        The missing layers that would have refused grading.

    Raises:
        TfclinicError: naming the missing layers and ``--allow-unconfined``.
    """
    from ..doctor import PROTECTING_LAYERS, confinement_report, missing_layers

    report = confinement_report()
    missing = [layer for layer in missing_layers(report) if layer in PROTECTING_LAYERS]
    if not missing:
        return []
    named = (f"the confinement probe failed ({report['error']})" if "error" in report else
             "; ".join(f"no {layer} layer ({LAYERS[layer]})" for layer in missing))
    if not allow:
        raise TfclinicError(
            f"this machine cannot confine student code: {named}, so student code could read or "
            "change your files (the answer key, the gradebook) or use the network while it is "
            "graded. Grade on a host that confines it (`tfclinic doctor --instructor` checks), or "
            "pass --allow-unconfined to grade here anyway. Nothing was graded.")
    warn(f"grading without confinement (--allow-unconfined): {named}")
    return missing


def _submission_times(found, warn):
    """``{(student, lesson): aware datetime or None}`` from each folder's ``timestamp.txt``."""
    times = {}
    for student, lesson, notebook in found:
        try:
            times[student, lesson] = read_timestamp(notebook.parent)
        except TfclinicError as error:
            warn(f"{student}/{lesson}: {error}; its lateness is unknown")
            times[student, lesson] = None
    return times


def _grade_all(executor, course, found, report, warn, settings, submitted, journal, **options):
    """Grade ``found`` with ``executor``; this thread alone records scores in the gradebook.

    The executor starts grading while nbgrader prepares every lesson, in one process; scores
    are recorded once the gradebook exists. What ``journal`` kept from an earlier run is
    reported again but neither graded nor recorded twice; each submission is recorded once,
    whatever the executor hands back.

    Returns:
        ``({(student, lesson): Grade}, {(student, lesson): test results},
        names of confinement layers that did not hold)``.
    """
    from nbgrader.api import Gradebook

    lessons = sorted({lesson for _, lesson, _ in found})
    grades, results, unconfined = {}, {}, set()
    kept = journal.kept(found)
    notebooks = {(student, lesson): notebook for student, lesson, notebook in found}
    todo = [(student, lesson, notebook) for student, lesson, notebook in found if (student, lesson) not in kept]
    with ThreadPoolExecutor(max_workers=1) as preparer:
        try:
            prepared = preparer.submit(course.run, "generate_assignment", "*", "--force")
            outcomes = executor.grade(course, todo, options)
            done = prepared.result()
            if done.returncode != 0:
                raise TfclinicError(f"nbgrader could not prepare {', '.join(lessons)}: {last_error_line(done)}")
            max_scores = _max_scores(course, lessons)
            with Gradebook(f"sqlite:///{course.gradebook}") as gradebook:
                journal.forget(gradebook, todo)
                index = 0
                for (student, lesson), outcome, earlier in itertools.chain(
                        ((key, outcome, True) for key, outcome in kept.items()),
                        ((key, outcome, False) for key, outcome in outcomes)):
                    if (student, lesson) in grades:
                        continue
                    index += 1
                    status, message, score, tests, seconds, confined = outcome
                    when = submitted[student, lesson]
                    late = settings.seconds_late(lesson, when)
                    penalty = settings.late.penalty(score, max_scores[lesson], late) if status == GRADED else 0.0
                    row = grades[student, lesson] = Grade(student, lesson, score - penalty, max_scores[lesson],
                                                          status, message, when, late, penalty)
                    results[student, lesson] = tests
                    unconfined.update(layer for layer, held in confined.items() if not held)
                    if not earlier:
                        _record(gradebook, row, tests, settings.deadlines.get(lesson))
                        journal.add(student, lesson, outcome, notebooks[student, lesson])
                    if row.status != GRADED:
                        warn(f"{student}/{lesson}: {row.status}: {row.message}")
                    late_note = f", {penalty:g} off for lateness" if penalty else ""
                    report(f"[{index}/{len(found)}] {student}/{lesson}: {row.score:g}/{row.max_score:g} "
                           f"{row.status}{late_note} "
                           + ("(recorded by an earlier run)" if earlier else f"({seconds:.1f} s)"))
        except BaseException:  # Ctrl-C, or nbgrader failed: stop every runner now
            executor.cancel()
            raise
    return grades, results, unconfined


class ThreadExecutor:
    """Grade on this machine: ``jobs`` threads, each waiting on a runner of one fork server.

    The interface every executor has (``tfclinic.grading.cluster.DaskExecutor`` too): a
    context manager, ``grade`` (start grading, return an iterator of outcomes as they
    finish), ``cancel`` (stop everything now) and ``render_feedback`` (render feedback where
    the work was done, or return False to leave it to ``_collect_feedback`` here).

    Args:
        jobs: runners at once.
        server: a running ``ForkServer`` started with the same ``jobs``, or None for a new
            one, stopped at the end.
    """

    def __init__(self, jobs, server=None):
        self.jobs, self.server, self._owned = jobs, server, server is None

    def __enter__(self):
        self._pool = ThreadPoolExecutor(max_workers=self.jobs)
        if self._owned:
            self.server = ForkServer(self.jobs)
        return self

    def __exit__(self, *exc):
        self._pool.shutdown()
        if self._owned:
            self.server.close()

    def grade(self, course, found, options):
        """Start grading ``found`` now; returns an iterator of ``((student, lesson), outcome)``."""
        futures = {self._pool.submit(_grade_one, self.server, course, student, lesson, notebook, **options):
                   (student, lesson) for student, lesson, notebook in found}
        return ((futures[future], future.result()) for future in as_completed(futures))

    def cancel(self):
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.server.close()

    def render_feedback(self, course, out, rows, tests, deadlines, warn):
        return False  # rendered by grade() once the runners are gone, as it always was


def _grade_one(server, course, student, lesson, notebook, seed, timeout, limits, cell_timeout):
    """Grade one submission in a runner process.

    Returns:
        ``(status, message, score, tests, seconds, confined)``.
    """
    start = time.perf_counter()
    if not notebook.is_file():
        return _ungraded(MISSING, f"no {lesson}.ipynb in {notebook.parent}")
    try:
        read_notebook(notebook)
    except TfclinicError as error:
        return _ungraded(CORRUPT, str(error).split(": ", 1)[-1])
    course.add_submission(student, lesson, notebook)
    work = course.path("graded", student, lesson).parent
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    done = course.grade_submission(server, student, lesson, work, seed=seed, timeout=timeout,
                                   limits=limits, cell_timeout=cell_timeout)
    outcome = runner_outcome(done, work, timeout, time.perf_counter() - start)
    if not done.timed_out and done.returncode == 0 and (work / "result.json").is_file():
        target = course.path("autograded", student, lesson)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(work / "autograded.ipynb", target)
    return outcome


def runner_outcome(done, work, timeout, seconds):
    """What a runner that ended as ``done`` (a ``Finished``) left in ``work``, as an outcome
    ``(status, message, score, tests, seconds, confined)``; wherever the runner ran."""
    result_file = work / "result.json"
    if done.timed_out:
        return _ungraded(TIMEOUT, f"grading was stopped after {timeout:g} s of CPU; does a cell loop forever?", seconds)
    if done.returncode != 0 or not result_file.is_file():
        return _ungraded(FAILED, last_error_line(done), seconds)
    result = json.loads(result_file.read_text())
    score = sum(test["score"] for test in result["tests"].values())
    return result["status"], result["message"], score, result["tests"], seconds, result["confined"]


def _ungraded(status, message, seconds=0.0):
    return status, message, 0, {}, seconds, {}


class Journal:
    """``OUT/journal.jsonl``: one line per recorded submission, appended by the writer thread
    right after the gradebook committed it.

    A line holds the outcome, the sha256 of the notebook's bytes and a digest of what else
    decides the score (the seed, limits, time limits and the lesson's source notebook). A
    later run with ``resume`` keeps a submission whose last line matches both and was not an
    infrastructure failure (``not graded``); any other is graded again, its old gradebook
    entry and graded notebook removed first.
    """

    def __init__(self, path, course, lessons, options):
        self.path, self.course = Path(path), course
        settings = {key: (value.__dict__ if isinstance(value, Limits) else value)
                    for key, value in sorted(options.items())}
        self.conditions = {lesson: _digest(json.dumps(
            {**settings, "source": _digest((course.root / "source" / lesson / f"{lesson}.ipynb").read_bytes())},
            sort_keys=True).encode()) for lesson in lessons}
        self.earlier = {}  # (student, lesson) -> the last line an earlier run wrote
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                    self.earlier[entry["student"], entry["lesson"]] = entry
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short when the run was killed

    def __enter__(self):
        self._handle = open(self.path, "a", encoding="utf-8")
        return self

    def __exit__(self, *exc):
        self._handle.close()

    def kept(self, found):
        """``{(student, lesson): outcome}`` of ``found`` recorded earlier for the same bytes."""
        kept = {}
        for student, lesson, notebook in found:
            entry = self.earlier.get((student, lesson))
            if (entry and entry["status"] != FAILED and entry["conditions"] == self.conditions[lesson]
                    and entry["sha256"] == _file_digest(notebook)):
                kept[student, lesson] = (entry["status"], entry["message"], entry["score"], entry["tests"],
                                         entry["seconds"], entry["confined"])
        return kept

    def forget(self, gradebook, todo):
        """Remove what an earlier run recorded for the submissions about to be graded again."""
        from nbgrader.api import MissingEntry

        for student, lesson, _ in todo:
            if (student, lesson) in self.earlier:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        gradebook.remove_submission(lesson, student)
                    except MissingEntry:
                        pass
                self.course.path("autograded", student, lesson).unlink(missing_ok=True)

    def add(self, student, lesson, outcome, notebook):
        """Append the ``outcome`` of ``notebook`` (the submission's file, hashed again here)."""
        status, message, score, tests, seconds, confined = outcome
        entry = {"student": student, "lesson": lesson, "sha256": _file_digest(notebook),
                 "conditions": self.conditions[lesson], "status": status, "message": message,
                 "score": score, "tests": tests, "seconds": seconds, "confined": confined}
        self._handle.write(json.dumps(entry) + "\n")
        self._handle.flush()


def _digest(data):
    return hashlib.sha256(data).hexdigest()


def _file_digest(path):
    try:
        return _digest(Path(path).read_bytes())
    except OSError:
        return None


def _record(gradebook, row, tests, deadline=None):
    """Write one submission's test scores, time and late penalty into nbgrader's gradebook."""
    if not tests:
        return
    gradebook.update_or_create_student(row.student)
    if deadline is not None:
        gradebook.update_or_create_assignment(row.lesson, duedate=deadline)
    with warnings.catch_warnings():  # nbgrader's own add_submission trips SQLAlchemy warnings
        warnings.simplefilter("ignore")
        extra = {"timestamp": row.submitted} if row.submitted else {}
        submission = gradebook.add_submission(row.lesson, row.student, **extra)
    for index, notebook in enumerate(submission.notebooks):
        for cell in notebook.grades:
            cell.auto_score = float(tests.get(cell.name, {}).get("score", 0.0))
        notebook.late_submission_penalty = row.penalty if index == 0 else 0.0
    gradebook.db.commit()


def _collect_feedback(course, out, grades, jobs, warn):
    """Render feedback with nbgrader, ``jobs`` processes at once, each for a share of the students."""
    with_notebook = [g for g in grades if course.path("autograded", g.student, g.lesson).is_file()]
    if not with_notebook:
        return
    students = sorted({g.student for g in with_notebook})
    # nbgrader takes a comma-separated list of students to leave out; a name with a comma can't be in one
    shares = 1 if any("," in s for s in students) else min(jobs, len(students))

    def render(share):
        others = [s for index, s in enumerate(students) if index % shares != share]
        exclude = [f"--CourseDirectory.student_id_exclude={','.join(others)}"] if others else []
        return course.run("generate_feedback", "*", "--force", *exclude)  # every lesson, in one process

    with ThreadPoolExecutor(max_workers=shares) as pool:
        for done in pool.map(render, range(shares)):
            if done.returncode != 0:
                warn(f"feedback failed: {last_error_line(done)}")
    for row in with_notebook:
        source = course.path("feedback", row.student, row.lesson, suffix=".html")
        if source.is_file():
            target = out / "feedback" / row.student / f"{row.lesson}.html"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)


def write_csv(grades, path):
    """Write ``grades`` with ``CSV_COLUMNS``, one row per student and lesson.

    ``submitted`` is UTC ISO 8601 (empty when unknown), ``hours_late`` is empty when on time
    or when the lesson has no deadline; text a spreadsheet would run as a formula is made
    inert (``tfclinic.grading.exports.spreadsheet_safe``).
    """
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in grades:
            writer.writerow({
                "student": spreadsheet_safe(row.student), "lesson": row.lesson,
                "score": f"{row.score:g}", "max_score": f"{row.max_score:g}", "status": row.status,
                "submitted": utc_text(row.submitted) if row.submitted else "",
                "hours_late": f"{row.seconds_late / 3600:.2f}" if row.seconds_late else "",
                "penalty": f"{row.penalty:g}", "message": spreadsheet_safe(row.message)})
