"""Registries: ``%docker_push``, ``%docker_pull``, ``%docker_tag``, ``%docker_login`` and
``%docker_logout``."""

from __future__ import annotations

from IPython.core.magic import line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from docker_magics import api
from docker_magics.display.once import said
from docker_magics.magics.arguments import magic, platform_option, quiet_and_progress
from docker_magics.magics.core import TopicMagics


@magics_class
class RegistryMagics(TopicMagics):
    @line_magic
    @magic
    @magic_arguments()
    @argument("reference", metavar="NAME[:TAG]", help="The image to push (default tag: latest).")
    @argument("-a", "--all-tags", action="store_true", help="Push every tag of NAME.")
    @quiet_and_progress("No progress; print the digest.")
    def docker_push(self, args):
        """Push an image to its registry, with per-layer progress. A registry without
        authentication needs no login; for others, %docker_login first (or a login saved by
        docker login). Returns a PushResult (digest, size, what happened to each layer)."""
        self.connection()
        progress = self.progress_mode(args)
        result = api.push(args.reference, all_tags=args.all_tags, progress=progress)
        if args.quiet:  # the digest alone; the result is the value still
            print(result.digest)
            said(result)
        return result

    @line_magic
    @magic
    @magic_arguments()
    @argument("reference", metavar="NAME[:TAG|@DIGEST]", help="The image to pull.")
    @argument("-a", "--all-tags", action="store_true", help="Pull every tag of NAME.")
    @platform_option("Pull for this platform.")
    @quiet_and_progress("No progress; print the image ID.")
    def docker_pull(self, args):
        """Pull an image from its registry, with per-layer progress. Returns a PullResult."""
        self.connection()
        progress = self.progress_mode(args)
        result = api.pull(
            args.reference, all_tags=args.all_tags, platform=args.platform, progress=progress
        )
        if args.quiet:  # the image ID alone; the result is the value still
            print(result.image_id)
            said(result)
        return result

    @line_magic
    @magic
    @magic_arguments()
    @argument("source", metavar="SOURCE", help="An image on the engine (name, name:tag or ID).")
    @argument("target", metavar="TARGET[:TAG]", help="The new name.")
    def docker_tag(self, args):
        """Give an image another name (e.g. REGISTRY/NAME:TAG before %docker_push)."""
        self.connection()
        print(f"Tagged {args.source} as {api.tag(args.source, args.target)}")

    @line_magic
    @magic(secret_arguments=True)
    @magic_arguments()
    @argument(
        "registry",
        nargs="?",
        metavar="REGISTRY",
        help="Registry host[:port] (default: Docker Hub).",
    )
    @argument("-u", "--username", metavar="USER", help="The user name.")
    @argument(
        "--password-env",
        metavar="VAR",
        help="Read the password from this environment variable (default: ask for it).",
    )
    @argument(
        "--save",
        action="store_true",
        help="Also store the login like docker login (credential helper, else "
        "~/.docker/config.json).",
    )
    def docker_login(self, args):
        """Log in to a registry for this session. The password is asked for (getpass) or read
        from an environment variable you name: it is never a magic argument, so it never
        reaches the notebook, the outputs or IPython's history. The engine checks it with
        the registry before it is kept."""
        from docker_magics.registry.transfers import login_registry

        login_registry(args.registry)  # before connecting: it may be a password typed there
        self.connection()
        print(
            api.login(
                args.registry,
                username=args.username,
                password_env=args.password_env,
                save=args.save,
            )
        )

    @line_magic
    @magic
    @magic_arguments()
    @argument("registry", nargs="?", metavar="REGISTRY", help="Default: Docker Hub.")
    @argument(
        "--saved",
        action="store_true",
        help="Also remove the login saved in the Docker config, like docker logout.",
    )
    def docker_logout(self, args):
        """Forget this session's login to a registry."""
        print(api.logout(args.registry, saved=args.saved))
