"""``tfclinic collect``: what an LMS hands an instructor, laid out for ``tfclinic grade``.

Sources it reads, a zip archive or a folder (an unpacked archive included):

- **Canvas**, *Assignment > Download Submissions*: one file per submitted file, named
  ``<sortablename>[_late]_<user id>_<submission id>_<file name>``, where the sortable name is
  the student's "Last, First" lower-cased with everything but letters and digits removed,
  ``late`` marks a submission Canvas counts as late, and the user id is the one Canvas's
  gradebook import matches on (its ``ID`` column). A resubmitted file may carry ``-1``,
  ``-2``... before its extension.
- **Moodle**, *Assignment > Download all submissions*: ``<Full name>_<participant id>_
  assignsubmission_file_<file name>``, or with *Download submissions in folders* a folder
  ``<Full name>_<participant id>_assignsubmission_file/`` holding the files; the participant
  id is what Moodle's grading worksheet calls ``Participant <id>``. Online-text answers
  (``assignsubmission_onlinetext``) are reported as not notebooks.
- **A plain folder** of ``<anything>.ipynb``: a file inside a folder belongs to the student
  the top folder names (``ada/shapes.ipynb``, a workshop folder ``ada/shapes/shapes.ipynb``);
  a top-level file belongs to the student its name gives once the lesson is taken out
  (``ada_shapes.ipynb``).

The lesson is ``--lesson``, else the one lesson name in the file name, else the lesson whose
nbgrader cell ids the notebook carries. What it writes, into SUBMISSIONS::

    <student>/<lesson>/<lesson>.ipynb   the notebook
    <student>/<lesson>/timestamp.txt    its submission time, UTC (nbgrader's convention)
    students.csv                        student, name, lms, lms_id, email, sis_id
    collected.csv                       one line per entry of every collection: what happened
    .history/<student>/<lesson>/        earlier copies that ``--replace`` replaced

The submission time is the archive entry's own time (its UTC extended timestamp where the
archive has one, else its DOS time read in the settings' time zone), or a file's
modification time in a folder. Nothing is ever overwritten silently: an entry that differs
from what is already collected is refused unless ``--replace`` is given, and then the old
copy moves to ``.history/``. Entries that cannot be placed (two notebooks for one student
and lesson, no lesson, not a notebook, a path that escapes the archive, a link, too large)
are reported one line each and leave SUBMISSIONS as it was.
"""

import csv
import json
import os
import re
import shutil
import stat
import struct
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from .course_settings import CourseSettings, utc_text
from ..errors import TfclinicError
from ..project import lessons as course_lessons, solution_notebook
from ..validate import MAX_NOTEBOOK_BYTES

STUDENTS_COLUMNS = ["student", "name", "lms", "lms_id", "email", "sis_id"]
LOG_COLUMNS = ["collected_at", "source", "entry", "student", "lesson", "submitted", "lms_late",
               "action", "reason"]
_STUDENT_ID = re.compile(r"[^\W_][\w.@+-]{0,63}")  # fullmatch: "$" also matches before a final newline
_CANVAS = re.compile(r"^(?P<name>[^_/]+)_(?:(?P<late>late)_)?(?P<uid>\d+)_(?P<sub>\d+)_(?P<file>[^/]+)$",
                     re.IGNORECASE)
_MOODLE_FILE = re.compile(r"^(?P<name>.+?)_(?P<pid>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<file>[^/]+)$")
_MOODLE_FOLDER = re.compile(r"^(?P<name>.+?)_(?P<pid>\d+)_assignsubmission_(?P<plugin>[a-z]+)_?$")
_SKIPPED_NAMES = {"__MACOSX", ".DS_Store", "Thumbs.db", ".ipynb_checkpoints"}


def student_name_problem(name):
    """Why ``name`` cannot be a student folder, or None when it can.

    A student id is what nbgrader, file systems and CSV files all take: letters, digits and
    ``. _ @ + -``, starting with a letter or digit, at most 64 characters.
    """
    if _STUDENT_ID.fullmatch(name):
        return None
    odd = sorted({c for c in name if not (c.isalnum() or c in "._@+-")})
    shown = ", ".join(repr(c) for c in odd[:4]) if odd else "its first character"
    return (f"student name {name!r} cannot be used as a folder name ({shown}); use letters, digits "
            "and . _ @ + - only, starting with a letter or digit")


