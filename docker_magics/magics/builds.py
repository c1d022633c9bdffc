"""``%%docker_build``: an image from the cell's Dockerfile."""

from __future__ import annotations

from IPython.core.magic import line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from docker_magics import api
from docker_magics.display.once import said
from docker_magics.magics.arguments import (
    Flag,
    add_option,
    builder_option,
    cache_from_option,
    label_option,
    magic,
    no_cache_option,
    platform_option,
    pull_option,
    quiet_and_progress,
    tag_option,
)
from docker_magics.magics.core import TopicMagics


@magics_class
class BuildMagics(TopicMagics):
    @line_cell_magic
    @magic
    @magic_arguments()
    @tag_option("Name and tag the image (repeatable).")
    @argument(
        "--build-arg",
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help="Set a build argument (repeatable); a bare NAME takes its value from the environment.",
    )
    @argument(
        "--secret-build-arg",
        action="append",
        default=[],
        metavar="NAME",
        help="A build argument taken from the environment variable NAME whose value is masked "
        "in all output and logs (repeatable). Like any build argument it is kept in the "
        "image's history: do not push such images.",
    )
    @argument(
        "--secret",
        action="append",
        default=[],
        metavar="id=ID[,env=VAR|,src=FILE]",
        help="A build secret for RUN --mount=type=secret,id=ID (BuildKit; repeatable), read from "
        "the environment variable VAR (default: ID) or the file FILE. It reaches the RUN step "
        "only: never a layer, the image's history or the outputs.",
    )
    @argument("--target", metavar="STAGE", help="Build this stage of a multi-stage Dockerfile.")
    @platform_option("Target platform, e.g. linux/amd64.")
    @no_cache_option()
    @pull_option("Always try to pull newer base images.")
    @label_option()
    @argument("--network", metavar="MODE", help="Network mode for RUN steps (e.g. none, host).")
    @cache_from_option()
    @argument(
        "--rm",
        action=Flag,
        default=True,
        help="Remove intermediate containers after a successful build (default; --rm=false "
        "keeps them).",
    )
    @argument(
        "--force-rm",
        action=Flag,
        default=True,
        help="Also remove them when a step fails (default, unlike docker build; "
        "--force-rm=false keeps them).",
    )
    @quiet_and_progress("No progress; print the image ID.")
    @builder_option()
    @argument(
        "-f", "--file", metavar="PATH", help="Build this Dockerfile from disk instead of the cell."
    )
    @argument(
        "--context",
        metavar="DIR",
        help="Send this folder as the context (honouring its .dockerignore), with the cell as "
        "its Dockerfile.",
    )
    @add_option("Put a local file or folder into the context (repeatable).")
    def docker_build(self, args, cell=None):
        """Build an image. The cell is the Dockerfile, used literally; only the options line
        gets IPython's {var} and $var expansion (--build-arg BASE={base}).

        By default the context holds just the Dockerfile: bring files in with --add, or send
        a folder with --context. Returns a BuildResult (image id, tags, size, steps, log);
        after a failure, docker_magics.last_build() still has the log.
        """
        self.connection()
        progress = self.progress_mode(args)
        result = api.build(
            cell,
            tags=args.tag,
            file=args.file,
            context=args.context,
            add=args.add,
            build_args=args.build_arg,
            labels=args.label,
            target=args.target,
            platform=args.platform,
            network=args.network,
            cache_from=args.cache_from,
            no_cache=args.no_cache,
            pull=args.pull,
            rm=args.rm,
            force_rm=args.force_rm,
            progress=progress,
            builder=args.builder or self.settings.builder,
            secret_build_args=args.secret_build_arg,
            secrets=args.secret,
        )
        if args.quiet:  # the ID alone, as docker build -q; the result is the value still
            print(result.image_id)
            said(result)
        return result
