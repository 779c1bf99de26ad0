"""Grading a class from learners' exported work, on CPython, trusting nothing the exports claim.

    python -m tinytorch_wasm grade EXPORT... [--modules 01,02] [--csv FILE] [--json FILE] [--tests DIR]

export.py     read and check an export file (the format lives in export.schema.json, shared with the page)
grader.py     the run: which units a learner is graded on, the parallel slots, what became of each unit
zygote.py     a clean process per slot that forks one confined child per unit
unit.py       what that child runs: the module's tests (the tab's own), the instructor's, or a milestone
sandbox.py    how the child is confined, and how its results are sealed
scoring.py    points, weights (grading.toml) and the feedback text
reports.py    the class summary (CSV, JSON) and Gradescope's results.json
cli.py        the command line; gradescope.py: the autograder's run_autograder
"""
