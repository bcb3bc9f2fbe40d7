"""``python -m fastrnn ...`` is the ``fastrnn`` command line (see :mod:`fastrnn.cli`)."""

import sys

from fastrnn.cli import main

sys.exit(main())
