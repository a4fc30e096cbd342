"""One lab: starter.py (yours), solution.py (the reference), test_lab.py (the spec)."""
