"""Containers: ``%docker_run``/``%%docker_run``, ``%docker_images``, ``%docker_ps``,
``%docker_logs``, ``%docker_stop``, ``%docker_rm`` and ``%docker_rmi``."""

from __future__ import annotations

from IPython.core.magic import line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from docker_magics import api
from docker_magics.magics.arguments import (
    Flag,
    add_option,
    env_file_option,
    env_option,
    filter_option,
    get_option,
    image_and_command,
    magic,
    name_option,
    platform_option,
    quiet_option,
    script_cell_args,
    shell_option,
)
from docker_magics.magics.core import TopicMagics


@magics_class
class RunMagics(TopicMagics):
    @line_cell_magic
    @magic
    @magic_arguments()
    @env_option(
        "Set an environment variable (repeatable); a bare NAME takes its value "
        "from this kernel's environment."
    )
    @env_file_option("Read NAME=VALUE lines from a file.")
    @argument(
        "-v",
        "--volume",
        action="append",
        default=[],
        metavar="SRC:DEST[:ro]",
        help="Bind-mount a host path (on the engine's host) or a named volume.",
    )
    @argument("-w", "--workdir", metavar="DIR", help="Working directory inside the container.")
    @argument("-u", "--user", metavar="USER[:GROUP]", help="Run as this user.")
    @argument("--network", metavar="NETWORK", help="Connect to this network.")
    @argument(
        "-p",
        "--publish",
        action="append",
        default=[],
        metavar="[IP:]HOST:CONTAINER",
        help="Publish a container port (repeatable).",
    )
    @name_option("Name the container.")
    @argument("--entrypoint", metavar="COMMAND", help="Override the image's entrypoint.")
    @platform_option("Platform of the image.")
    @argument("-d", "--detach", action="store_true", help="Run in the background.")
    @argument(
        "--rm",
        action=Flag,
        default=None,
        help="Remove the container when it exits (default for foreground runs; "
        "--rm=false keeps it; with --detach the default is to keep it).",
    )
    @shell_option()
    @add_option(
        "Copy a local file or folder in before the run (DEST relative to the working directory)."
    )
    @get_option("Copy a file or folder out after a successful run.")
    @quiet_option("Do not show the output live.")
    @image_and_command("The image to run.")
    def docker_run(self, args, cell=None):
        """Run a container; its stdout and stderr stream into the cell output (stderr as
        stderr). As a cell magic (%%docker_run IMAGE), the cell is a script run inside the
        container with --shell. Returns a RunResult (exit code, output, duration); a non-zero
        exit is an error with the exit code and the last lines. Interrupting stops and removes
        the container."""
        args = script_cell_args(self.docker_run, args, cell)
        if args is None:  # --help
            return None
        self.connection()
        return api.run(
            args.image,
            args.command or None,
            script=cell,
            shell=args.shell,
            env=args.env,
            env_files=args.env_file,
            volumes=args.volume,
            ports=args.publish,
            workdir=args.workdir,
            user=args.user,
            network=args.network,
            name=args.name,
            entrypoint=args.entrypoint,
            platform=args.platform,
            detach=args.detach,
            remove=args.rm,
            add=args.add,
            get=args.get,
            progress=self.progress_mode(args),
        )

    @line_magic
    @magic
    @magic_arguments()
    @argument("name", nargs="?", metavar="REPOSITORY[:TAG]", help="Only these images.")
    @argument("-a", "--all", action="store_true", help="Show intermediate images too.")
    @filter_option("Filter, e.g. dangling=true, label=team=data (repeatable).")
    def docker_images(self, args):
        """The engine's images (a table; .objects has docker-py's Image objects)."""
        self.connection()
        return api.images(args.name, all=args.all, filters=args.filter)

    @line_magic
    @magic
    @magic_arguments()
    @argument("-a", "--all", action="store_true", help="Show stopped containers too.")
    @filter_option("Filter, e.g. status=exited, name=web (repeatable).")
    def docker_ps(self, args):
        """The engine's containers (a table; .objects has docker-py's Container objects)."""
        self.connection()
        return api.containers(all=args.all, filters=args.filter)

    @line_magic
    @magic
    @magic_arguments()
    @argument("container", metavar="CONTAINER", help="Name or ID.")
    @argument(
        "-f",
        "--follow",
        action="store_true",
        help="Keep showing new output until the container stops (or you interrupt).",
    )
    @argument("-n", "--tail", type=int, metavar="N", help="Only the last N lines.")
    @argument("-t", "--timestamps", action="store_true", help="Show timestamps.")
    def docker_logs(self, args):
        """A container's output (stderr as stderr), bounded like a run's; the value is the
        whole log (``.text()``)."""
        self.connection()
        return api.logs(
            args.container, follow=args.follow, tail=args.tail, timestamps=args.timestamps
        )

    @line_magic
    @magic
    @magic_arguments()
    @argument("containers", nargs="+", metavar="CONTAINER")
    @argument(
        "-t",
        "--time",
        type=int,
        default=10,
        metavar="SECONDS",
        help="Seconds to wait before killing (default 10; -1: wait however long it takes).",
    )
    def docker_stop(self, args):
        """Stop containers."""
        self.connection()
        return api.stop(args.containers, timeout=args.time)

    @line_magic
    @magic
    @magic_arguments()
    @argument("containers", nargs="+", metavar="CONTAINER")
    @argument("-f", "--force", action="store_true", help="Kill running containers first.")
    def docker_rm(self, args):
        """Remove containers."""
        self.connection()
        return api.remove(args.containers, force=args.force)

    @line_magic
    @magic
    @magic_arguments()
    @argument("images", nargs="+", metavar="IMAGE")
    @argument(
        "-f", "--force", action="store_true", help="Remove even if in use or tagged several times."
    )
    def docker_rmi(self, args):
        """Remove images."""
        self.connection()
        return api.remove_images(args.images, force=args.force)
