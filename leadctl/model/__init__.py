"""Predictive scoring: a logistic regression learnt from won and lost leads, kept as `rules/model.yaml`.

    model = load_model("rules")            # None when the folder has no model.yaml
    model.probability(facts)               # 0–1, from the file's weights alone (no scikit-learn)
    fit_model(store, rules, now=now)       # `leadctl model fit` (needs the `leadctl[model]` extra)

`model.py` reads, checks and applies the file; `facts.py` turns a lead into the values
the model reads; `metrics.py` holds the validation figures; `fit.py` learns a model;
`step.py` is the `process` step that stores `predicted`.
"""
from .model import MODEL_FILE, Model, load_model

__all__ = ["MODEL_FILE", "Model", "load_model"]
