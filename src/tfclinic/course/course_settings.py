"""The course settings file: deadlines, the late policy and the LMS's names for each lesson.

One TOML file (``autograder/course.toml`` by default, ``--settings FILE`` otherwise) holds
what differs from one class to the next. ``tfclinic collect`` reads its time zone, and
``tfclinic grade`` its deadlines, late policy and LMS column names. Every key is checked
when the file is read: a typo, an unknown lesson or a date that does not parse stops the
command before anything is written, with a message that names the file and the key.

The late policy is applied here and only here (``LatePolicy.penalty``); the grader records
the result in nbgrader's gradebook, whose feedback page then shows it, and in ``grades.csv``.
"""

import math
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ..errors import TfclinicError

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

POLICIES = ("none", "penalty", "cutoff")
DAY_SECONDS = 24 * 3600


@dataclass(frozen=True)
class LatePolicy:
    """What a late submission costs.

    ``none`` records lateness and never deducts. ``penalty`` deducts ``per_day`` percent of
    the lesson's points for every started day past the deadline (after ``grace_minutes``),
    at most ``cap`` percent; with ``cutoff_days`` set, a submission later than that scores
    zero. ``cutoff`` keeps full marks until ``cutoff_days`` past the deadline and gives zero
    after it.
    """

    policy: str = "none"
    per_day: float = 10.0
    cap: float = 100.0
    cutoff_days: float | None = None
    grace_minutes: float = 0.0

    def days_late(self, seconds_late):
        """Started days past the deadline and the grace period (0 when on time)."""
        seconds = seconds_late - 60 * self.grace_minutes
        return 0 if seconds <= 0 else math.ceil(seconds / DAY_SECONDS)

    def penalty(self, score, max_score, seconds_late):
        """Points deducted from ``score`` (out of ``max_score``) for ``seconds_late``.

        Example:
            >>> LatePolicy("penalty", per_day=10, cap=30).penalty(8, 10, 2.5 * 86400)
            3.0
        """
        if seconds_late is None or self.policy == "none" or self.days_late(seconds_late) == 0:
            return 0.0
        past_cutoff = self.cutoff_days is not None and \
            seconds_late - 60 * self.grace_minutes > self.cutoff_days * DAY_SECONDS
        if past_cutoff:
            return float(score)
        if self.policy == "cutoff":
            return 0.0
        share = min(self.cap, self.per_day * self.days_late(seconds_late)) / 100
        return float(min(score, round(share * max_score, 2)))

    def describe(self):
        """One line for feedback and reports, e.g. ``10% per started day late, at most 50%``."""
        grace = f" after {self.grace_minutes:g} minutes' grace" if self.grace_minutes else ""
        cutoff = f"; zero after {self.cutoff_days:g} days" if self.cutoff_days is not None else ""
        if self.policy == "none":
            return "lateness is recorded, not penalised"
        if self.policy == "cutoff":
            return f"full marks up to {self.cutoff_days:g} days late{grace}, zero after"
        return f"{self.per_day:g}% of the points per started day late{grace}, at most {self.cap:g}%{cutoff}"


@dataclass(frozen=True)
class CourseSettings:
    """The parsed settings file; ``CourseSettings()`` is a course without deadlines."""

    path: Path | None = None
    timezone: object = timezone.utc
    deadlines: dict = field(default_factory=dict)  # lesson -> aware datetime
    late: LatePolicy = LatePolicy()
    lms_columns: dict = field(default_factory=dict)  # "canvas"/"moodle" -> {lesson: column}

    def seconds_late(self, lesson, submitted):
        """Seconds ``submitted`` (an aware datetime or None) is past the lesson's deadline."""
        deadline = self.deadlines.get(lesson)
        if deadline is None or submitted is None:
            return None
        return max(0.0, (submitted - deadline).total_seconds())


def default_settings_path(project):
    """``autograder/course.toml`` of the course checkout."""
    return Path(project) / "autograder" / "course.toml"


