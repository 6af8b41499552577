"""What every numerical task shares: the training loop (``engine``), atomic writes, locks and
checkpoints (``io``), JSON with one NaN policy (``jsonio``), checks of settings
(``validation``), cross-slot derivatives (``derivatives``, ``taylor``), devices, seeds,
progress and the package's errors. Nothing here imports a task package."""
