"""``python -m bsmount`` runs the command-line interface."""

from bsmount.cli import main

raise SystemExit(main())
