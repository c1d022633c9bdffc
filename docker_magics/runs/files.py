"""Files in and out of a run's container: the cell's script and ``--add`` files copied in
before it starts (owned by the user it runs as), ``--get`` results copied out after it ends,
as ``docker cp`` does."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import posixpath
import shutil
import tarfile
import tempfile
from pathlib import Path

from docker_magics.builds.plan import AddSpec
from docker_magics.builds.tar import TarWriter
from docker_magics.engine import streams
from docker_magics.errors import BadArgument, EngineError, option, usage

SCRIPT_PATH = "/.docker-magics/cell"


def put_files(
    api,
    container_id: str,
    script: str | None,
    adds: list[AddSpec],
    workdir: str,
    user: str,
) -> None:
    """Copy the cell's script and ``--add`` files in (parent folders are created), owned by
    the user the container runs as, so the script can change them."""
    tar = TarWriter(owner=_ids_of(api, container_id, user))

    def chunks():
        if script is not None:
            yield from tar.add_bytes(SCRIPT_PATH.lstrip("/"), script.encode(), 0o755)
        for add in adds:
            dest = posixpath.normpath(posixpath.join(workdir, add.dest)).lstrip("/")
            yield from tar.add_tree(dest, str(add.src))
        yield from tar.close()

    api.put_archive(container_id, "/", chunks())  # streamed: a big --add costs no memory


def _ids_of(api, container_id: str, user: str) -> tuple[int, int]:
    """``USER[:GROUP]`` (names or numbers) as ids, read from the container's own
    /etc/passwd and /etc/group as the engine does at start (its archive endpoint would look
    them up on the engine's host instead). Unknown names: root, the start will say why."""
    name, _, group = user.partition(":")
    if not name or name == "root" and not group:
        return 0, 0

    def table(path: str) -> dict[str, list[str]]:
        try:
            stream, _ = api.get_archive(container_id, path)
            with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
                member = tar.next()
                found = tar.extractfile(member) if member is not None else None
                if found is None:  # not a file
                    return {}
                text = found.read().decode("utf-8", "replace")
        except Exception:  # noqa: BLE001 - no such file in the image: numeric ids only
            return {}
        entries = [line.split(":") for line in text.splitlines() if line.count(":") >= 3]
        return {e[0]: e for e in entries} | {e[2]: e for e in entries}

    passwd = table("/etc/passwd")
    entry = passwd.get(name)
    uid = int(name) if name.isdigit() else int(entry[2]) if entry else 0
    if group:
        found = table("/etc/group").get(group)
        gid = int(group) if group.isdigit() else int(found[2]) if found else 0
    else:
        gid = int(entry[3]) if entry and entry[3].isdigit() else 0
    return uid, gid


def copy_out(api, container_id: str, gets: list[str], workdir: str) -> list[str]:
    """``--get PATH[:DEST]``: copy files or folders out of the stopped container, as
    ``docker cp`` does: into DEST when it is an existing folder (or ends with ``/``), merging
    (files of the same name replaced, nothing deleted); else as DEST. Without DEST, into the
    current folder. ``PATH/.`` copies a folder's contents. Engine failures propagate (the
    caller explains them); local ones become one line here."""
    from docker.errors import APIError, NotFound

    copied = []
    for item in gets:
        path, _, dest = item.partition(":")
        source = posixpath.normpath(posixpath.join(workdir, path))
        target = Path(os.path.expanduser(dest or ".")).absolute()
        try:
            response, stream = streams.archive(api, container_id, source)
        except NotFound:
            raise BadArgument(
                f"{usage('--get', path)}: the container has no {source}",
                "Check the path the script writes to",
            ) from None
        except APIError as exc:
            raise EngineError(
                f"{usage('--get', path)}: the engine refused ({_explanation(exc)})"
            ) from None
        try:
            copied.append(_receive(stream, target, path, dest))
        finally:
            # On every path: while the archive's response is open the engine holds the
            # container (its removal, `docker inspect`, `docker ps -a` would wait on it).
            response.close()
    return copied


def _receive(stream, target: Path, path: str, dest: str) -> str:
    """Write the archive the engine sends next to ``target``, then unpack it there; the
    path it went to."""
    workspace = None
    try:
        if dest.endswith(("/", os.sep)):
            target.mkdir(parents=True, exist_ok=True)
        parent = target if target.is_dir() else target.parent
        parent.mkdir(parents=True, exist_ok=True)
        # Unpacked next to the destination, so that the moves below are renames.
        workspace = Path(tempfile.mkdtemp(prefix=".docker-magics-get-", dir=parent))
        archive = workspace / "out.tar"
        f = open(archive, "wb")
    except OSError as exc:
        if workspace is not None:
            shutil.rmtree(workspace, ignore_errors=True)
        raise _cannot_write(path, target, exc) from None
    try:
        # A lost engine raises while the chunks are read (requests' errors, OSErrors too), for
        # the caller; a full disk, a quota or EIO while they are written, or flushed.
        for chunk in stream:
            try:
                f.write(chunk)
            except OSError as exc:
                raise _cannot_write(path, target, exc) from None
        try:
            f.close()
        except OSError as exc:
            raise _cannot_write(path, target, exc) from None
        try:
            return str(_unpack_into(archive, workspace / "x", target, path))
        except OSError as exc:
            raise _cannot_write(path, target, exc) from None
        except tarfile.TarError as exc:
            raise BadArgument(
                f"{usage('--get', path)}: cannot unpack what the engine sent ({exc})"
            ) from None
    finally:
        with contextlib.suppress(OSError):
            f.close()  # (after a failed write, closing tries to flush again)
        shutil.rmtree(workspace, ignore_errors=True)


def _cannot_write(path: str, target: Path, exc: OSError) -> BadArgument:
    full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
    return BadArgument(
        f"{usage('--get', path)}: cannot write {target} ({exc.strerror or exc})",
        "Free space there, or choose another destination"
        if full
        else "Choose a destination you can write to",
    )


def _explanation(exc) -> str:
    return " ".join(str(getattr(exc, "explanation", None) or exc).split())


def _extraction_filter(member, dest):
    """Python's ``data`` filter, except that symlinks pointing elsewhere are kept as they are
    (``docker cp`` keeps them: e.g. a venv's ``bin/python -> /usr/bin/python3``) and device
    files are skipped. Nothing is ever written through a link: both filters check that."""
    try:
        return tarfile.data_filter(member, dest)
    except (tarfile.AbsoluteLinkError, tarfile.LinkOutsideDestinationError):
        if member.issym():
            return tarfile.tar_filter(member, dest)
        raise
    except tarfile.SpecialFileError:
        return None


def _unpack_into(archive: Path, unpacked: Path, target: Path, path: str) -> Path:
    """Unpack ``GET /archive`` (one top entry, a file or a folder) at ``target``."""
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        if not members:
            raise BadArgument(f"{usage('--get', path)}: the engine sent an empty archive")
        top = members[0].name.split("/")[0]
        if hasattr(tarfile, "data_filter"):
            tar.extractall(unpacked, filter=_extraction_filter)
        else:  # pragma: no cover - Pythons without extraction filters
            tar.extractall(unpacked)
    got = unpacked / top
    if not got.is_symlink() and not got.exists():  # skipped by the filter
        raise BadArgument(
            f"{usage('--get', path)}: it is a device or a pipe, not a file, folder or link",
            "Copy out files and folders",
        )
    contents = path.endswith("/.")
    if target.is_dir() and not (got.is_dir() and contents):
        target = target / top  # an existing folder receives the entry by its name
    if got.is_dir() and not got.is_symlink():
        if target.exists() and not target.is_dir():
            raise BadArgument(
                f"{option('--get')}: {target} is a file and the container's path is a folder",
                "Give a folder (or a new name) as the destination",
            )
        _merge_tree(got, target)
    else:
        if target.is_dir() and not target.is_symlink():
            raise BadArgument(
                f"{option('--get')}: {target} is a folder and the container's path is a file",
                "Give a file name (or another folder) as the destination",
            )
        _put(got, target)
    return target


def _merge_tree(source: Path, target: Path) -> None:
    """Move ``source``'s entries into ``target``; files (and links) replace files (and
    links), folders merge."""
    target.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        there = target / entry.name
        if entry.is_dir() and not entry.is_symlink():
            if there.is_symlink() or (there.exists() and not there.is_dir()):
                raise BadArgument(
                    f"{option('--get')}: {there} is a file where the container has a folder",
                    "Move it away or choose another destination",
                )
            _merge_tree(entry, there)
        elif there.is_dir() and not there.is_symlink():
            raise BadArgument(
                f"{option('--get')}: {there} is a folder where the container has a file",
                "Move it away or choose another destination",
            )
        else:
            _put(entry, there)


def _put(source: Path, target: Path) -> None:
    """Move a file or link to ``target``, replacing a file or link there (never writing
    through it). ``target``'s folder may be another mount: then copy (links as links)."""
    try:
        os.replace(source, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        if target.is_symlink() or target.exists():
            target.unlink()
        shutil.move(str(source), target)
