"""Data-quality flags of a lead, computed offline: e-mail syntax, role, free-mail, disposable, placeholder, phone."""
