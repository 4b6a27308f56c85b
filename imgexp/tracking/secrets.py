"""Keeps credentials out of MLflow: config values whose key looks like a credential are masked
in params, tags, run names, overrides and every config/log artifact, and the masked values
are also scrubbed from free text (a job log may echo them). Environment variables are never
logged by imgexp at all; this module only deals with what reaches the config."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import yaml

MASK = "***"
# A key is a credential when its last component contains one of these (`db_password`,
# `apiToken`, `aws_secret_access_key`) or has one of the short words as a whole word
# (`access-key`, `key`, `auth`, but not `keyword`, `monkey` or `author`).
SECRET_PARTS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "credential",
    "apikey",
    "api_key",
)
SECRET_WORDS = frozenset({"key", "auth", "pwd"})
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_OVERRIDE = re.compile(r"^(?P<key>[~+]{0,2}[\w.\-/@]+)=(?P<value>.*)$", re.DOTALL)
_ASSIGNMENT = re.compile(r"([~+]{0,2}[A-Za-z_][\w.\-/@]*)=([^\s,'\"\]]*)")
MIN_SCRUB_LENGTH = 4  # shorter values would scrub ordinary text ("1", "abc")


def is_secret_key(key: str) -> bool:
    """True when the last component of a dotted key names a credential."""
    last = str(key).rsplit(".", 1)[-1]
    if any(part in last.lower() for part in SECRET_PARTS):
        return True
    return bool({word.lower() for word in _WORD.findall(last)} & SECRET_WORDS)


def mask_override(override: str) -> str:
    """``+db.password=hunter2`` -> ``+db.password=***``; other overrides are unchanged."""
    match = _OVERRIDE.match(override)
    if match and is_secret_key(match["key"].lstrip("~+")):
        return f"{match['key']}={MASK}"
    return override


class Redactor:
    """Masks one config's credentials wherever they may be written (built from that config)."""

    def __init__(self, config: Any) -> None:
        self.values = sorted(
            {v for v in _secret_values(config) if len(v) >= MIN_SCRUB_LENGTH},
            key=len,
            reverse=True,
        )

    def tree(self, tree: Any) -> Any:
        """A copy of a dict/list tree with credential values masked (by key and by value)."""
        if isinstance(tree, dict):
            return {k: MASK if is_secret_key(k) else self.tree(v) for k, v in tree.items()}
        if isinstance(tree, list):
            return [self.tree(item) for item in tree]
        if isinstance(tree, str):
            return self.text(mask_override(tree))
        return tree

    def overrides(self, overrides: list[str]) -> list[str]:
        """Command-line overrides with credential values masked."""
        return [self.text(mask_override(item)) for item in overrides]

    def text(self, text: str) -> str:
        """Free text with ``secret_key=value`` assignments and every known credential value
        replaced by the mask."""
        text = _ASSIGNMENT.sub(
            lambda m: f"{m[1]}={MASK}" if is_secret_key(m[1].lstrip("~+")) else m[0], text
        )
        for value in self.values:
            text = text.replace(value, MASK)
        return text

    def tags(self, tags: dict[str, Any]) -> dict[str, str]:
        """MLflow tags, values stringified; a credential-named tag is masked whole."""
        return {k: MASK if is_secret_key(k) else self.text(str(v)) for k, v in tags.items()}

    def yaml_text(self, text: str) -> str:
        """A YAML document masked structurally (keys) and textually (values)."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            return self.text(text)
        return yaml.safe_dump(self.tree(data), sort_keys=False)

    def copy_dir(self, source: Path, target: Path) -> Path:
        """A copy of a directory tree with its text files masked (YAML key by key); binary
        files are copied unchanged."""
        for path in sorted(source.rglob("*")):
            if not path.is_file():
                continue
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            try:
                text = path.read_text()
            except UnicodeDecodeError:
                shutil.copyfile(path, destination)
                continue
            yaml_file = path.suffix in (".yaml", ".yml")
            destination.write_text(self.yaml_text(text) if yaml_file else self.text(text))
        return target


def _secret_values(tree: Any) -> list[str]:
    """Every scalar value stored under a credential-looking key (or override)."""
    if isinstance(tree, dict):
        found: list[str] = []
        for k, v in tree.items():
            if is_secret_key(k) and not isinstance(v, (dict, list)) and v is not None:
                found.append(str(v))
            else:
                found.extend(_secret_values(v))
        return found
    if isinstance(tree, list):
        return [value for item in tree for value in _secret_values(item)]
    if isinstance(tree, str):
        match = _OVERRIDE.match(tree)
        if match and is_secret_key(match["key"].lstrip("~+")) and match["value"]:
            return [match["value"]]
    return []
