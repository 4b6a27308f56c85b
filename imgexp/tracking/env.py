"""Environment variables through which a sweep's launcher process tells its jobs about the
MLflow parent run (kept import-light: the CLI reads them before TensorFlow or MLflow load)."""

PARENT_RUN_ENV = "IMGEXP_PARENT_RUN_ID"
SWEEP_NAME_ENV = "IMGEXP_SWEEP_NAME"
