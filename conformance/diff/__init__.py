"""Diff mode: send the same queries to two servers and name every way their answers differ.

``config`` (the run's settings), ``queries`` (seeded Hypothesis-drawn filter combinations, or
the requests of a recorded VCR cassette), ``compare`` (two answers to one query → findings,
pure), ``run`` (both transports, the budget, the RunResult the checker's reports render).
"""
