"""Jobs on a Docker Swarm: ``%docker_job``/``%%docker_job`` and ``%docker_nodes``."""

from __future__ import annotations

from IPython.core.magic import line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from docker_magics import api
from docker_magics.magics.arguments import (
    env_file_option,
    env_option,
    image_and_command,
    magic,
    name_option,
    progress_option,
    quiet_option,
    script_cell_args,
    shell_option,
)
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
    @env_option(
        "An environment variable for every task (repeatable); a bare NAME takes its "
        "value from this kernel's environment."
    )
    @env_file_option("NAME=VALUE lines.")
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
    @name_option("The job's (its service's) name.")
    @argument("--timeout", type=float, metavar="SECONDS", help="Stop the job after this long.")
    @argument(
        "--no-resolve-image",
        action="store_true",
        help="Do not pin the image to its registry's digest: each node runs what it has.",
    )
    @shell_option()
    @progress_option()
    @quiet_option("Do not show progress.")
    @image_and_command("The image every task runs.")
    def docker_job(self, args, cell=None):
        """Run a command (or, as a cell magic, the cell with --shell) as the tasks of one
        job on the Docker Swarm this engine manages: one task per --each combination (or
        --replicas), spread over the nodes, followed live, its service removed at the end.
        Returns a JobResult (.tasks in parameter order with .params, .node, .state,
        .exit_code, .output, .duration; .outputs; .failed; .records()). Failed tasks are an
        error line; docker_magics.last_job() keeps every result. Interrupting stops the tasks
        and removes the service."""
        args = script_cell_args(self.docker_job, args, cell)
        if args is None:  # --help
            return None
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
