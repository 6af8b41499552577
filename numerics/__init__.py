"""Numerical side of interaction-asymmetry (torch + torch.func).

Subpackages (see docs/architecture.md): ``core`` (what every task shares: the training loop,
atomic writes and JSON, validation, cross-slot derivatives, devices, errors, progress),
``synthetic`` (the verification on exact generators: generators, supports, decoders, the
training pipeline, metrics, verdicts), ``counterexamples`` (the theory's counterexamples
trained), ``sprites`` and ``bump`` (the image benchmarks), ``figures``, ``sweep`` and ``cli``.
Import the modules directly (``from numerics.synthetic.metrics import
slot_identifiability``); importing a package itself stays light so that the command line
starts fast.
"""
