"""Developer tools that are not part of the bot (run from a clone with the dev extras)."""
