"""The grader, installed with ``pip install "tfclinic[course]"``: the grading loop and its
gradebook (``grade``), Dask workers (``cluster``, with the ``cluster`` extra), feedback,
the debrief, gradebook exports, and the corpus of wrong fixes every grader is tested against.

The confinement of student code is ``tfclinic.sandbox``, one folder up: its notebook side
(``runs_student_code``, ``student_trains``, ``student_globals``) is imported by lessons, so it ships with the
core install.
"""
