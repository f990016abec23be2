"""Grade a folder of submissions with nbgrader: a fresh gradebook, a CSV and feedback.

Layout of SUBMISSIONS: ``<student>/<lesson>/<lesson>.ipynb``. Layout of the output folder::

    OUT/grades.csv                       one row per student and lesson, for an LMS import
    OUT/feedback/<student>/<lesson>.html what each student gets back
    OUT/gradebook.db                     nbgrader's gradebook, created fresh on every run
    OUT/nbgrader/                        nbgrader's working course directory

Each submission is autograded by its own nbgrader process, so one that cannot be graded is
recorded with a reason and a zero, and the others are still graded.
"""

import csv
import shutil
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from .errors import TfclinicError
from .nbgrader_course import SUBMISSION_TIMEOUT_SECONDS, NbgraderCourse, last_error_line
from .project import check_lesson, lessons as course_lessons
from .validate import read_notebook

MARKER = ".tfclinic-grading"
GRADED, CORRUPT, MISSING, FAILED, TIMEOUT, CRASHED = (
    "graded", "corrupt notebook", "missing notebook", "not graded", "timeout", "crashed")


@dataclass
class Grade:
    """One row of ``grades.csv``."""

    student: str
    lesson: str
    score: float
    max_score: float
    status: str
    message: str = ""


def find_submissions(submissions, only_lesson=None, known=()):
    """List ``(student, lesson, notebook_path)`` under ``submissions``, and folders to skip.

    Returns:
        ``(found, skipped)``; ``skipped`` holds ``"student/folder: reason"`` strings for
        folders that name no lesson of the course.
    """
    found, skipped = [], []
    for student_dir in sorted(p for p in Path(submissions).iterdir() if p.is_dir()):
        if student_dir.name.startswith("."):
            continue
        for lesson_dir in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            if lesson_dir.name.startswith("."):
                continue
            if lesson_dir.name not in known:
                skipped.append(f"{student_dir.name}/{lesson_dir.name}: not a lesson of this course")
            elif only_lesson in (None, lesson_dir.name):
                found.append((student_dir.name, lesson_dir.name,
                              lesson_dir / f"{lesson_dir.name}.ipynb"))
    return found, skipped


