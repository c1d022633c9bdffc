"""docker_magics: Docker as a first-class citizen of Jupyter.

``%load_ext docker_magics`` registers the magics. The Python API (``connect``, ``client``,
``build``, ``run``, ...) lives in :mod:`docker_magics.api` and is reachable from here, as are
the result types (``BuildResult``, ``RunResult``, ``PushResult``, ``PullResult``,
``JobResult``); they are imported on first use so that importing this package, and loading
the extension, stays fast: neither ``docker`` nor ``ipywidgets`` is imported until a magic
needs it.

The package, by folder: ``magics/`` (the IPython glue), ``engine/`` (connections and the
engine's streams), ``display/`` (progress views, tables, logs, charts), ``builds/``,
``registry/``, ``runs/``, ``storage/``, ``jobs/`` and ``reproduce/`` (the features); see the
README's package tree.
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
    "history",
    "df",
    "freeze",
    "freeze_plan",
    "run_notebook",
    "job",
    "last_job",
    "nodes",
)

# The values the API returns, importable from the top: ``from docker_magics import BuildResult``.
_RESULTS = {
    "BuildResult": "docker_magics.builds.result",
    "RunResult": "docker_magics.runs.result",
    "PushResult": "docker_magics.registry.result",
    "PullResult": "docker_magics.registry.result",
    "ContainerLog": "docker_magics.runs.result",
    "ImageHistory": "docker_magics.storage.layers",
    "DiskUsage": "docker_magics.storage.disk",
    "NotebookResult": "docker_magics.reproduce.result",
    "JobResult": "docker_magics.jobs.result",
}

__all__ = [
    *_API,
    *_RESULTS,
    "errors",
    "load_ipython_extension",
    "unload_ipython_extension",
    "__version__",
]


def __getattr__(name):
    import importlib

    if name in _API:
        return getattr(importlib.import_module("docker_magics.api"), name)
    if name in _RESULTS:
        return getattr(importlib.import_module(_RESULTS[name]), name)
    if name == "errors":
        return importlib.import_module("docker_magics.errors")
    raise AttributeError(f"module 'docker_magics' has no attribute {name!r}")


def _empty_build_cell(lines: list[str]) -> list[str]:
    """``%%docker_build --file X`` with nothing below it: IPython refuses a cell magic with
    an empty body before the magic runs, so run it as the line magic, which builds the
    file (or says the cell is empty)."""
    if lines and lines[0].startswith("%%docker_build") and not "".join(lines[1:]).strip():
        head = lines[0][2:].split(None, 1)[0]
        if head == "docker_build":
            return [lines[0][1:]]
    return lines


def load_ipython_extension(ipython):
    from docker_magics.magics import register

    register(ipython)
    cleanup = ipython.input_transformers_cleanup
    if _empty_build_cell not in cleanup:
        cleanup.append(_empty_build_cell)


def unload_ipython_extension(ipython):
    from docker_magics.magics import unregister

    unregister(ipython)
    if _empty_build_cell in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.remove(_empty_build_cell)
