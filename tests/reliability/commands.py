"""The command line as the reliability tests run it: a real process, wide output."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest


def cli(
    *args: str, timeout: float = 120, unprivileged: bool = False
) -> subprocess.CompletedProcess[str]:
    """`xl-rebalancer ARGS` in its own process (COLUMNS wide, so messages are not cut).
    `unprivileged`: as a user, not root (root ignores file modes: every capability is
    dropped with setpriv)."""
    command = [sys.executable, "-m", "xl_rebalancer", *args]
    if unprivileged and os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("setpriv is needed to drop root's capabilities")
        command = ["setpriv", "--inh-caps=-all", "--bounding-set=-all", *command]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "300"},
    )
