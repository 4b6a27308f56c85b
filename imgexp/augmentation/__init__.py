"""The `augmentation` config group: schema and builders."""
