"""Typer commands: parse options, call one core function, render the result."""
