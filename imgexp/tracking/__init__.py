"""The `tracking` config group: schema and builders."""
