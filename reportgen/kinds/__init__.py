"""Experiment kinds beyond the run schemas: each recognises, loads, analyses and pages its files."""
