"""`python -m netcheck.checker.cli`: the `netcheck` command."""

from . import main

main()
