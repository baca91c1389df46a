"""Bot processes started by tests: offline name lookups, and an unprivileged user when the tests
run as root.

Every child gets ``tests/child_site`` first on its ``PYTHONPATH`` (see its ``sitecustomize``), so
a host name it looks up fails locally instead of reaching the machine's DNS server.

Some start-up failures only happen to a user without privileges (a port below 1024, a folder it
may not write), and the container runs the bot as such a user. When the tests run as root, those
children run as ``uid``: through :data:`sys.executable` if that user can run it, else through the
system's Python of the same version with this environment's packages on ``PYTHONPATH`` (a virtual
environment made by root may live where no other user can read its interpreter). If neither
works (the checkout itself may be private to root), the child stays uid 0 but without any
capability (``setpriv``), which the kernel treats like any user for ports and for files it does
not own or that are read-only.
"""

from __future__ import annotations

import functools
import os
import shutil
import site
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHILD_SITE = ROOT / "tests" / "child_site"
# The user the image runs the bot as (Dockerfile: useradd --uid 10001).
IMAGE_UID = 10001
# What a child must be able to import: the packages, and this checkout (which may be somewhere
# another user cannot read, such as a private temporary folder).
_NEEDED = "import aiohttp, aiosqlite, discord, dotenv, yarl, sqlite3, bot.cli"


@dataclass(frozen=True)
class Runner:
    """How to start a Python child: its interpreter, what to put in its environment, and the
    user to run it as (``None``: this process's)."""

    python: list[str]
    env: dict[str, str] = field(default_factory=dict)
    user: int | None = None

    @property
    def uid(self) -> int:
        return os.geteuid() if self.user is None else self.user

    def popen(self) -> dict[str, Any]:
        """Keyword arguments for ``subprocess`` and ``asyncio.create_subprocess_exec``: the
        switch of user happens in the child, without ``preexec_fn`` (unsafe with threads)."""
        if self.user is None:
            return {}
        return {"user": self.user, "group": self.user, "extra_groups": []}

    def environment(self, env: dict[str, str]) -> dict[str, str]:
        """``env`` for this child: the offline ``sitecustomize`` first on its path."""
        paths = [str(CHILD_SITE), *filter(None, [self.env.get("PYTHONPATH")])]
        paths += [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        return {**env, **self.env, "PYTHONPATH": os.pathsep.join(paths)}


def _works(runner: Runner) -> bool:
    try:
        result = subprocess.run(  # noqa: S603 - an interpreter this suite chose
            [*runner.python, "-c", _NEEDED],
            env=runner.environment({"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)}),
            cwd="/",
            **runner.popen(),
            capture_output=True,
            timeout=60,
            check=False,
        )
    except OSError:  # the user may not even execute the interpreter
        return False
    return result.returncode == 0


@functools.cache
def current_user() -> Runner:
    return Runner([sys.executable])


@functools.cache
def unprivileged(uid: int = IMAGE_UID) -> Runner:
    """A runner whose children cannot bind ports below 1024 or write read-only folders."""
    if os.geteuid() != 0:
        return current_user()
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    packages = os.pathsep.join(site.getsitepackages())
    candidates = [Runner([sys.executable], user=uid)]
    system_python = Path(f"/usr/bin/python{version}")
    if system_python.exists():
        candidates.append(
            Runner(
                [str(system_python)],
                env={"PYTHONPATH": packages},
                user=uid,
            )
        )
    setpriv = shutil.which("setpriv")
    if setpriv is not None:
        drop = [setpriv, "--bounding-set=-all", "--inh-caps=-all", "--no-new-privs"]
        candidates.append(Runner([*drop, sys.executable]))
    for runner in candidates:
        if _works(runner):
            return runner
    raise RuntimeError(
        f"no way to run this environment's Python without privileges: uid {uid} cannot run "
        f"{sys.executable} or the system's Python {version} with these packages, and setpriv "
        "is missing"
    )
