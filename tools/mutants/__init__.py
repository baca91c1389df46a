"""The mutation check: realistic defects planted one at a time, which the suite must catch.

``python -m tools.mutants`` (see the README). The defects are listed in :mod:`.catalogue`; the
runner is :mod:`.runner`.
"""
