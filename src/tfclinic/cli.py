"""The ``tfclinic`` command line: book, release, validate, collect, grade, workshop, checkup.

User mistakes (a wrong path, an unknown lesson, a corrupt notebook) end with one line on
stderr and exit status 2, never a Python traceback.
"""

import argparse
import sys
import time

from .errors import TfclinicError
from .course.nbgrader_course import SUBMISSION_TIMEOUT_SECONDS
from .processes import skip_slow_unused_imports
from .course.workshop import DEFAULT_PORT


def _book(args):
    from .course.book import build
    from .project import project_root

    if args.publish and args.with_solutions:
        raise TfclinicError("--publish builds the public book; the instructor edition "
                            "(--with-solutions) is never published.")
    index = build(project_root(), with_solutions=args.with_solutions, publish=args.publish)
    if args.with_solutions:
        print(f"\nThe instructor edition (solutions and hidden tests; do not publish it) is in "
              f"{index.parent}: open file://{index}")
    elif args.publish:
        print(f"\nThe book to publish is ready in {index.parent} (deploy that folder)")
    else:
        print(f"\nThe book is ready: open file://{index}")
    return 0


def _release(args):
    from .project import check_lesson, lessons, project_root
    from .course.book import chapters
    from .course.chapter_notebooks import stale_chapter_notebooks, write_chapter_notebooks
    from .course.release import drift, generate, refresh_setup_cells

    root = project_root()
    names = [check_lesson(root, name) for name in args.lessons] or lessons(root)
    if args.check:
        stale = refresh_setup_cells(root, names, write=False)
        for name in stale:
            print(f"solutions/{name} has a missing or stale setup cell (book/_config.yml, the "
                  "version); run `tfclinic release`", file=sys.stderr)
        changed = drift(root, names)
        for name in changed:
            print(f"exercises/{name} differs from what `tfclinic release` generates", file=sys.stderr)
        drifted = [] if args.lessons else stale_chapter_notebooks(root, chapters(root))
        for name in drifted:
            print(f"chapters/{name.removesuffix('.ipynb')}.ipynb differs from what `tfclinic "
                  "release` generates from the book", file=sys.stderr)
        if not changed and not stale and not drifted:
            print(f"exercises/ and chapters/ are up to date ({len(names)} lessons)")
        return 1 if changed or stale or drifted else 0
    for name in refresh_setup_cells(root, names):
        print(f"refreshed the setup cell of solutions/{name}/{name}.ipynb")
    generate(root, names, root / "exercises")
    for name in names:
        print(f"released exercises/{name}/{name}.ipynb")
    if not args.lessons:
        for name in write_chapter_notebooks(root, chapters(root)):
            print(f"wrote chapters/{name}.ipynb from book/{name}.md")
    return 0


def _validate(args):
    from .validate import format_report, validate

    start = time.perf_counter()
    if getattr(args, "fresh", False):
        from .practice import format_outcomes
        from .validate import practice

        lesson, outcomes, stopped = practice(args.notebook, seed=args.seed)
        print(format_outcomes(lesson, outcomes) + (f"\n  execution stopped early: {stopped}" if stopped else ""))
        return 0 if all(o.passed for o in outcomes) and not stopped else 1
    results, stopped = validate(args.notebook, seed=args.seed)
    print(format_report(args.notebook, results, stopped, time.perf_counter() - start))
    return 0 if all(r.passed for r in results) and not stopped else 1


def _progress_bar(line, width=24):
    """``[3/20] ...`` becomes ``[######------------------] [3/20] ...``."""
    done, total = (int(n) for n in line[1:line.index("]")].split("/"))
    filled = round(width * done / total)
    return f"[{'#' * filled}{'-' * (width - filled)}] {line}"


