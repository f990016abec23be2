"""Build the archives an LMS hands an instructor, for the collect tests.

Names follow what each LMS writes (see ``tfclinic.course.collect``): Canvas's
``<sortablename>[_late]_<user id>_<submission id>_<file>`` and Moodle's
``<Full name>_<participant id>_assignsubmission_<plugin>_<file>`` (flat) or the same prefix
as a folder. Entry times are set explicitly, as UTC extended timestamps, so lateness is
known to the test.
"""

import struct
import zipfile
from datetime import datetime, timezone

import nbformat


def at(text):
    """``"2026-12-08 17:00"`` as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def notebook_bytes(notebook):
    return nbformat.writes(notebook).encode()


def write_zip(path, members, extended_time=True):
    """``members``: ``[(name, bytes or str, aware datetime)]``; returns ``path``.

    With ``extended_time`` each entry carries a UTC extended timestamp (as Info-ZIP and
    most LMS zip libraries write); without it only the DOS local time.
    """
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data, when in members:
            info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            if extended_time:
                info.extra = struct.pack("<HHBI", 0x5455, 5, 1, int(when.timestamp()))
            archive.writestr(info, data)
    return path


def canvas_name(sortable, user_id, file_name, late=False, submission_id=None):
    flag = "_late" if late else ""
    return f"{sortable}{flag}_{user_id}_{submission_id or 90000 + user_id}_{file_name}"


def moodle_name(full_name, participant, file_name, plugin="file", folders=False):
    prefix = f"{full_name}_{participant}_assignsubmission_{plugin}"
    return f"{prefix}/{file_name}" if folders else f"{prefix}_{file_name}"
