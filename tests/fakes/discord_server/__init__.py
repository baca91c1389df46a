"""A fake Discord (REST + gateway on 127.0.0.1) for end-to-end tests of discord.py bots.

Import it through :mod:`tests.fakes.discord`.
"""
