"""The netcheck spec language: loading, validation, semantics and compilation to a transition system."""
