"""The ``paths`` group: where imgexp keeps its MLflow store, artifacts, Hydra outputs and data
(`home`), and the group's schema (`schema`)."""
