"""Figures of the paper's proofs and results, computed from real generators and runs.

Every figure function takes data (a generator, a result object or arrays), returns the
matplotlib ``Figure`` and the plotted arrays, and never draws anything that was not computed.
``iasym figures`` regenerates all of them (see :mod:`numerics.figures.registry`).
"""
