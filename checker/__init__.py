"""ExplicitResult, property checking, reporting and the command line of netcheck."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("netcheck")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
