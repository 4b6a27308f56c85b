"""The `dataset` config group: schema and builders."""
