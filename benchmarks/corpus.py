"""The graders' whole corpus on several seeds, once more under load: verdicts and margins.

The lesson tests grade each corpus on one seed (``make test``) and the solution and exercise
on five (``make proofs``). This sweep grades everything at once: for each lesson, the
solution, the untouched exercise, every wrong fix of ``tfclinic.grading.wrong_fixes`` and
every other correct fix of ``tests/test_<lesson>.py``, on each seed, with ``tfclinic grade
--jobs 2`` and one fork server. It then regrades one seed's whole corpus beside spinning
processes (``tests/test_time_limits.BusyMachine``: each grading process gets about a third
of a core) and compares the two journals cell by cell.

What it asserts, per lesson and seed: the solution and every correct fix earn full marks,
the exercise earns 0, every wrong fix less than full marks and nothing in the cells of its
``caught_by``. A wrong fix whose lesson test pins its score is also compared with that pin
(a pin is checked on one seed by the tests; here a different score on another seed is
reported, not failed). The table gives, per lesson, the weakest correct repair's score and
the strongest wrong fix's score, each as a margin to the full-marks line that separates
credit from no credit.

Each (lesson, seed) batch is written to ``--out`` as it finishes, so an interrupted sweep
resumes where it stopped.

    python benchmarks/corpus.py                              # seeds 0-4, busy regrade of seed 0
    python benchmarks/corpus.py --lessons shapes --seeds 0 --busy-seed none
"""

import argparse
import contextlib
import importlib
import json
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the correct fixes and the load live with the tests

from tfclinic.grading.grade import grade  # noqa: E402
from tfclinic.grading.wrong_fixes import wrong_fixes  # noqa: E402
from lesson_variants import exercise, journal_cells, solution, with_cell_source  # noqa: E402
from tfclinic.project import lessons  # noqa: E402
from tfclinic.sandbox.forkserver import ForkServer  # noqa: E402

JOBS = 2


def correct_fixes(lesson):
    """``{name: (grade_id, source)}``: the other correct fixes of ``tests/test_<lesson>.py``.

    The test modules keep them in three shapes: edits of one cell (most), sources of the
    lesson's one pipeline cell (scaling), and edits grouped by the cell they repair (losses).
    """
    module = importlib.import_module(f"test_{lesson}")
    fixes = {}
    for name, fix in module.OTHER_CORRECT_FIXES.items():
        if isinstance(fix, dict):
            fixes.update(fix)
        elif isinstance(fix, str):
            fixes[name] = (module.PIPELINE, fix)
        else:
            fixes[name] = fix
    return fixes


def expected(lesson):
    """``{student: (kind, WrongFix or None, notebook)}`` for the lesson's whole corpus."""
    base = solution(lesson)
    corpus = {"solution": ("solution", None, base), "exercise": ("exercise", None, exercise(lesson))}
    for fix in wrong_fixes(lesson):
        corpus[f"wrong-{fix.name}"] = ("wrong", fix, with_cell_source(base, fix.cell, fix.source))
    for name, (grade_id, source) in correct_fixes(lesson).items():
        corpus[f"correct-{name}"] = ("correct", None, with_cell_source(base, grade_id, source))
    return corpus


def grade_corpus(lesson, corpus, seed, server, scratch):
    """Grade the corpus with ``seed``; ``{student: {"status", "score", "max", "cells"}}``."""
    run = f"{lesson}-{seed}-{time.monotonic_ns()}"  # the busy regrade uses the same scratch
    submissions = scratch / f"{run}-submissions"
    for student, (_, _, notebook) in corpus.items():
        folder = submissions / student / lesson
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / f"{lesson}.ipynb")
    out = scratch / f"{run}-graded"
    rows = grade(ROOT, submissions, out, seed=seed, jobs=JOBS, feedback=False, server=server,
                 report=lambda line: None, warn=lambda line: print("  warning:", line))
    cells = journal_cells(out)
    return {row.student: {"status": row.status, "score": row.score, "max": row.max_score,
                          "cells": cells.get(row.student, {})} for row in rows}


def verdicts(lesson, corpus, results):
    """The failures of one graded batch, and the score pins it did not meet, as sentences.

    A wrong fix that passes a cell of its ``caught_by`` is a failure on any seed; one whose
    score differs from its ``score`` pin is reported (the tests check that pin on one seed)."""
    failures, pins = [], []
    for student, (kind, fix, _) in corpus.items():
        row = results.get(student)
        if row is None or row["status"] != "graded":
            failures.append(f"{student}: not graded ({row and row['status']})")
            continue
        full, score = row["max"], row["score"]
        wanted = {"solution": score == full, "correct": score == full,
                  "exercise": score == 0, "wrong": score < full}[kind]
        if not wanted:
            failures.append(f"{student} ({kind}): {score}/{full}")
        missed = [test for test in (fix.caught_by if fix else ()) if row["cells"].get(test) != 0]
        if missed:
            failures.append(f"{student} ({kind}): not caught by {', '.join(missed)}")
        if fix is not None and fix.score is not None and score != fix.score:
            pins.append(f"{student}: {score} (pinned {fix.score})")
    return failures, pins


