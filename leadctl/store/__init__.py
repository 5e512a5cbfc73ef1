"""The store: tables, engine setup and migrations."""
