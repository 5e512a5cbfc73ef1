"""The engine: importable functions that do the work; the CLI only calls them."""
