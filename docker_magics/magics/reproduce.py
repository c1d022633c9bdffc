"""Reproducing an analysis: ``%docker_freeze`` (an image of the kernel's Python
environment) and ``%docker_run_notebook`` (a notebook executed in a container of it)."""

from __future__ import annotations

import sys

from IPython.core.magic import line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from docker_magics import api
from docker_magics.errors import BadArgument
from docker_magics.magics.arguments import (
    add_option,
    builder_option,
    cache_from_option,
    env_option,
    get_option,
    label_option,
    magic,
    no_cache_option,
    pull_option,
    quiet_and_progress,
    tag_option,
)
from docker_magics.magics.core import TopicMagics


@magics_class
class ReproduceMagics(TopicMagics):
    @line_magic
    @magic
    @magic_arguments()
    @tag_option("Name and tag the image (repeatable; at least one).")
    @argument(
        "--base",
        metavar="IMAGE",
        help="The image to start from (default: python:X.Y-slim of the kernel's Python); its "
        "Python must be the kernel's major.minor.",
    )
    @argument(
        "--packages",
        choices=("all", "imported"),
        default="all",
        help="all: every distribution installed in the kernel (default); imported: those whose "
        "modules the session imported, and what they require. ipykernel, nbclient and pip are "
        "always added.",
    )
    @argument(
        "--exclude",
        action="append",
        default=[],
        metavar="DIST",
        help="Leave this distribution out (repeatable).",
    )
    @argument(
        "--include",
        action="append",
        default=[],
        metavar="PATH[:DEST]",
        help="A file or folder of the analysis, copied to the image's working folder (repeatable); "
        "by default at its path relative to the kernel's working folder.",
    )
    @argument("--workdir", metavar="DIR", help="The image's working folder (default /analysis).")
    @label_option()
    @argument(
        "--dockerfile",
        action="store_true",
        help="Print the Dockerfile it would build, and build nothing (no engine needed).",
    )
    @argument(
        "--network",
        metavar="MODE",
        default="none",
        help="Network of the install step (default none: it needs none).",
    )
    @no_cache_option()
    @pull_option("Always try to pull a newer base image.")
    @cache_from_option()
    @quiet_and_progress("No progress; print the image ID.")
    @builder_option()
    def docker_freeze(self, args):
        """Build an image that reproduces this kernel's Python environment: its
        distributions at their exact versions (from the kernel's own metadata), installed
        from wheels that the kernel's pip fetches for the image's platform (the build
        needs no network), in a virtual environment at /opt/venv; then the --include files
        in the working folder. Packages that cannot be had (editable installs, local
        folders, no wheel for the image) are left out with one warning line each.

        It is a build: the progress and errors of %%docker_build, and a BuildResult.
        Rebuilding after editing an included file reuses the packages' layer.
        """
        choices = dict(
            base=args.base,
            packages=args.packages,
            exclude=args.exclude,
            include=args.include,
            workdir=args.workdir,
        )
        if args.dockerfile:
            plan = api.freeze_plan(**choices)
            for line in plan.warnings:
                print(f"Warning: {line}", file=sys.stderr)
            print(plan.dockerfile, end="")
            return None
        if not args.tag:  # before connecting
            raise BadArgument("The frozen image needs a name", "Give one with -t NAME[:TAG]")
        self.connection()
        result = api.freeze(
            args.tag,
            **choices,
            labels=args.label,
            network=args.network,
            cache_from=args.cache_from,
            no_cache=args.no_cache,
            pull=args.pull,
            builder=args.builder or self.settings.builder,
            progress=self.progress_mode(args),
        )
        if args.quiet:
            print(result.image_id)
        return result

    @line_magic
    @magic
    @magic_arguments()
    @argument("notebook", metavar="NOTEBOOK", help="The .ipynb file to run.")
    @argument(
        "--image",
        required=True,
        metavar="NAME",
        help="The image to run it in (one made by %%docker_freeze, or any with ipykernel and "
        "nbclient).",
    )
    @argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="A parameter (repeatable), typed as papermill's -p: True, False, None, numbers, "
        "else a string. It goes in a cell after the one tagged 'parameters'.",
    )
    @argument(
        "-r",
        "--raw-parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="A parameter kept as a string (repeatable).",
    )
    @argument(
        "-o",
        "--output",
        metavar="PATH",
        help="Where the executed notebook goes (default: NOTEBOOK.executed.ipynb beside it).",
    )
    @argument("--timeout", type=float, metavar="SECONDS", help="Time limit of each cell.")
    @argument("--kernel", metavar="NAME", help="The kernel to use (default: the notebook's).")
    @env_option("Set an environment variable in the container (repeatable).")
    @argument("--network", metavar="NAME", help="Connect the container to this network.")
    @add_option("Copy a local file or folder into the working folder first (repeatable).")
    @get_option("Copy a file or folder out after a run that succeeded (repeatable).")
    @quiet_and_progress("No progress.")
    def docker_run_notebook(self, args):
        """Execute a notebook inside a container, papermill-style: -p values go in a cell
        after the one tagged 'parameters'. Shows each cell as it ends (cell i of N, its
        time), writes the executed notebook (after a failure too, up to the failing cell),
        and returns a NotebookResult. A failing cell ends in one line naming it. The
        container is removed whatever happens; interrupting stops it.
        """
        self.connection()
        return api.run_notebook(
            args.notebook,
            args.image,
            parameters=args.parameter,
            raw_parameters=args.raw_parameter,
            output=args.output,
            timeout=args.timeout,
            kernel=args.kernel,
            env=args.env,
            network=args.network,
            add=args.add,
            get=args.get,
            progress=self.progress_mode(args),
        )