def _grade(args):
    from .course.course_settings import settings_for
    from .grading.exports import parse_formats
    from .grading.grade import GRADED, grade, refuse_unconfined
    from .project import lessons, project_root
    from .sandbox.confine import Limits

    def warn(line):
        print(f"tfclinic: {line}", file=sys.stderr, flush=True)

    def report(line):
        print(_progress_bar(line), flush=True)

    root = project_root()
    settings = settings_for(root, args.settings, lessons(root))
    exports = parse_formats(args.export) if args.export else []
    if not args.cluster:  # Dask workers probe their own hosts (tfclinic.grading.cluster)
        refuse_unconfined(args.allow_unconfined, warn)
    rows = grade(root, args.submissions, args.out, lesson=args.lesson, seed=args.seed,
                 timeout=args.timeout, jobs=args.jobs, limits=Limits(memory_mb=args.memory),
                 report=report, warn=warn, settings=settings, exports=exports, cluster=args.cluster,
                 resume=args.resume)
    graded = sum(row.status == GRADED for row in rows)
    late = sum(bool(row.seconds_late) for row in rows)
    print(f"\n{graded} of {len(rows)} submissions graded, {late} late; grades in {args.out}/grades.csv"
          + "".join(f", {args.out}/grades-{name}.csv" for name in exports)
          + f"; feedback in {args.out}/feedback/; debrief in {args.out}/report.html")
    return 0


def _collect(args):
    from .course.collect import collect
    from .course.course_settings import settings_for
    from .project import lessons, project_root

    root = project_root()
    settings = settings_for(root, args.settings, lessons(root))
    done = collect(root, args.source, args.into, lesson=args.lesson, settings=settings,
                   replace=args.replace)
    for entry, reason in done.problems:
        print(f"tfclinic: not collected: {entry.path!r}: {reason}", file=sys.stderr)
    for placement in done.replaced:
        print(f"replaced {placement.student}/{placement.lesson} (the earlier copy is in "
              f"{args.into}/.history/)")
    late = sum(p.lms_late for p in done.placed + done.replaced)
    print(f"{len(done.placed)} placed, {len(done.replaced)} replaced, {len(done.unchanged)} unchanged, "
          f"{len(done.problems)} not collected" + (f" ({late} marked late by the LMS)" if late else "")
          + f"; grade them with: tfclinic grade {args.into} --out DIR")
    return 1 if done.problems else 0


def _workshop(args):
    from .project import project_root
    from .course.workshop import check_port_free, check_validate_extension, prepare, start_lab, summary

    if not 1 <= args.port <= 65535:
        raise TfclinicError(f"--port must be between 1 and 65535, got {args.port}.")
    if not args.prepare_only:  # fail before writing anything if the server cannot start
        check_port_free(args.port)
        check_validate_extension()
    workspace = prepare(project_root(), args.folder)
    for line in summary(workspace):
        print(line)
    if args.prepare_only:
        print(f"The workspace is ready; start JupyterLab there with: tfclinic workshop {args.folder}")
        return 0
    print(f"Starting JupyterLab in {workspace.folder} on http://127.0.0.1:{args.port}/lab "
          "(press Control-C twice to stop it)", flush=True)
    start_lab(workspace.folder, args.port, open_browser=not args.no_browser)
    return 0  # not reached: start_lab replaces this process


def _checkup(args):
    from .checkup.script import run_script

    return run_script(args.script, args.args, strict=args.strict, deep=args.deep)


def _doctor(args):
    from .doctor import FAIL, Machine, format_result, run_checks, summary

    start = time.perf_counter()
    results = run_checks(Machine(instructor=args.instructor),
                         report=lambda result: print(format_result(result), flush=True))
    print(summary(results, time.perf_counter() - start))
    return 1 if any(result.status == FAIL for result in results) else 0