def slug(text):
    """``Seán O'Brien`` -> ``sean-obrien``: an LMS display name as a student id."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    ascii_text = re.sub(r"['\u2019`]", "", ascii_text.lower())
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:48]


@dataclass
class Entry:
    """One file of the source: its path inside it, its bytes, its time."""

    path: str
    size: int
    submitted: datetime
    read: object  # () -> bytes
    problem: str = ""


@dataclass
class Placement:
    """Where one entry goes, once its student and lesson are known."""

    entry: Entry
    student: str
    lesson: str
    name: str = ""
    lms: str = ""
    lms_id: str = ""
    lms_late: bool = False
    extra: dict = field(default_factory=dict)  # a students.csv row an instructor completed


@dataclass
class Collection:
    """What ``collect`` did: counts for the summary and one line per problem."""

    placed: list = field(default_factory=list)
    replaced: list = field(default_factory=list)
    unchanged: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    notes: list = field(default_factory=list)


def collect(project, source, into, lesson=None, settings=CourseSettings(), replace=False):
    """Collect the notebooks in ``source`` (a zip archive or a folder) into ``into``.

    Returns:
        A ``Collection``.

    Raises:
        TfclinicError: a source that does not exist, is neither a folder nor a zip archive,
            is corrupt or empty; an unknown ``lesson``; an ``into`` that is a file.
    """
    source, into = Path(source), Path(into)
    known = course_lessons(project)
    if lesson is not None and lesson not in known:
        raise TfclinicError(f"unknown lesson {lesson!r}; the lessons are: {', '.join(known)}.")
    if into.exists() and not into.is_dir():
        raise TfclinicError(f"--into {into} is a file, not a folder.")
    if source.resolve() == into.resolve():
        raise TfclinicError("the source and --into are the same folder; collect into a new folder.")
    entries = list(_entries(source, settings.timezone))
    if not entries:
        raise TfclinicError(f"{source} holds no files to collect.")
    result = Collection()
    ids = _lesson_ids(project, known)
    students = _read_students(into)
    placements, log = [], []
    for entry in entries:
        if entry.problem:
            result.problems.append((entry, entry.problem))
            continue
        placement, problem = _place(entry, known, ids, lesson, students)
        if problem:
            result.problems.append((entry, problem))
        else:
            placements.append(placement)
    _refuse_duplicates(placements, result)
    refused = {id(entry) for entry, _ in result.problems}
    into.mkdir(parents=True, exist_ok=True)
    for placement in placements:
        if id(placement.entry) in refused:
            continue
        action, reason = _write(into, placement, replace)
        if action == "refused":
            result.problems.append((placement.entry, reason))
        else:
            getattr(result, action).append(placement)
            if placement.lms:
                students[(placement.lms, placement.lms_id)] = placement
        log.append(_log_row(source, placement.entry, placement, action, reason))
    logged = {row["entry"] for row in log}
    log += [_log_row(source, entry, None, "refused", reason)
            for entry, reason in result.problems if entry.path not in logged]
    _write_students(into, students)
    _append_log(into, log)
    return result


# --- reading the source ---------------------------------------------------------------

def _entries(source, zone):
    if not source.exists():
        raise TfclinicError(f"{source} does not exist.")
    if source.is_dir():
        yield from _folder_entries(source)
        return
    if not zipfile.is_zipfile(source):
        with open(source, "rb") as handle:
            if handle.read(4) == b"PK\x03\x04":
                raise TfclinicError(f"{source} is a corrupt zip archive (cut short?): its table "
                                    "of contents is missing; download it again.")
        raise TfclinicError(f"{source} is neither a folder nor a zip archive (an LMS's "
                            "\"download all submissions\" file).")
    try:
        archive = zipfile.ZipFile(source)
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise TfclinicError(f"{source} is a corrupt zip archive: {error}") from None
    for info in infos:
        if info.is_dir() or _skipped(info.filename):
            continue
        yield _zip_entry(archive, info, zone)


def _zip_entry(archive, info, zone):
    path = info.filename
    entry = Entry(path, info.file_size, _zip_time(info, zone), lambda: _read_member(archive, info))
    parts = PurePosixPath(path.replace("\\", "/")).parts
    if path.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", path) or ".." in parts:
        entry.problem = "its path escapes the archive"
    elif stat.S_ISLNK(info.external_attr >> 16):
        entry.problem = "it is a symbolic link, not a file"
    elif info.file_size > MAX_NOTEBOOK_BYTES and path.lower().endswith(".ipynb"):
        entry.problem = f"it is {info.file_size / 2**20:.0f} MB, more than the {MAX_NOTEBOOK_BYTES // 2**20} MB a notebook may be"
    return entry


def _read_member(archive, info):
    with archive.open(info) as member:  # read no more than the limit, whatever the header says
        data = member.read(MAX_NOTEBOOK_BYTES + 1)
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise ValueError(f"it unpacks to more than {MAX_NOTEBOOK_BYTES // 2**20} MB")
    return data


def _zip_time(info, zone):
    """The entry's UTC time from its extended-timestamp field (0x5455), else its DOS time."""
    extra = info.extra
    while len(extra) >= 4:
        kind, size = struct.unpack("<HH", extra[:4])
        body = extra[4:4 + size]
        if kind == 0x5455 and size >= 5 and body[0] & 1:
            return datetime.fromtimestamp(struct.unpack("<I", body[1:5])[0], timezone.utc)
        extra = extra[4 + size:]
    return datetime(*info.date_time, tzinfo=zone)


