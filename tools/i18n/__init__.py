"""The bot's translation catalogs: ``python -m tools.i18n update`` extracts, merges and compiles;
``python -m tools.i18n init LANG`` starts a new language; ``python -m tools.i18n check`` reports
what is missing."""
