"""What a run shows after training: curves, test metrics, classification report, confusion
matrix, sample grids; and ``imgexp-eval`` to re-evaluate a logged model on any dataset."""

import matplotlib

matplotlib.use("Agg")  # every figure here is rendered headless; no window is ever opened
