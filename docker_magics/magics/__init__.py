"""The IPython magics: thin. Parse arguments, call the Python API, show the result, and turn
every expected failure into one ``UsageError`` line (IPython prints it without a traceback).

One ``Magics`` class per topic; :class:`DockerMagics` holds the settings they share
(``%config DockerMagics``) and the connection magics.
"""

from __future__ import annotations

from docker_magics.display.once import quiet_in_terminals, show_in_terminals
from docker_magics.magics.arguments import show_warnings_as_lines, stop_showing_warnings_as_lines
from docker_magics.magics.builds import BuildMagics
from docker_magics.magics.core import DockerMagics
from docker_magics.magics.jobs import JobMagics
from docker_magics.magics.pictures import PictureMagics
from docker_magics.magics.registry import RegistryMagics
from docker_magics.magics.reproduce import ReproduceMagics
from docker_magics.magics.runs import RunMagics

TOPICS = (BuildMagics, RegistryMagics, RunMagics, PictureMagics, JobMagics, ReproduceMagics)

__all__ = ["DockerMagics", "register", "unregister"]


def register(ipython) -> None:
    quiet_in_terminals(ipython)
    show_warnings_as_lines()
    settings = DockerMagics(ipython)
    ipython.register_magics(settings)
    for topic in TOPICS:
        ipython.register_magics(topic(ipython, settings))


def unregister(ipython) -> None:
    show_in_terminals(ipython)
    manager = ipython.magics_manager
    for cls in (DockerMagics, *TOPICS):
        instance = manager.registry.pop(cls.__name__, None)
        if instance is None:
            continue
        for kind, names in instance.magics.items():
            for name in names:
                manager.magics[kind].pop(name, None)
        ipython.configurables[:] = [c for c in ipython.configurables if c is not instance]
    stop_showing_warnings_as_lines()
