"""nbgrader settings for the tfclinic course: the one place instructors read them.

tfclinic runs nbgrader in a scratch course directory that it builds for each command
(`tfclinic release`, `tfclinic grade`); that directory's own config loads this file and only
adds where the course and its gradebook live. You can also use this file with plain nbgrader.
"""

from nbgrader.converters import GenerateAssignment, GenerateFeedback
from nbgrader.preprocessors import ClearSolutions

from tfclinic.grading.feedback import feedback_preprocessors
from tfclinic.course.nbgrader_course import CELL_TIMEOUT_SECONDS, STDERR_IGNORE_PATTERN
from tfclinic.course.release import ClearSolutionsToBroken

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "tfclinic"

# Each cell of a graded notebook must finish within this many seconds; a cell that does not
# is interrupted and scored as a failure. Lessons train tiny models for a few epochs only.
c.Execute.timeout = CELL_TIMEOUT_SECONDS
c.Execute.interrupt_on_timeout = True

# TensorFlow and Keras write warnings to stderr, and nbgrader scores any stderr output in a
# test cell as a failure. Drop warnings and log lines; other stderr still counts.
# (IgnorePattern only runs when *both* `enabled` and `pattern` are set.)
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = STDERR_IGNORE_PATTERN

# Released exercises start from broken code rather than an empty stub: see tfclinic.course.release.
c.GenerateAssignment.preprocessors = [
    ClearSolutionsToBroken if step is ClearSolutions else step
    for step in GenerateAssignment.preprocessors.default()
]

# Feedback goes to students: hidden tests (code and traceback lines) are removed, and HTML or
# JavaScript produced by the student's notebook is sanitised so it cannot run in a browser.
c.GenerateFeedback.preprocessors = feedback_preprocessors(GenerateFeedback.preprocessors.default())
