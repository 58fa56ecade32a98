"""``python -m rules ...``: the rules subcommands without the service's CLI."""

import sys

from rules.cli import main

sys.exit(main())
