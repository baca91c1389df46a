"""``python -m bot``: read ``.env``, check the settings, configure logging, run the bot."""

from __future__ import annotations

import asyncio
import os
import sys

from dotenv import load_dotenv

from bot.logs import setup_logging
from bot.memory import limit_malloc_arenas
from bot.settings import Settings, SettingsError, level_number


def main() -> int:
    # Before any thread starts: bursts must not leave a malloc arena behind per worker thread.
    limit_malloc_arenas()
    # Values already in the environment win over .env, as operators expect from containers.
    load_dotenv(".env", override=False)
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as exc:
        lines = "\n".join(f"  - {problem}" for problem in exc.problems)
        sys.stderr.write(
            "The bot cannot start: its settings are incomplete or do not work together.\n"
            f"{lines}\n"
            "Set them in a .env file next to where you start the bot (copy .env.example) "
            "or in the environment.\n"
        )
        return 2
    setup_logging(level_number(settings.log_level), settings.secrets)

    # Imported only now: discord.py takes a moment to import, and a settings error should not wait.
    from bot.runner import run

    return asyncio.run(run(settings))


if __name__ == "__main__":
    sys.exit(main())
