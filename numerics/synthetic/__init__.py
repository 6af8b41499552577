"""The synthetic verification: exact generators of known interaction order translated to
torch, supports, decoders of bounded cross-slot order, the search and training pipeline
(``training.train``), the measurements (SIS, Jacobian blocks, compositional generalization)
and the run's verdict against the theory's prediction; grids of runs and the demo."""
