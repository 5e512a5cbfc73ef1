"""Store-wide duplicate review: find likely duplicates with evidence, plan their merge, apply it as one batch."""