def _folder_entries(folder):
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(_skipped(part) for part in relative.parts):
            continue
        if path.is_symlink():
            yield Entry(relative.as_posix(), 0, datetime.now(timezone.utc), bytes,
                        "it is a symbolic link, not a file")
        elif path.is_file() and relative.name != "timestamp.txt" and len(relative.parts) <= 4:
            info = path.stat()
            entry = Entry(relative.as_posix(), info.st_size,
                          datetime.fromtimestamp(info.st_mtime, timezone.utc), path.read_bytes)
            if info.st_size > MAX_NOTEBOOK_BYTES and path.suffix.lower() == ".ipynb":
                entry.problem = f"it is {info.st_size / 2**20:.0f} MB, more than a notebook may be"
            yield entry


def _skipped(path):
    return any(part in _SKIPPED_NAMES or part.startswith("._") for part in PurePosixPath(path).parts)


# --- deciding where an entry goes ----------------------------------------------------

def _place(entry, known, ids, forced_lesson, students):
    """``(Placement, None)`` or ``(None, why not)`` for one entry."""
    parts = PurePosixPath(entry.path).parts
    file_name = parts[-1]
    who = _canvas(parts) or _moodle(parts)
    if who and who.get("plugin", "file") != "file":
        return None, f"a Moodle {who['plugin']} answer, not a notebook file"
    file_name = who["file"] if who else file_name
    if not file_name.lower().endswith(".ipynb"):
        return None, "not a notebook (.ipynb)"
    try:
        data = entry.read()
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as error:
        return None, f"it cannot be read: {error}"
    lesson = forced_lesson or _lesson_from_name(file_name, known) or _lesson_from_cells(data, ids)
    if lesson is None:
        return None, (f"{file_name!r} names no lesson and its cells match none; pass --lesson "
                      f"(the lessons are: {', '.join(known)})")
    if who:
        lms = who["lms"]
        lms_id = who["id"]
        name = who["name"]
        previous = students.get((lms, lms_id))
        student = previous.student if previous else _free_id(slug(name) or f"student-{lms_id}",
                                                               lms, lms_id, students)
        students.setdefault((lms, lms_id), Placement(None, student, lesson, name, lms, lms_id))
        return Placement(entry, student, lesson, name, lms, lms_id, who.get("late", False),
                         extra=previous.extra if previous else {}), None
    student = parts[0] if len(parts) > 1 else _strip_lesson(PurePosixPath(file_name).stem, lesson)
    if not student:
        return None, f"{file_name!r} does not say whose notebook it is; name it <student>_{lesson}.ipynb"
    problem = student_name_problem(student)
    if problem:
        return None, problem + "; rename it and collect again"
    return Placement(entry, student, lesson), None


def _canvas(parts):
    match = _CANVAS.match(parts[-1]) if len(parts) <= 2 else None
    if not match:
        return None
    return {"lms": "canvas", "name": match["name"].lower(), "id": match["uid"],
            "late": bool(match["late"]), "file": match["file"]}


def _moodle(parts):
    match = _MOODLE_FILE.match(parts[-1]) if len(parts) == 1 else None
    if match:
        return {"lms": "moodle", "name": match["name"], "id": match["pid"],
                "plugin": match["plugin"], "file": match["file"]}
    match = _MOODLE_FOLDER.match(parts[0]) if len(parts) >= 2 else None
    if match:
        return {"lms": "moodle", "name": match["name"], "id": match["pid"],
                "plugin": match["plugin"], "file": parts[-1]}
    return None


def _free_id(base, lms, lms_id, students):
    """``base``, or ``base-<lms id>`` when another LMS student already has ``base``."""
    taken = {p.student: key for key, p in students.items()}
    if base in taken and taken[base] != (lms, lms_id):
        return f"{base}-{lms_id}"
    return base


def _tokens(text):
    return [t for t in re.split(r"[^a-z0-9]+", text.lower()) if t]


def _lesson_from_name(file_name, known):
    tokens = set(_tokens(PurePosixPath(file_name).stem))
    found = [lesson for lesson in known if lesson in tokens]
    return found[0] if len(found) == 1 else None


def _strip_lesson(stem, lesson):
    """``ada_shapes`` -> ``ada``: the file name without the lesson and a copy counter."""
    rest = re.sub(rf"(?i)(^|[\s_.-]+){re.escape(lesson)}(?=$|[\s_.-])", " ", stem)
    rest = re.sub(r"\s*\(\d+\)$|-\d{1,2}$", "", rest.strip())  # "shapes (1)", "shapes-1" copies
    return rest.strip(" _.-")


