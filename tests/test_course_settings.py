"""The course settings file: every mistake named before anything runs; the late policy's arithmetic."""

from datetime import timedelta

import pytest

from lms_archives import at
from tfclinic.course.course_settings import LatePolicy, default_settings_path, load_settings, settings_for
from tfclinic.errors import TfclinicError

LESSONS = ["dtypes", "shapes"]
DAY = 86400


def settings(tmp_path, text):
    path = tmp_path / "course.toml"
    path.write_text(text)
    return load_settings(path, LESSONS)


def test_the_shipped_settings_file_parses_and_sets_no_deadline(project):
    shipped = settings_for(project, None, LESSONS)
    assert shipped.path == default_settings_path(project)
    assert shipped.deadlines == {} and shipped.late.policy == "none"


def test_deadlines_with_and_without_offsets(tmp_path):
    loaded = settings(tmp_path, 'timezone = "Europe/Berlin"\n[deadlines]\nshapes = "2026-12-07 18:00"\n'
                                'dtypes = "2026-12-14T18:00:00+00:00"\n')
    assert loaded.deadlines["shapes"] == at("2026-12-07 17:00")  # Berlin is UTC+1 in December
    assert loaded.deadlines["dtypes"] == at("2026-12-14 18:00")
    assert loaded.seconds_late("shapes", at("2026-12-07 16:59")) == 0
    assert loaded.seconds_late("shapes", at("2026-12-08 17:00")) == DAY
    assert loaded.seconds_late("shapes", None) is None
    native = settings(tmp_path, "[deadlines]\nshapes = 2026-12-07T18:00:00Z\n")  # a TOML datetime
    assert native.deadlines["shapes"] == at("2026-12-07 18:00")


@pytest.mark.parametrize("text, message", [
    ('[deadlines]\nshapes = "next friday"\n', "'next friday' is not a date and time"),
    ('[deadlines]\nshapez = "2026-12-07 18:00"\n', "'shapez', which is not a lesson"),
    ('timezone = "Mars/Olympus"\n', "'Mars/Olympus' is not a known time zone"),
    ('[late]\npolicy = "harsh"\n', "choose one of none, penalty, cutoff"),
    ('[late]\npolicy = "cutoff"\n', "needs cutoff_days"),
    ('[late]\nper_day = -5\n', "must be a number of at least 0"),
    ('[late]\ncap = 150\n', "percentages of the points"),
    ('[late]\npenalty = 10\n', "unknown setting 'penalty'"),
    ('deadline = "2026-12-07"\n', "unknown setting 'deadline'"),
    ('[lms]\ncanvas.shapez = "Shapes (1)"\n', "expected a lesson of the course"),
    ('[deadlines\n', "is not valid TOML"),
])
def test_every_mistake_is_named_with_its_file(tmp_path, text, message):
    with pytest.raises(TfclinicError, match=message) as caught:
        settings(tmp_path, text)
    assert "course.toml" in str(caught.value)


def test_a_settings_file_named_on_the_command_line_must_exist(project, tmp_path):
    with pytest.raises(TfclinicError, match="does not exist"):
        settings_for(project, tmp_path / "nope.toml", LESSONS)


@pytest.mark.parametrize("policy, score, late_days, expected", [
    (LatePolicy("none"), 8, 10, 0),
    (LatePolicy("penalty", per_day=10, cap=50), 8, 0, 0),
    (LatePolicy("penalty", per_day=10, cap=50), 8, 0.01, 1),      # a started day counts
    (LatePolicy("penalty", per_day=10, cap=50), 8, 2.5, 3),
    (LatePolicy("penalty", per_day=10, cap=50), 8, 9, 5),          # capped at 50% of 10 points
    (LatePolicy("penalty", per_day=40, cap=100), 3, 2, 3),         # never below zero
    (LatePolicy("penalty", per_day=10, cap=50, cutoff_days=3), 8, 3.5, 8),  # zero after the cutoff
    (LatePolicy("cutoff", cutoff_days=2), 8, 1.9, 0),
    (LatePolicy("cutoff", cutoff_days=2), 8, 2.1, 8),
    (LatePolicy("penalty", per_day=10, cap=50, grace_minutes=15), 8, 10 / (24 * 60), 0),
    (LatePolicy("penalty", per_day=10, cap=50, grace_minutes=15), 8, 20 / (24 * 60), 1),
])
def test_late_penalty(policy, score, late_days, expected):
    assert policy.penalty(score, 10, late_days * DAY) == pytest.approx(expected)
    assert policy.penalty(score, 10, None) == 0  # unknown time: never penalised
    assert policy.describe()


def test_lateness_is_measured_from_the_deadline_in_utc(tmp_path):
    loaded = settings(tmp_path, 'timezone = "America/New_York"\n[deadlines]\nshapes = "2026-12-07 23:59"\n'
                                '[late]\npolicy = "penalty"\nper_day = 20\ncap = 60\n')
    deadline = loaded.deadlines["shapes"]
    assert deadline.utcoffset() == timedelta(hours=-5)
    just_late = loaded.seconds_late("shapes", deadline + timedelta(minutes=1))
    assert loaded.late.penalty(10, 10, just_late) == 2
