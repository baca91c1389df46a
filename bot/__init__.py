"""The core of the AKOOL image bot: settings, the AKOOL client, the job store and the Discord bot.

Nothing in this package knows about any one feature; features live in ``cogs/`` and import
from here.
"""

__version__ = "0.1.0"
