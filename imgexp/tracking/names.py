"""Every MLflow tag and artifact name imgexp writes or reads, defined once.

A tool that searches runs (``imgexp report``, the UI's filter box, a notebook) and the code that
logs them must agree on these strings; importing them from here keeps the two in step."""

# --- tags every training run carries ------------------------------------------------------
OVERRIDES_TAG = "imgexp.overrides"  # the command line's overrides, space-separated
PRESET_TAG = "imgexp.preset"  # the experiment= preset, "" without one
TASK_TAG = "imgexp.task"  # "train" or "eval"
ERROR_TAG = "imgexp.error"  # why a run ended FAILED or KILLED
RERUN_OF_TAG = "imgexp.rerun_of"  # `imgexp rerun`: the run it trains again
DIGEST_CHANGED_TAG = "imgexp.rerun.digest_changed"
RESUMED_FROM_TAG = "imgexp.resumed_from_epoch"
REGISTERED_MODEL_TAG = "imgexp.registered_model"
REGISTERED_ALIAS_TAG = "imgexp.registered_alias"  # models:/<name>@<alias> now points here
SOURCE_RUN_TAG = "imgexp.source_run_id"  # an evaluation run: the training run it evaluates
MODEL_URI_TAG = "imgexp.model_uri"
DATASET_DIGEST_TAG = "dataset.digest"
GIT_COMMIT_TAG = "mlflow.source.git.commit"
NOTE_TAG = "mlflow.note.content"  # the run's description in the UI
PARENT_TAG = "mlflow.parentRunId"  # MLflow's own nesting tag
SPLIT_INPUT_TAG = "imgexp.split"  # on each logged input dataset: train, validation or test
DATASET_RETRIES_TAG = "imgexp.dataset_log_retries"  # a race with a concurrent run, retried
DATA_OVERLAP_TAG = "imgexp.data.overlap"  # pairs of identical images in two splits (audit)
DATA_DUPLICATES_TAG = "imgexp.data.duplicates"  # identical copies within a split (audit)
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"  # MLflow 3's UI: which view an experiment opens on
MODEL_TRAINING_KIND = "custom_model_development"

# --- groups of runs: sweeps, in-job folds/repeats, their aggregates -----------------------
ROLE_TAG = "imgexp.role"  # "sweep" (a multirun's parent), "group", "member"
SWEEP_TAG = "imgexp.sweep"  # the sweep's name, on the parent and every job
# Set on the runs that hold a sweep's aggregates ("sweep") or a job's folds/repeats ("job").
GROUP_SOURCE_TAG = "imgexp.group.source"
GROUP_OVER_TAG = "imgexp.group.over"  # what a group varies: folds, seeds, folds x seeds
GROUP_SIZE_TAG = "imgexp.group.size"
GROUP_MEMBERS_TAG = "imgexp.group.members"
OBJECTIVE_TAG = "imgexp.objective"  # "<direction> <metric>" of a sweep

# --- artifacts ----------------------------------------------------------------------------
CONFIG_ARTIFACT = "config/config.yaml"  # the resolved config (what `imgexp rerun` rebuilds)
OVERRIDES_ARTIFACT = "config/overrides.yaml"
DATASET_ARTIFACT = "dataset.json"  # lineage: source, digest, counts, skipped files
DATA_AUDIT_ARTIFACT = "data_audit.json"  # duplicates, split overlaps, balance, image facts
DATA_AUDIT_PNG = "plots/data_audit.png"
HISTORY_ARTIFACT = "history.json"
CLASS_NAMES_ARTIFACT = "class_names.json"
MODEL_SUMMARY_ARTIFACT = "model_summary.txt"
ERROR_ARTIFACT = "error.txt"
TRAINING_CURVES_PNG = "plots/training_curves.png"
AUGMENTATION_PREVIEW_PNG = "plots/augmentation_preview.png"  # augmented runs: training views
GROUP_CURVES_PNG = "plots/group_curves.png"
SWEEP_CURVES_PNG = "plots/sweep_curves.png"
GROUP_MEMBERS_ARTIFACT = "group/members.json"
SWEEP_JOBS_ARTIFACT = "sweep/jobs.json"
SWEEP_SUMMARY_ARTIFACT = "sweep/summary.txt"
SWEEP_GROUPS_ARTIFACT = "sweep/groups.json"
SWEEP_REPORT_MD = "sweep/report.md"
SWEEP_REPORT_CSV = "sweep/report.csv"

# --- a sweep's parent run -----------------------------------------------------------------
SWEEP_DIR_TAG = "imgexp.sweep_dir"
SWEEPER_TAG = "imgexp.sweeper"
LAUNCHER_TAG = "imgexp.launcher"
HPARAMS_SEARCH_TAG = "imgexp.hparams_search"
N_JOBS_TAG = "imgexp.n_jobs"
N_FAILED_TAG = "imgexp.n_failed"
FAILED_RUNS_TAG = "imgexp.failed_runs"
BEST_RUN_ID_TAG = "imgexp.best_run_id"
BEST_RUN_NAME_TAG = "imgexp.best_run_name"
BEST_OVERRIDES_TAG = "imgexp.best_overrides"
BEST_PARAMS_TAG_PREFIX = "imgexp.best_params."
SWEEP_MULTIRUN_ARTIFACT = "sweep/multirun.yaml"
SWEEP_OPTUNA_ARTIFACT = "sweep/optimization_results.yaml"

# --- `imgexp lr-find`: the learning-rate range test -----------------------------------------
LR_FIND_TASK = "lr-find"  # its TASK_TAG value
SUGGESTED_LR_TAG = "imgexp.lr_find.suggested_lr"  # the rate (metric suggested_lr), or why none
LR_FIND_RULE_TAG = "imgexp.lr_find.rule"  # the rule that picked it, in words
LR_FIND_STOPPED_TAG = "imgexp.lr_find.stopped"  # all steps run, or where and why it diverged
LR_FIND_CURVE_ARTIFACT = "lr_find/curve.json"  # lr, loss, smoothed loss per step
LR_FIND_PNG = "plots/lr_find.png"

# --- `imgexp reproduce`: a preset's figure against the one it declares ---------------------
REPRODUCE_VERDICT_TAG = "imgexp.reproduce.verdict"  # pass, fail, no figure, missing data, ...
REPRODUCE_DELTA_METRIC = "reproduce_delta"  # measured - expected
REPRODUCE_BUDGET_PARAM = "reproduce.budget"  # full or quick
REPRODUCE_EXPECTED_PARAM = "reproduce.expected"
REPRODUCE_TOLERANCE_PARAM = "reproduce.tolerance"
HARDWARE_TAG = "imgexp.hardware"  # CPU model and cores, GPUs: where the figure was measured
