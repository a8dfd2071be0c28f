"""The ``soc-conformance`` subcommands, one module each (thin click layers over the runners)."""
