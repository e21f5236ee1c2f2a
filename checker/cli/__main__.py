"""`python -m netcheck.checker.cli`: the `netcheck` command."""

from netcheck.checker.cli import main

main()
