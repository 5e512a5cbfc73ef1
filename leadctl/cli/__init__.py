"""Typer commands: parse options, call one core function, render the result."""
import os

# Plain (click-style) help and usage errors: `leadctl --help` must start in well under
# 0.3 s, and Rich-formatted help alone costs ~0.15 s of imports. Tables stay Rich.
os.environ.setdefault("TYPER_USE_RICH", "0")
