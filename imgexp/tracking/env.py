"""Environment variables through which a sweep's launcher process tells its jobs about the
MLflow parent run, and the few knobs read from the environment (kept import-light: the CLI
reads them before TensorFlow or MLflow load)."""

PARENT_RUN_ENV = "IMGEXP_PARENT_RUN_ID"
SWEEP_NAME_ENV = "IMGEXP_SWEEP_NAME"
# `imgexp rerun`: the run it trains again, that run's preset and dataset digest, for every
# job of the Hydra app (a rerun can be a sweep, with any launcher).
RERUN_OF_ENV = "IMGEXP_RERUN_OF"
RERUN_PRESET_ENV = "IMGEXP_RERUN_PRESET"
RERUN_DIGEST_ENV = "IMGEXP_RERUN_DIGEST"
# Free space the store and artifact directories must have before a run starts (MiB).
MIN_FREE_MB_ENV = "IMGEXP_MIN_FREE_MB"
DEFAULT_MIN_FREE_MB = 100