def margin_rows(lesson, corpus, by_seed):
    """Per lesson: the weakest correct and the strongest wrong score over every seed."""
    correct = [(row["score"], student, seed) for seed, results in by_seed.items()
               for student, row in results.items() if corpus[student][0] in ("solution", "correct")]
    wrong = [(row["score"], student, seed) for seed, results in by_seed.items()
             for student, row in results.items() if corpus[student][0] == "wrong"]
    full = next(iter(next(iter(by_seed.values())).values()))["max"]
    weakest, strongest = min(correct), max(wrong)
    return {"lesson": lesson, "full": full, "correct": len({s for _, s, _ in correct}),
            "wrong": len({s for _, s, _ in wrong}), "weakest_correct": weakest,
            "strongest_wrong": strongest}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lessons", nargs="*", default=None, help="default: every lesson")
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--busy-seed", default="0",
                        help="regrade this seed's corpus under load and compare ('none': skip)")
    parser.add_argument("--burners", type=int, choices=(0, 1), default=1,
                        help="0: regrade without spinning processes (under another load)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "corpus-results",
                        help="where each batch's results are kept (resumable)")
    args = parser.parse_args(argv)
    chosen = args.lessons or lessons(ROOT)
    args.out.mkdir(parents=True, exist_ok=True)
    server = ForkServer(jobs=JOBS)
    failed = False
    try:
        with tempfile.TemporaryDirectory(prefix="tfclinic-corpus-") as scratch:
            scratch = Path(scratch)
            table, started = [], time.monotonic()
            for lesson in chosen:
                corpus = expected(lesson)
                by_seed = {}
                for seed in args.seeds:
                    kept = args.out / f"{lesson}-seed{seed}.json"
                    if kept.exists():
                        by_seed[seed] = json.loads(kept.read_text())
                    else:
                        began = time.monotonic()
                        by_seed[seed] = grade_corpus(lesson, corpus, seed, server, scratch)
                        kept.write_text(json.dumps(by_seed[seed], indent=1, sort_keys=True))
                        print(f"{lesson} seed {seed}: {len(corpus)} notebooks in "
                              f"{time.monotonic() - began:.0f} s", flush=True)
                    failures, pins = verdicts(lesson, corpus, by_seed[seed])
                    failed |= bool(failures)
                    for line in failures:
                        print(f"  FAIL {lesson} seed {seed}: {line}")
                    for line in pins:
                        print(f"  pin  {lesson} seed {seed}: {line}")
                if by_seed:
                    table.append(margin_rows(lesson, corpus, by_seed))
            print(f"\ncorpus graded on seeds {args.seeds} in {time.monotonic() - started:.0f} s\n")
            print_table(table)
            if args.busy_seed != "none":
                failed |= not busy_regrade(chosen, int(args.busy_seed), args.out, server, scratch,
                                           args.burners)
    finally:
        server.close()
    return 1 if failed else 0


def print_table(table):
    """The margin table, in Markdown."""
    if table:
        print("| lesson | full | correct | weakest correct (margin) | wrong | strongest wrong (margin) |")
        print("|---|---|---|---|---|---|")
        for row in table:
            (low, low_name, low_seed), (high, high_name, high_seed) = (
                row["weakest_correct"], row["strongest_wrong"])
            print(f"| {row['lesson']} | {row['full']} | {row['correct']} | {low:g} ({low - row['full']:+g}; "
                  f"{low_name}, seed {low_seed}) | {row['wrong']} | {high:g} ({row['full'] - high:g} "
                  f"below; {high_name}, seed {high_seed}) |")


def busy_regrade(chosen, seed, out, server, scratch, burners):
    """Regrade every lesson's corpus at ``seed`` under load; True if every cell agrees.

    The load is ``BusyMachine``'s spinning processes, or with ``--burners 0`` whatever else
    runs (a sweep of the other seeds started beside this one); the idle run's results are
    waited for when that sweep has not reached the lesson yet."""
    from test_time_limits import BusyMachine

    agree = True
    with BusyMachine() if burners else contextlib.nullcontext():
        for lesson in chosen:
            kept = out / f"{lesson}-seed{seed}-busy.json"
            if kept.exists():
                busy = json.loads(kept.read_text())
            else:
                began = time.monotonic()
                busy = grade_corpus(lesson, expected(lesson), seed, server, scratch)
                kept.write_text(json.dumps(busy, indent=1, sort_keys=True))
                print(f"{lesson} seed {seed} under load: {time.monotonic() - began:.0f} s", flush=True)
            idle_path = out / f"{lesson}-seed{seed}.json"
            while not idle_path.exists():
                time.sleep(10)
            idle = json.loads(idle_path.read_text())
            differing = [s for s in idle if idle[s]["cells"] != busy.get(s, {}).get("cells")]
            cells = sum(len(row["cells"]) for row in idle.values())
            print(f"  {lesson}: {len(idle)} notebooks, {cells} cells, {len(differing)} differ under load"
                  + (f": {differing}" if differing else ""))
            agree &= not differing
    return agree


if __name__ == "__main__":
    sys.exit(main())
