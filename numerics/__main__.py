"""``python -m numerics`` is the same as the ``iasym`` console script."""

import sys

from numerics.cli import main

sys.exit(main())
