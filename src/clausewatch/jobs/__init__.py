"""Scheduling and background work: Huey tasks, the scheduler that decides what is due, workers.

`due` (pure rules: frequencies, the daily capture time) is imported by the registry and the
settings, so this package's `__init__` imports nothing heavy. docs/jobs.md describes the design.
"""
