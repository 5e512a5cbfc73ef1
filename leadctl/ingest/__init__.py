"""Readers, header mapping, normalisation and the importer."""
