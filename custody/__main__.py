"""`python -m custody` runs the command line."""

import sys

from custody.cli import main

sys.exit(main())
