"""``python -m maskgit_lib ...`` is the same as ``maskgit ...`` (and works under ``torchrun -m``)."""

from maskgit_lib.cli import main

raise SystemExit(main())
