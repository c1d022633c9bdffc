"""Pictures of what the engine holds: ``%docker_history`` (an image's layers) and
``%docker_df`` (its disk usage), each a table and a bar chart."""

from __future__ import annotations

from IPython.core.magic import line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from docker_magics import api
from docker_magics.magics.arguments import magic
from docker_magics.magics.core import TopicMagics


@magics_class
class PictureMagics(TopicMagics):
    @line_magic
    @magic
    @magic_arguments()
    @argument("image", metavar="IMAGE", help="The image (name, name:tag or ID).")
    def docker_history(self, args):
        """An image's layers, oldest first: the instruction that made each, its size and
        age, and a bar chart of the sizes where the largest stand out. Returns an
        ImageHistory (.layers, .size, .raw: the engine's records)."""
        self.connection()
        return api.history(args.image)

    @line_magic
    @magic
    @magic_arguments()
    def docker_df(self, args):
        """The engine's disk usage, like docker system df: images, containers, local
        volumes and build cache, how many are in use, their size and what removing the
        unused ones would free, with a bar chart. Returns a DiskUsage (["Images"], .raw)."""
        self.connection()
        return api.df()
