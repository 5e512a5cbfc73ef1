"""Reports: queries that aggregate in the database and return plain rows; rendering lives in cli/."""
