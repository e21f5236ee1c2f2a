"""The meaning of a compiled spec: its IR run as step functions, its state layout, its z3 relation."""

from netcheck._compiled import prefer_fresh

prefer_fresh(__name__, __path__)
