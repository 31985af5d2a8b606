"""`python -m reservation.clients` is `reservation-clients`."""

from reservation.clients.cli import main

raise SystemExit(main())
