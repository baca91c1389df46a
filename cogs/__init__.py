"""Features of the bot, one extension module each; they import from ``bot``, never each other."""
