"""`python -m tinyedge` is the `tinyedge` command."""
import sys

from .cli import main

sys.exit(main())
