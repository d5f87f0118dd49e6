"""``python -m fastgen``: the ``fastgen`` command line."""

from fastgen.cli import main

raise SystemExit(main())
