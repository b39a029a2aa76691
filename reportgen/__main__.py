"""``python -m reportgen``."""

import sys

from reportgen.cli import script

sys.exit(script())
