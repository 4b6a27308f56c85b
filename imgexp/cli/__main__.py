"""``python -m imgexp.cli``: the same as the ``imgexp`` console script."""

from imgexp.cli import entry

entry()
