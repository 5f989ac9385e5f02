"""``python -m core``: the headless tuner."""

import sys

from core.cli import main

sys.exit(main())
