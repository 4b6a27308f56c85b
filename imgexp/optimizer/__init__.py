"""The `optimizer` config group: schema and builders."""
