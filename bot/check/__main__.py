"""``python -m bot.check``: the same as ``akool-bot check``."""

import sys

from bot.check import main

sys.exit(main())