def prepare_output(out):
    """Make ``out`` an empty grading folder, replacing only what an earlier run wrote.

    Raises:
        TfclinicError: when ``out`` holds anything that tfclinic did not write.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise TfclinicError(f"--out {out} is a file, not a folder.")
    if out.exists() and any(out.iterdir()) and not (out / MARKER).exists():
        raise TfclinicError(f"--out {out} is not empty and was not written by tfclinic grade; "
                            "choose a new folder so nothing in it is overwritten.")
    for name in ("gradebook.db", "grades.csv"):
        (out / name).unlink(missing_ok=True)
    for name in ("nbgrader", "feedback"):
        shutil.rmtree(out / name, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("This folder is written by `tfclinic grade` and replaced on every run.\n")
    return out


def _max_scores(course, lessons):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.gradebook}") as gradebook:
        return {lesson: gradebook.find_assignment(lesson).max_score for lesson in lessons}


def _score(course, student, lesson):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.gradebook}") as gradebook:
        submission = gradebook.find_submission(lesson, student)
        return submission.score, submission.max_score


def grade(project, submissions, out, lesson=None, seed=None, timeout=SUBMISSION_TIMEOUT_SECONDS,
          report=print, warn=print):
    """Autograde every submission under ``submissions`` into the fresh folder ``out``.

    Args:
        project: the tfclinic checkout (its ``solutions/`` are the answer key).
        submissions: folder of ``<student>/<lesson>/<lesson>.ipynb``.
        out: the output folder (see the module docstring).
        lesson: grade only this lesson.
        seed: the ``TFCLINIC_SEED`` the hidden tests draw fresh data with.
        timeout: seconds one submission may take before it is stopped and scored zero.
        report: called with one progress line per submission.
        warn: called with one line per submission or folder that could not be graded.

    Returns:
        The list of ``Grade`` rows, also written to ``out/grades.csv``.

    Raises:
        TfclinicError: for a missing SUBMISSIONS folder, an unknown lesson, nothing to grade, or
            an ``out`` folder that holds other files.
    """
    submissions = Path(submissions)
    if not submissions.is_dir():
        raise TfclinicError(f"submissions folder {submissions} does not exist.")
    known = course_lessons(project)
    if lesson is not None:
        check_lesson(project, lesson)
    found, skipped = find_submissions(submissions, lesson, known)
    for line in skipped:
        warn(f"skipped {line}")
    if not found:
        raise TfclinicError(f"nothing to grade in {submissions}: expected "
                            "<student>/<lesson>/<lesson>.ipynb with lessons " + ", ".join(known) + ".")
    out = prepare_output(out)
    course = NbgraderCourse(project, out / "nbgrader", gradebook=out / "gradebook.db")
    lessons = sorted({lesson for _, lesson, _ in found})
    for name in lessons:
        course.add_source(name)
        done = course.run("generate_assignment", name, "--force")
        if done.returncode != 0:
            raise TfclinicError(f"nbgrader could not prepare {name}: {last_error_line(done)}")
    max_scores = _max_scores(course, lessons)

    grades = []
    for index, (student, name, notebook) in enumerate(found, start=1):
        start = time.perf_counter()
        row = _grade_one(course, student, name, notebook, max_scores[name], seed, timeout)
        grades.append(row)
        seconds = time.perf_counter() - start
        if row.status != GRADED:
            warn(f"{student}/{name}: {row.status}: {row.message}")
        report(f"[{index}/{len(found)}] {student}/{name}: {row.score:g}/{row.max_score:g} "
               f"{row.status} ({seconds:.1f} s)")

    _collect_feedback(course, out, grades, warn)
    write_csv(grades, out / "grades.csv")
    return grades


def _grade_one(course, student, lesson, notebook, max_score, seed, timeout):
    if not notebook.is_file():
        return Grade(student, lesson, 0, max_score, MISSING, f"no {lesson}.ipynb in {notebook.parent}")
    try:
        read_notebook(notebook)
    except TfclinicError as error:
        return Grade(student, lesson, 0, max_score, CORRUPT, str(error).split(": ", 1)[-1])
    course.add_submission(student, lesson, notebook)
    done = course.run("autograde", lesson, f"--student={student}", "--force", seed=seed,
                      timeout=timeout)
    if done.timed_out:
        return Grade(student, lesson, 0, max_score, TIMEOUT,
                     f"grading was stopped after {timeout:g} s; does a cell loop forever?")
    if done.returncode != 0:
        reason = last_error_line(done)
        if "CellTimeoutError" in reason:
            return Grade(student, lesson, 0, max_score, TIMEOUT, reason.split(": ", 1)[-1])
        if "DeadKernelError" in reason:
            return Grade(student, lesson, 0, max_score, CRASHED,
                         "the kernel died (a crash, os._exit or running out of memory)")
        return Grade(student, lesson, 0, max_score, FAILED, reason)
    score, max_score = _score(course, student, lesson)
    return Grade(student, lesson, score, max_score, GRADED)


def _collect_feedback(course, out, grades, warn):
    for lesson in sorted({g.lesson for g in grades if g.status == GRADED}):
        done = course.run("generate_feedback", lesson, "--force")
        if done.returncode != 0:
            warn(f"feedback for {lesson} failed: {last_error_line(done)}")
    for row in grades:
        source = course.path("feedback", row.student, row.lesson, suffix=".html")
        if row.status == GRADED and source.is_file():
            target = out / "feedback" / row.student / f"{row.lesson}.html"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)


def write_csv(grades, path):
    """Write ``grades`` as CSV with the columns of ``Grade``, one row per student and lesson."""
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[f.name for f in fields(Grade)])
        writer.writeheader()
        for row in grades:
            writer.writerow({**asdict(row), "score": f"{row.score:g}", "max_score": f"{row.max_score:g}",
                             "message": " ".join(row.message.split())})
