"""`python -m xl_rebalancer` is the same as the `xl-rebalancer` command."""

from .cli import run

run()
