"""Jobs on a Docker Swarm: ``%docker_job``/``%%docker_job`` and ``%docker_nodes``."""

from __future__ import annotations

import argparse
import shlex

from IPython.core.magic import line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from docker_magics import api
from docker_magics.display.progress import MODES
from docker_magics.errors import BadArgument
from docker_magics.magics.arguments import HelpShown, magic, parse_line
from docker_magics.magics.core import TopicMagics


@magics_class
class JobMagics(TopicMagics):
    @line_cell_magic
    @magic(lists=True)
    @magic_arguments()
    @argument(
        "--each",
        action="append",
        metavar="NAME=V1,V2,...",
        help="One task per value, the value in the task's environment as NAME (repeatable: "
        "one task per combination). NAME={values} takes a Python list; {combos}, a list of "
        "dicts, gives the tasks' values one by one.",
    )
    @argument(
        "--replicas",
        type=int,
        metavar="N",
        help="Without --each: N tasks (TASK_INDEX tells each which it is).",
    )
    @argument(
        "-e",
        "--env",
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help="An environment variable for every task (repeatable); a bare NAME takes its "
        "value from this kernel's environment.",
    )
    @argument("--env-file", action="append", default=[], metavar="FILE", help="NAME=VALUE lines.")
    @argument(
        "--max-concurrent", type=int, metavar="N", help="Tasks running at once (default: all)."
    )
    @argument(
        "--constraint",
        action="append",
        default=[],
        metavar="EXPR",
        help="Where tasks may run, e.g. node.role==worker, node.labels.gpu==true (repeatable).",
    )
    @argument("--reserve-cpu", type=float, metavar="CPUS", help="CPUs each task reserves.")
    @argument("--reserve-memory", metavar="SIZE", help="Memory each task reserves (e.g. 512m).")
    @argument("--name", metavar="NAME", help="The job's (its service's) name.")
    @argument("--timeout", type=float, metavar="SECONDS", help="Stop the job after this long.")
    @argument(
        "--no-resolve-image",
        action="store_true",
        help="Do not pin the image to its registry's digest: each node runs what it has.",
    )
    @argument(
        "--shell",
        default="sh",
        metavar="COMMAND",
        help="With the cell magic: the interpreter for the cell (sh, bash, python3...).",
    )
    @argument("--progress", choices=MODES, help="auto (default), widget, plain or none.")
    @argument("-q", "--quiet", action="store_true", help="Do not show progress.")
    @argument("image", metavar="IMAGE", help="The image every task runs.")
    @argument(
        "command",
        nargs=argparse.REMAINDER,
        metavar="COMMAND",
        help="The command and its arguments (line magic only).",
    )
    def docker_job(self, args, cell=None):
        """Run a command (or, as a cell magic, the cell with --shell) as the tasks of one
        job on the Docker Swarm this engine manages: one task per --each combination (or
        --replicas), spread over the nodes, followed live, its service removed at the end.
        Returns a JobResult (.tasks in parameter order with .params, .node, .state,
        .exit_code, .output, .duration; .outputs; .failed; .records()). Failed tasks are an
        error line; docker_magics.last_job() keeps every result. Interrupting stops the tasks
        and removes the service."""
        if cell is not None and args.command:
            # Options may follow the image here (there is no command): parse them as options.
            argv = list(args.argv)
            del argv[len(argv) - len(args.command) - 1]  # the image: just before the rest
            # (.parser: set by IPython's @magic_arguments, at run time)
            parser = self.docker_job.parser  # type: ignore[union-attr]
            try:
                args = parse_line(parser, shlex.join([*argv, args.image]), "docker_job")
            except HelpShown:
                return None
            if args.command:
                raise BadArgument(
                    "%%docker_job runs the cell: give no command after the image",
                    "Write the commands in the cell",
                )
        if cell is not None and not cell.strip():
            raise BadArgument("The cell is empty: nothing to run", "Write a script in the cell")
        self.connection()
        return api.job(
            args.image,
            args.command or None,
            script=cell,
            shell=args.shell,
            each=args.each,
            replicas=args.replicas,
            env=args.env,
            env_files=args.env_file,
            max_concurrent=args.max_concurrent,
            constraints=args.constraint,
            name=args.name,
            reserve_cpu=args.reserve_cpu,
            reserve_memory=args.reserve_memory,
            timeout=args.timeout,
            resolve_image=not args.no_resolve_image,
            progress=self.progress_mode(args),
        )

    @line_magic
    @magic
    @magic_arguments()
    def docker_nodes(self, args):
        """The nodes of the Docker Swarm this engine manages (a table, like docker node ls;
        .objects has the engine's records)."""
        self.connection()
        return api.nodes()
