"""The course tooling, installed with ``pip install "tfclinic[course]"``: building the book
(``book``, the Sphinx extension ``sphinx_lessons``), releasing exercises with nbgrader
(``release``, ``nbgrader_course``, ``nbgrader_main``), the notebooks' setup cell and the
chapter notebooks, the students' workshop, collecting an LMS's submissions and the course
settings (deadlines, late policy).

Nothing a notebook imports lives here: that is the core install, one folder up.
"""
