"""The search engines and what they share: the system protocol they explore, the state store, limits,
findings, paths and the engine-neutral result that every analysis and renderer reads."""

from netcheck._compiled import prefer_fresh

prefer_fresh(__name__, __path__)
