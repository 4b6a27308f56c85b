"""The `model` config group: schema and builders."""
