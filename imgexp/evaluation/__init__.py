"""What a run shows after training: curves, test metrics."""
