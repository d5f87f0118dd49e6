"""``python -m fastgen.demo``."""

from fastgen.demo._main import main

raise SystemExit(main())