def load_settings(path, lessons):
    """Read and check the settings file at ``path`` for a course with ``lessons``.

    A missing default file means a course without deadlines; a file named on the command
    line must exist.

    Raises:
        TfclinicError: naming the file and the key for anything that is not understood.
    """
    path = Path(path)
    if not path.is_file():
        raise TfclinicError(f"course settings file {path} does not exist.")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise TfclinicError(f"course settings {path} is not valid TOML: {error}") from None
    where = f"course settings {path}"
    _known_keys(where, data, {"timezone", "deadlines", "late", "lms"})
    zone = _timezone(where, data.get("timezone", "UTC"))
    deadlines = {}
    table = _table(where, data, "deadlines")
    for lesson, value in table.items():
        if lesson not in lessons:
            raise TfclinicError(f"{where}: [deadlines] names {lesson!r}, which is not a lesson "
                                f"(the lessons are: {', '.join(lessons)}).")
        deadlines[lesson] = parse_time(value, zone, f"{where}: deadline of {lesson}")
    late = _late_policy(where, _table(where, data, "late"))
    lms = _table(where, data, "lms")
    _known_keys(f"{where} [lms]", lms, {"canvas", "moodle"})
    columns = {}
    for system, names in lms.items():
        if not isinstance(names, dict):
            raise TfclinicError(f"{where}: [lms] {system} must be a table of lesson = \"column\".")
        for lesson, column in names.items():
            if lesson not in lessons or not isinstance(column, str) or not column.strip():
                raise TfclinicError(f"{where}: [lms.{system}] {lesson} = {column!r}: expected a "
                                    "lesson of the course and the column's name as a string.")
        columns[system] = dict(names)
    return CourseSettings(path, zone, deadlines, late, columns)


def settings_for(project, path, lessons):
    """The settings a command uses: ``path`` when given, else the course's default file if any."""
    if path is not None:
        return load_settings(path, lessons)
    default = default_settings_path(project)
    return load_settings(default, lessons) if default.is_file() else CourseSettings()


def parse_time(value, zone, what):
    """An aware datetime from a TOML datetime or an ISO 8601 string; naive ones are in ``zone``.

    Raises:
        TfclinicError: ``what`` is not a date and time.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise TfclinicError(f"{what}: {value!r} is not a date and time; write it as "
                                "\"YYYY-MM-DD HH:MM\", optionally with an offset such as +01:00.") from None
    else:
        raise TfclinicError(f"{what}: {value!r} is not a date and time; write it as \"YYYY-MM-DD HH:MM\".")
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def _timezone(where, name):
    if not isinstance(name, str):
        raise TfclinicError(f"{where}: timezone must be a name such as \"Europe/Berlin\" or \"UTC\".")
    if name.upper() == "UTC":
        return timezone.utc
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TfclinicError(f"{where}: timezone {name!r} is not a known time zone "
                            "(use an IANA name such as \"Europe/Berlin\", or \"UTC\").") from None


def _late_policy(where, table):
    _known_keys(f"{where} [late]", table, {"policy", "per_day", "cap", "cutoff_days", "grace_minutes"})
    policy = table.get("policy", "none")
    if policy not in POLICIES:
        raise TfclinicError(f"{where}: [late] policy = {policy!r}; choose one of {', '.join(POLICIES)}.")
    numbers = {}
    for key in ("per_day", "cap", "cutoff_days", "grace_minutes"):
        if key in table:
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise TfclinicError(f"{where}: [late] {key} = {value!r} must be a number of at least 0.")
            numbers[key] = float(value)
    if numbers.get("cap", 0) > 100 or numbers.get("per_day", 0) > 100:
        raise TfclinicError(f"{where}: [late] per_day and cap are percentages of the points, 0 to 100.")
    if policy == "cutoff" and "cutoff_days" not in numbers:
        raise TfclinicError(f"{where}: [late] policy \"cutoff\" needs cutoff_days (days after the deadline).")
    return LatePolicy(policy, **numbers)


def _table(where, data, key):
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise TfclinicError(f"{where}: {key} must be a table ([{key}]).")
    return value


def _known_keys(where, table, known):
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise TfclinicError(f"{where}: unknown setting {unknown[0]!r}; the settings here are: "
                            + ", ".join(sorted(known)) + ".")


def utc_text(moment):
    """``2026-12-07T17:59:00+00:00``: how tfclinic writes a submission time."""
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def read_timestamp(folder):
    """The submission time in ``folder/timestamp.txt`` (nbgrader's convention), or None.

    Raises:
        TfclinicError: the file exists but holds no date and time.
    """
    stamp = Path(folder) / "timestamp.txt"
    if not stamp.is_file():
        return None
    text = stamp.read_text(encoding="utf-8", errors="replace").strip()
    text = text.removesuffix(" UTC").strip()
    return parse_time(text, timezone.utc, f"{stamp}")


def late_text(seconds_late):
    """``2 d 3 h`` for a report; empty when on time or unknown."""
    if not seconds_late:
        return ""
    late = timedelta(seconds=round(seconds_late))
    hours, rest = divmod(late.seconds, 3600)
    if late.days:
        return f"{late.days} d {hours} h"
    return f"{hours} h {rest // 60} min" if hours else f"{max(1, rest // 60)} min"
