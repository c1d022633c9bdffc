"""docker_magics: Docker as a first-class citizen of Jupyter.

``%load_ext docker_magics`` registers the magics. The Python API (``connect``, ``client``,
...) lives in :mod:`docker_magics.api` and is reachable from here; it is imported on first
use so that importing this package, and loading the extension, stays fast: neither
``docker`` nor ``ipywidgets`` is imported until a magic needs it.
"""

__version__ = "0.1.0"

_API = (
    "connect",
    "current",
    "client",
    "switch",
    "close",
    "connections",
    "engine_info",
    "build",
    "last_build",
    "last_run",
    "push",
    "pull",
    "tag",
    "login",
    "logout",
    "run",
    "images",
    "containers",
    "logs",
    "stop",
    "remove",
    "remove_images",
)

__all__ = [*_API, "load_ipython_extension", "unload_ipython_extension", "__version__"]


def __getattr__(name):
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'docker_magics' has no attribute {name!r}")


def load_ipython_extension(ipython):
    from .magics import register

    register(ipython)


def unload_ipython_extension(ipython):
    from .magics import unregister

    unregister(ipython)
