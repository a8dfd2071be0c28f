"""Client mode: drive a client command against a reference server, scenario by scenario."""
