"""Sub-commands of ``iasym``, one module each (see :mod:`numerics.cli`)."""
