"""pytest plugin (entry point ``pytest11``) that runs the conformance suite inside pytest.

Filled in with the server mode; it registers nothing yet.
"""