def _lesson_ids(project, known):
    ids = {}
    for lesson in known:
        notebook = json.loads(solution_notebook(project, lesson).read_text())
        ids[lesson] = _grade_ids(notebook)
    return ids


def _grade_ids(notebook):
    cells = notebook.get("cells", []) if isinstance(notebook, dict) else []
    return {cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") for cell in cells
            if isinstance(cell, dict) and isinstance(cell.get("metadata"), dict)} - {None}


def _lesson_from_cells(data, ids):
    try:
        found = _grade_ids(json.loads(data))
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None
    overlap = {lesson: len(found & own) for lesson, own in ids.items()}
    best = max(overlap.values(), default=0)
    winners = [lesson for lesson, count in overlap.items() if count == best]
    return winners[0] if best > 0 and len(winners) == 1 else None


def _refuse_duplicates(placements, result):
    by_target = {}
    for placement in placements:
        by_target.setdefault((placement.student, placement.lesson), []).append(placement)
    for (student, lesson), group in by_target.items():
        if len(group) > 1:
            names = " and ".join(repr(p.entry.path) for p in group)
            for placement in group:
                result.problems.append((placement.entry, f"two notebooks for {student}/{lesson} "
                                        f"({names}); keep one and collect again"))


# --- writing -------------------------------------------------------------------------

def _write(into, placement, replace):
    """Write one notebook; returns ``(action, reason)``."""
    folder = into / placement.student / placement.lesson
    target = folder / f"{placement.lesson}.ipynb"
    data = placement.entry.read()
    if folder.is_symlink() or target.is_symlink():
        return "refused", f"{target} is a symbolic link; remove it first"
    if target.is_file():
        if target.read_bytes() == data:
            return "unchanged", "already collected"
        if not replace:
            return "refused", (f"{placement.student}/{placement.lesson} is already collected with other "
                               "content; pass --replace to replace it (the earlier copy is kept in .history/)")
        _keep_history(into, placement)
        action = "replaced"
    else:
        action = "placed"
    folder.mkdir(parents=True, exist_ok=True)
    _atomic_write(target, data)
    _atomic_write(folder / "timestamp.txt", (utc_text(placement.entry.submitted) + "\n").encode())
    return action, ""


def _keep_history(into, placement):
    folder = into / placement.student / placement.lesson
    history = into / ".history" / placement.student / placement.lesson
    history.mkdir(parents=True, exist_ok=True)
    stamp = folder / "timestamp.txt"
    label = stamp.read_text().strip() if stamp.is_file() else "unknown-time"
    label = re.sub(r"[^0-9A-Za-z]+", "", label)[:14] or "unknown"
    name = f"{label}-{len(list(history.iterdir()))}"
    shutil.copyfile(folder / f"{placement.lesson}.ipynb", history / f"{name}.ipynb")
    if stamp.is_file():
        shutil.copyfile(stamp, history / f"{name}.timestamp.txt")


def _atomic_write(path, data):
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".collect-")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.replace(temporary, path)


def _read_students(into):
    path = into / "students.csv"
    students = {}
    if path.is_file():
        with open(path, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if row.get("lms") and row.get("lms_id"):
                    students[(row["lms"], row["lms_id"])] = Placement(
                        None, row["student"], "", row.get("name", ""), row["lms"], row["lms_id"],
                        extra=row)
    return students


def _write_students(into, students):
    if not students:
        return
    rows = []
    for (lms, lms_id), placement in sorted(students.items(), key=lambda item: item[1].student):
        extra = placement.extra
        rows.append({"student": placement.student, "name": placement.name, "lms": lms,
                     "lms_id": lms_id, "email": extra.get("email", ""), "sis_id": extra.get("sis_id", "")})
    handle, temporary = tempfile.mkstemp(dir=into, prefix=".students-")
    with os.fdopen(handle, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=STUDENTS_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(temporary, into / "students.csv")


def _log_row(source, entry, placement, action, reason):
    return {"collected_at": utc_text(datetime.now(timezone.utc)), "source": str(source),
            "entry": entry.path, "student": placement.student if placement else "",
            "lesson": placement.lesson if placement else "",
            "submitted": utc_text(entry.submitted), "lms_late": "yes" if placement and placement.lms_late else "",
            "action": action, "reason": reason}


def _append_log(into, rows):
    path = into / "collected.csv"
    new = not path.is_file()
    with open(path, "a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=LOG_COLUMNS)
        if new:
            writer.writeheader()
        writer.writerows(rows)


def read_students(submissions):
    """``{student: row}`` from ``SUBMISSIONS/students.csv`` (empty when there is none)."""
    path = Path(submissions) / "students.csv"
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["student"]: row for row in csv.DictReader(handle) if row.get("student")}
