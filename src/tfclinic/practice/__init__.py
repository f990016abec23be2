"""Practice checks: the student's functions called on freshly drawn sizes, shapes and data.

The visible tests of a notebook use the notebook's own numbers, so a repair tuned to them
(``keras.Input(shape=(8,))`` instead of ``shape=(n_features,)``) passes them and then fails
the hidden tests at grading. These checks draw other sizes each time, from ranges that
leave out the notebook's, and say what they tried. They are practice checks written for
this purpose, not the hidden tests, and they never train a model, so they take seconds.

Each lesson is a module here (``shapes``, ``dtypes``...) with ``FUNCTIONS``, the names its
notebook defines, and ``CHECKS``, small named functions ``check(namespace, rng)`` that
return ``None`` when the student's code does what was asked and a sentence saying what was
tried and what came back when it does not.

In a notebook (Colab, or any runtime without nbgrader's Validate button)::

    from tfclinic.practice import check
    check(globals())

In a terminal: ``tfclinic validate --fresh NOTEBOOK``.
"""

import importlib
import json
from dataclasses import asdict, dataclass

import numpy as np

LESSONS = ("shapes", "dtypes", "scaling", "leakage", "losses")
REPORT_MARKER = "tfclinic-practice-report:"


@dataclass
class Outcome:
    """The result of one practice check."""

    name: str
    passed: bool
    message: str = ""


def lesson_module(lesson):
    if lesson not in LESSONS:
        raise ValueError(f"no practice checks for lesson {lesson!r}; known: {', '.join(LESSONS)}")
    return importlib.import_module(f"{__name__}.{lesson}")


def guess_lesson(namespace):
    """The lesson whose functions ``namespace`` defines (all of them), or ``None``."""
    for lesson in LESSONS:
        if all(callable(namespace.get(name)) for name in lesson_module(lesson).FUNCTIONS):
            return lesson
    return None


def run_checks(namespace, lesson=None, seed=None):
    """Run every practice check of ``lesson`` against the functions in ``namespace``.

    Args:
        namespace: the notebook's ``globals()``.
        lesson: the lesson name; guessed from the functions defined when omitted.
        seed: seeds the sizes and data drawn; a new draw every call when omitted.

    Returns:
        ``(lesson, [Outcome, ...])``.
    """
    lesson = lesson or guess_lesson(namespace)
    if lesson is None:
        raise ValueError("these globals define the functions of no tfclinic lesson; run the "
                         "notebook's cells first, or pass lesson='shapes' (or another)")
    module = lesson_module(lesson)
    rng = np.random.default_rng(seed)
    outcomes = []
    for check_function in module.CHECKS:
        name = check_function.__name__.removeprefix("check_")
        try:
            problem = check_function(namespace, rng)
        except Exception as error:  # noqa: BLE001 - the student's code raised: that is a finding
            problem = f"raised {type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
        outcomes.append(Outcome(name, problem is None, problem or ""))
    return lesson, outcomes


def format_outcomes(lesson, outcomes):
    passed = sum(o.passed for o in outcomes)
    lines = [f"Practice checks for {lesson}, on freshly drawn sizes and data: "
             f"{passed}/{len(outcomes)} passed (practice only, not the hidden tests, no points)"]
    for outcome in outcomes:
        lines.append(f"  {'PASS' if outcome.passed else 'FAIL'} {outcome.name}"
                     + (f": {outcome.message}" if outcome.message else ""))
    return "\n".join(lines)


def check(namespace, lesson=None, seed=None):
    """Print the practice checks of the lesson in ``namespace`` and return whether all pass.

    Example:
        >>> from tfclinic.practice import check
        >>> check(globals())  # doctest: +SKIP
    """
    lesson, outcomes = run_checks(namespace, lesson, seed)
    print(format_outcomes(lesson, outcomes))
    return all(o.passed for o in outcomes)


def report(namespace, lesson=None, seed=None):
    """Print the outcomes as one marked JSON line, for ``tfclinic validate --fresh``."""
    try:
        lesson, outcomes = run_checks(namespace, lesson, seed)
        print(REPORT_MARKER + json.dumps({"lesson": lesson, "outcomes": [asdict(o) for o in outcomes]}))
    except ValueError as error:
        print(REPORT_MARKER + json.dumps({"error": str(error)}))


def draw_excluding(rng, low, high, excluded):
    """An integer from ``[low, high]`` that is none of ``excluded``."""
    choices = [n for n in range(low, high + 1) if n not in set(excluded)]
    return int(rng.choice(choices))
