"""The labs are packages only so that four files named test_lab.py can be collected together."""
