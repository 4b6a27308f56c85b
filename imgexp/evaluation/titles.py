"""Figure titles that fit their figure: a run's name can be a whole command line, and
matplotlib does not wrap, so a long title ran off the image."""

from __future__ import annotations

import textwrap

MAX_LINES = 3
# Average glyph width of matplotlib's default font, as a fraction of its size in points.
GLYPH_WIDTH = 0.55


def fit_title(title: str, width_inches: float, fontsize: float = 10) -> str:
    """``title`` wrapped to the figure's width, at most `MAX_LINES` lines (the rest cut with
    an ellipsis)."""
    columns = max(20, int(width_inches * 72 / (fontsize * GLYPH_WIDTH)))
    lines = textwrap.wrap(title, columns, break_on_hyphens=False) or [""]
    if len(lines) > MAX_LINES:
        lines = [*lines[: MAX_LINES - 1], textwrap.shorten(" ".join(lines[MAX_LINES - 1 :]),
                                                          columns, placeholder=" …")]  # fmt: skip
    return "\n".join(lines)
