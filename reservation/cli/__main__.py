"""`python -m reservation.cli`: the same as the `reservation` command."""

import sys

from reservation.cli.main import main

sys.exit(main())
