"""`python -m policysearch`: the `policysearch` command, run by this interpreter."""

from .interfaces.cli import main

raise SystemExit(main())