def parser():
    """The argument parser, one subcommand per workflow."""
    top = argparse.ArgumentParser(
        prog="tfclinic", description="Why isn't my TensorFlow model training? "
        "Build the book, release exercises, check and grade notebooks.")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    book = sub.add_parser("book", help="execute every chapter and build the HTML book",
                          description="Execute every chapter (cached) and build book/_build/html.")
    book.add_argument("--with-solutions", action="store_true",
                      help="build the instructor edition, with every lesson's solution notebook "
                      "and hidden tests, into book/_build/instructor (never publish it)")
    book.add_argument("--publish", action="store_true",
                      help="build the edition to publish (what CI deploys to GitHub Pages): "
                      "refuse a placeholder repository.url in book/_config.yml, use the book's "
                      "absolute address, and include the wheel the notebooks' setup cell installs")
    book.set_defaults(run=_book)

    release = sub.add_parser("release", help="generate exercises/ from solutions/ with nbgrader",
                             description="Regenerate the student notebooks in exercises/ from the "
                             "nbgrader source notebooks in solutions/ (refreshing their setup cell "
                             "from book/_config.yml), and, when no LESSON is named, the chapter "
                             "notebooks in chapters/ from the book. Never edit exercises/ or "
                             "chapters/ by hand.")
    release.add_argument("lessons", nargs="*", metavar="LESSON", help="lessons to release (default: all)")
    release.add_argument("--check", action="store_true",
                         help="write nothing; exit 1 if exercises/, chapters/ or a setup cell differs "
                         "from a fresh release")
    release.set_defaults(run=_release)

    validate = sub.add_parser("validate", help="run a notebook and report each test cell",
                              description="Run NOTEBOOK from top to bottom as the grader would and "
                              "report, per graded test cell, whether it passed and why not.")
    validate.add_argument("notebook", metavar="NOTEBOOK", help="path to your .ipynb file")
    validate.add_argument("--seed", type=int, default=None, help="data seed (default: the lesson's)")
    validate.add_argument("--fresh", action="store_true",
                          help="instead of the test cells, call your functions on freshly drawn "
                               "sizes and data (practice checks, not the hidden tests)")
    validate.set_defaults(run=_validate)

    grade = sub.add_parser("grade", help="autograde a folder of submissions",
                           description="Autograde SUBMISSIONS/<student>/<lesson>/<lesson>.ipynb "
                           "into a fresh gradebook; write OUT/grades.csv and OUT/feedback/.")
    grade.add_argument("submissions", metavar="SUBMISSIONS", help="folder of student folders")
    grade.add_argument("--out", required=True, metavar="DIR", help="output folder (new, or from an earlier grade run)")
    grade.add_argument("--lesson", default=None, help="grade only this lesson")
    grade.add_argument("--seed", type=int, default=None,
                       help="seed of the fresh data hidden tests draw (default: the lesson's)")
    grade.add_argument("--timeout", type=float, default=SUBMISSION_TIMEOUT_SECONDS, metavar="SECONDS",
                       help="stop a submission that uses more CPU seconds and score it zero; "
                       "a busy machine does not change that count "
                       f"(default: {SUBMISSION_TIMEOUT_SECONDS})")
    grade.add_argument("--jobs", "-j", type=int, default=1, metavar="N",
                       help="grade N submissions at once (default: 1; at most one per CPU core helps)")
    grade.add_argument("--memory", type=int, default=2048, metavar="MB",
                       help="memory one student's code may use before it is stopped (default: 2048)")
    grade.add_argument("--export", default=None, metavar="FORMATS",
                       help="also write OUT/grades-FORMAT.csv, one row per student, for canvas, "
                       "moodle or wide (comma-separated)")
    grade.add_argument("--settings", default=None, metavar="FILE",
                       help="course settings with deadlines and the late policy "
                       "(default: autograder/course.toml)")
    grade.add_argument("--cluster", default=None, metavar="ADDRESS",
                       help="grade on Dask distributed workers: a scheduler's tcp:// or tls:// "
                       "address, or local:N for N workers on this machine (pip install "
                       "'tfclinic[cluster]'); OUT is still written here alone")
    grade.add_argument("--resume", action="store_true",
                       help="keep what an interrupted run into OUT recorded for the same notebook "
                       "bytes (OUT/journal.jsonl) and grade only the rest")
    grade.add_argument("--allow-unconfined", action="store_true",
                       help="grade even where student code cannot be kept from your files and the "
                       "network (no Landlock or user namespaces: see `tfclinic doctor --instructor`); "
                       "without it, such a host exits with status 2 before grading")
    grade.set_defaults(run=_grade)

    collect = sub.add_parser("collect", help="lay out an LMS's submissions archive for grading",
                             description="Turn a Canvas or Moodle \"download all submissions\" "
                             "archive, or a folder of .ipynb files, into SUBMISSIONS/<student>/"
                             "<lesson>/<lesson>.ipynb with each submission's time. Exit status: 0 "
                             "when every entry was collected, 1 when some were not (each is named), "
                             "2 when nothing could be read.")
    collect.add_argument("source", metavar="ARCHIVE_OR_FOLDER", help="a .zip from the LMS, or a folder")
    collect.add_argument("--into", required=True, metavar="SUBMISSIONS", help="the folder to collect into")
    collect.add_argument("--lesson", default=None,
                         help="the lesson of every notebook (default: from file names or cells)")
    collect.add_argument("--replace", action="store_true",
                         help="replace notebooks already collected with other content "
                         "(the earlier copies are kept in SUBMISSIONS/.history/)")
    collect.add_argument("--settings", default=None, metavar="FILE",
                         help="course settings (default: autograder/course.toml)")
    collect.set_defaults(run=_collect)

    workshop = sub.add_parser("workshop", help="prepare a student workspace and start JupyterLab in it",
                              description="Copy every exercise notebook to DIR/<lesson>/<lesson>.ipynb "
                              "with a short README (a notebook already in DIR is kept, never "
                              "replaced), then start JupyterLab in DIR with nbgrader's Validate "
                              "button.")
    workshop.add_argument("folder", metavar="DIR", help="the workspace folder (created if missing)")
    workshop.add_argument("--port", type=int, default=DEFAULT_PORT, metavar="N",
                          help=f"port of JupyterLab on 127.0.0.1 (default: {DEFAULT_PORT})")
    workshop.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    workshop.add_argument("--prepare-only", action="store_true",
                          help="prepare DIR and stop, without starting JupyterLab")
    workshop.set_defaults(run=_workshop)
    checkup = sub.add_parser("checkup", help="run a training script and explain what stops it training",
                             description="Run SCRIPT unchanged; when it first trains (fit, "
                             "train_on_batch, or a loop with tfclinic.checkup.watch), check the model "
                             "and data and print the report; explain the errors the book covers if it "
                             "crashes, and judge how its loss moved when it ends.")
    checkup.add_argument("--strict", action="store_true",
                         help="stop with exit status 1 when the report has errors")
    checkup.add_argument("--deep", action="store_true",
                         help="also run a short trial training on a copy of the model (seconds)")
    checkup.add_argument("script", metavar="SCRIPT", help="the training script, e.g. train.py")
    checkup.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to SCRIPT")
    checkup.set_defaults(run=_checkup)

    doctor = sub.add_parser("doctor", help="check that this machine is ready for the course",
                            description="Check this machine for the course in under a minute: "
                            "Python, TensorFlow, a two-second training run, JupyterLab with the "
                            "Validate button, free disk and memory, and whether grading could "
                            "confine student code here. One line per check: PASS, WARN (works, "
                            "with a risk) or FAIL, with the fix. Exit status: 0 when no check "
                            "fails (warnings included), 1 when any check fails.")
    doctor.add_argument("--instructor", action="store_true",
                        help="this machine will run `tfclinic grade`: fail when grading could not "
                        "confine student code (for students that line is informational)")
    doctor.set_defaults(run=_doctor)
    return top


def main(argv=None):
    """Entry point of the ``tfclinic`` script; returns the exit status."""
    skip_slow_unused_imports()
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except TfclinicError as error:
        print(f"tfclinic: error: {error}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as error:  # a core install running a command of an extra
        from .extras import missing_extra

        message = missing_extra(args.command, error)
        if message is None:
            raise
        print(f"tfclinic: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tfclinic: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
