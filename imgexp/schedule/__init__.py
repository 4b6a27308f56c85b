"""The `schedule` config group: learning-rate schedules (per step or on plateau)."""
