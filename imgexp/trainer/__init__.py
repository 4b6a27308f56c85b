"""The `trainer` config group: schema and builders."""
