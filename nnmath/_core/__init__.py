"""The automatic-differentiation machinery. Knows numpy, nothing of neural networks."""
