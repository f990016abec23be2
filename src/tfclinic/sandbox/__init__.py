"""Grading that student code cannot tamper with.

- ``confine``: what a student process may do (memory, CPU, files, network, signals,
  namespaces, disk, system calls).
- ``protocol``: the data-only messages between grader and student process.
- ``worker``: the student process.
- ``student``: the grader's side of it, and the hooks test cells use.
- ``runner``: grade one submission (student cells there, tests here).
"""

from .student import runs_student_code, student_globals, student_trains

__all__ = ["runs_student_code", "student_globals", "student_trains"]
