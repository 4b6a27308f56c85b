"""Everything about many runs treated as one: in-job folds and repeats (`members`, `in_job`),
sweeps (`callback` opens and closes their parent, `summary` reads them back), mean ± std
(`aggregate`), their curves (`history`, `plots`) and the report table (`report`).

Nothing here imports the runner: `in_job.run_group` is handed the function that trains one
member, so the runner depends on this package and never the other way round."""
