"""pytest plugin (entry point ``pytest11``) for client tests against the mock.

Its fixtures arrive with the in-process and loopback testing helpers (issue 4); until then it
registers nothing.
"""
