"""Pure: build contexts as tar streams, read back with tarfile."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from docker_magics.builds.context import HIDDEN_DOCKERFILE, AddSpec, from_cell, from_directory
from docker_magics.builds.tar import CHUNK, TarWriter
from docker_magics.builds.walk import ContextChanged
from docker_magics.errors import BadArgument


@pytest.fixture(params=["python", "tar"])
def packer(request, monkeypatch):
    """Each folder test twice: packed by Python, then with GNU tar copying the members."""
    from docker_magics.builds import gnutar

    monkeypatch.setenv("DOCKER_MAGICS_PACKER", "python" if request.param == "python" else "")
    assert request.param == "python" or gnutar.available(), "GNU tar >= 1.29 is needed"
    return request.param


@pytest.fixture
def python_packer(monkeypatch):
    """For what only Python's packer does as it goes (tar reads ahead, on its own time)."""
    monkeypatch.setenv("DOCKER_MAGICS_PACKER", "python")


def unpack(ctx) -> dict[str, tarfile.TarInfo]:
    data = b"".join(ctx.chunks())
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name.rstrip("/"): m for m in tar.getmembers()}
        contents = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    return members, contents


def test_cell_context(tmp_path):
    (tmp_path / "req.txt").write_text("numpy\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("print(1)\n")
    ctx = from_cell(
        "FROM scratch\n",
        [AddSpec.parse(str(tmp_path / "req.txt")), AddSpec.parse(f"{tmp_path}/src:code/src")],
    )
    members, contents = unpack(ctx)
    assert contents["Dockerfile"] == b"FROM scratch\n"
    assert contents[".dockerignore"] == b".dockerignore\nDockerfile\n"
    assert contents["req.txt"] == b"numpy\n"
    assert contents["code/src/app.py"] == b"print(1)\n"
    assert members["code/src"].isdir()
    assert all(m.uid == 0 and m.gid == 0 and m.uname == "" for m in members.values())
    assert ctx.dockerfile == "Dockerfile" and ctx.files == 5


def test_add_spec_errors(tmp_path):
    with pytest.raises(BadArgument, match="does not exist"):
        AddSpec.parse(str(tmp_path / "nope"))
    (tmp_path / "f").write_text("x")
    with pytest.raises(BadArgument, match="is not a place inside the context"):
        AddSpec.parse(f"{tmp_path}/f:../outside")
    assert AddSpec.parse(f"{tmp_path}/f:/abs/dest").dest == "abs/dest"


def make_tree(root):
    files = {
        "Dockerfile": "FROM scratch\n",
        "app/main.py": "main\n",
        "app/test_main.py": "test\n",
        "build/out.bin": "bin\n",
        "build/keep.txt": "keep\n",
        "docs/a.md": "a\n",
        "node_modules/x/index.js": "x\n",
        "deep/er/node_modules/y.js": "y\n",
        "secret.env": "TOKEN=1\n",
    }
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    (root / ".dockerignore").write_text(
        "# comment\n/build\n!build/keep.txt\n**/node_modules\n*.env\napp/test_*\n/Dockerfile\n"
    )
    os.symlink("app/main.py", root / "link")
    os.link(root / "docs/a.md", root / "docs/hard.md")
    return files


def test_directory_context_with_cell_dockerfile(tmp_path, packer):
    make_tree(tmp_path)
    ctx = from_directory(tmp_path, dockerfile_text="FROM scratch\nCOPY . /\n")
    members, contents = unpack(ctx)
    assert ctx.dockerfile.startswith(".dockerfile.")
    assert contents[ctx.dockerfile] == b"FROM scratch\nCOPY . /\n"
    # The sent .dockerignore lists the hidden Dockerfile, so the engine drops it.
    assert contents[".dockerignore"].decode().endswith(f"\n{ctx.dockerfile}\n")
    names = set(members)
    assert {"app/main.py", "build/keep.txt", "docs/a.md", "docs/hard.md", "link"} <= names
    for gone in (
        "build/out.bin",
        "node_modules",
        "deep/er/node_modules",
        "secret.env",
        "app/test_main.py",
        "Dockerfile",
    ):
        assert gone not in names, gone
    assert "build" not in names  # excluded dir: not an entry, yet keep.txt is re-included
    assert members["link"].issym() and members["link"].linkname == "app/main.py"
    assert members["docs/hard.md"].islnk() and members["docs/hard.md"].linkname == "docs/a.md"


def test_directory_dockerfile_is_always_sent(tmp_path, packer):
    make_tree(tmp_path)
    ctx = from_directory(tmp_path, dockerfile_path=str(tmp_path / "Dockerfile"))
    members, contents = unpack(ctx)
    assert ctx.dockerfile == "Dockerfile"
    assert contents["Dockerfile"] == b"FROM scratch\n"  # despite "/Dockerfile" in .dockerignore


def test_large_file_is_streamed_in_chunks(tmp_path, packer):
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.truncate(5 * CHUNK + 123)
    sizes = [len(c) for c in from_directory(tmp_path, dockerfile_text="FROM scratch").chunks()]
    assert max(sizes) <= CHUNK + 2 * 512 + 1024
    assert sum(sizes) > 5 * CHUNK


def test_file_shrinking_while_sent(tmp_path, python_packer):
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * (3 * CHUNK))
    stream = from_directory(tmp_path, dockerfile_text="FROM scratch").chunks()
    next(stream)
    with open(big, "r+b") as f:
        f.truncate(10)
    with pytest.raises(
        ContextChanged, match="big.bin changed while the build context was being sent"
    ):
        list(stream)


def test_added_folder_changing_while_sent(tmp_path):
    """An --add folder whose entries vanish between listing and packing: one line, not an
    OSError that the upload would blame on the engine."""
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.bin").write_bytes(b"x" * (2 * CHUNK))
    (data / "sub" / "b.txt").write_text("b")
    stream = from_cell("FROM scratch\n", [AddSpec.parse(str(data))]).chunks()
    next(stream)  # the Dockerfile, then data/ is listed and a.bin starts going out
    next(stream)
    (data / "sub" / "b.txt").unlink()
    (data / "sub").rmdir()
    with pytest.raises(ContextChanged) as changed:
        list(stream)
    assert str(changed.value) == (
        "data/sub changed while the build context was being sent (it was deleted). Run the "
        "cell again once nothing is writing to the context."
    )


def test_file_deleted_while_sent(tmp_path, python_packer):
    """A file the walk has not reached yet is deleted: the build must not go on without it."""
    (tmp_path / "a.bin").write_bytes(b"x" * (3 * CHUNK))
    (tmp_path / "z.txt").write_text("needed\n")
    (tmp_path / "skipped.pyc").write_text("left out anyway\n")
    (tmp_path / ".dockerignore").write_text("*.pyc\n")
    stream = from_directory(tmp_path, dockerfile_text="FROM scratch").chunks()
    next(stream)  # a.bin is going out
    (tmp_path / "skipped.pyc").unlink()  # excluded: its loss changes nothing
    (tmp_path / "z.txt").unlink()
    with pytest.raises(ContextChanged) as changed:
        list(stream)
    assert str(changed.value).startswith(
        "z.txt changed while the build context was being sent (it was deleted)."
    )


def test_file_deleted_between_listing_and_reading(tmp_path):
    """Seen by the walk, gone when opened: it changed, not a permissions problem."""
    path = tmp_path / "gone.txt"
    path.write_text("x")
    st = os.lstat(path)
    path.unlink()
    with pytest.raises(ContextChanged) as changed:
        list(TarWriter().add_path("sub/gone.txt", str(path), st))
    assert str(changed.value) == (
        "sub/gone.txt changed while the build context was being sent (it was deleted). Run "
        "the cell again once nothing is writing to the context."
    )


def test_missing_directory():
    with pytest.raises(BadArgument, match="does not exist"):
        from_directory("/nonexistent/dir", dockerfile_text="FROM scratch")


def test_hidden_dockerfile_name_is_stable(tmp_path, packer):
    """The same inputs give the same bytes, so the engine's cache sees the same context (a
    random name in the sent .dockerignore made every `COPY .` a cache miss)."""
    make_tree(tmp_path)
    first = b"".join(from_directory(tmp_path, dockerfile_text="FROM scratch\n").chunks())
    again = from_directory(tmp_path, dockerfile_text="FROM scratch\n")
    assert b"".join(again.chunks()) == first
    assert again.dockerfile == HIDDEN_DOCKERFILE
    # Another Dockerfile: the same .dockerignore (what `COPY .` sees does not change).
    _, one = unpack(from_directory(tmp_path, dockerfile_text="FROM scratch\n"))
    _, other = unpack(from_directory(tmp_path, dockerfile_text="FROM scratch\nRUN x\n"))
    assert one[".dockerignore"] == other[".dockerignore"]
    # A file of that name in the folder is not sent twice.
    (tmp_path / HIDDEN_DOCKERFILE).write_text("stale")
    members, contents = unpack(from_directory(tmp_path, dockerfile_text="FROM scratch\n"))
    assert contents[HIDDEN_DOCKERFILE] == b"FROM scratch\n"
    data = b"".join(from_directory(tmp_path, dockerfile_text="FROM scratch\n").chunks())
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = tar.getnames()
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    "adds, message",
    [
        (
            ["a.txt", "b.txt:a.txt"],
            "--add b.txt:a.txt: a.txt is already in the context (from --add a.txt). Give each "
            "--add a DEST of its own.",
        ),
        (
            ["a.txt:x/y", "b.txt:x/./y"],
            "--add b.txt:x/./y: x/y is already in the context (from --add a.txt:x/y).",
        ),
        (
            ["a.txt:Dockerfile"],
            "--add a.txt:Dockerfile: Dockerfile is where the Dockerfile being built goes. Give "
            "another DEST.",
        ),
        (["a.txt:Dockerfile/x"], "--add a.txt:Dockerfile/x: Dockerfile/x is where the Dockerfile"),
        (
            ["a.txt:.dockerignore"],
            "--add a.txt:.dockerignore: .dockerignore cannot come from --add: the build makes "
            "its own .dockerignore. To leave files out, send a folder with --context DIR and "
            "write DIR/.dockerignore.",
        ),
        (["a.txt:data", "b.txt:data/b.txt"], "data/b.txt overlaps data (from --add a.txt:data)"),
        (
            ["dir:data", "a.txt:data/inner.txt"],
            "data/inner.txt overlaps data (from --add dir:data)",
        ),
        (["a.txt:data/inner.txt", "dir:data"], "data overlaps data/inner.txt"),
    ],
)
@pytest.mark.usefixtures("in_a_magic")
def test_add_destinations_cannot_collide(tmp_path, monkeypatch, adds, message):
    """Two tar entries at one path: the engine would silently keep the last one (and an
    --add named Dockerfile would replace the cell's)."""
    monkeypatch.chdir(tmp_path)
    for name in ("a.txt", "b.txt", "dir/inner.txt"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(name)
    with pytest.raises(BadArgument) as err:
        from_cell("FROM scratch\n", [AddSpec.parse(a) for a in adds])
    assert message in str(err.value)


@pytest.mark.usefixtures("in_a_magic")
def test_add_next_to_a_folder_that_has_it(tmp_path, monkeypatch, packer):
    make_tree(tmp_path / "ctx")
    (tmp_path / "extra.txt").write_text("extra")
    monkeypatch.chdir(tmp_path)

    def context(*adds, **kwargs):
        return from_directory(tmp_path / "ctx", adds=[AddSpec.parse(a) for a in adds], **kwargs)

    with pytest.raises(BadArgument) as err:
        context("extra.txt:app/main.py", dockerfile_text="FROM scratch")
    assert str(err.value) == (
        f"--add extra.txt:app/main.py: app/main.py is already in the --context folder "
        f"({tmp_path}/ctx/app/main.py). Give the --add another DEST, or leave that path out "
        "with the folder's .dockerignore."
    )
    with pytest.raises(BadArgument, match="app/main.py/x is already in the --context folder"):
        context("extra.txt:app/main.py/x", dockerfile_text="FROM scratch")  # under a file
    with pytest.raises(BadArgument, match="Dockerfile is where the Dockerfile being built goes"):
        context("extra.txt:Dockerfile", dockerfile_path=str(tmp_path / "ctx" / "Dockerfile"))
    with pytest.raises(BadArgument, match=f"{HIDDEN_DOCKERFILE} is where the Dockerfile"):
        context(f"extra.txt:{HIDDEN_DOCKERFILE}", dockerfile_text="FROM scratch")
    # A new path in an existing folder, or a path the .dockerignore leaves out, is free.
    _, contents = unpack(
        context("extra.txt:app/extra.txt", "extra.txt:secret.env", dockerfile_text="FROM x")
    )
    assert contents["app/extra.txt"] == contents["secret.env"] == b"extra"


def test_watch_sees_every_chunk_then_the_end(tmp_path, packer):
    (tmp_path / "big.bin").write_bytes(b"x" * (3 * CHUNK))
    ctx = from_directory(tmp_path, dockerfile_text="FROM scratch")
    seen = []
    ctx.watch = lambda c, done: seen.append((c.size, c.regular_files, done))
    sizes = [len(chunk) for chunk in ctx.chunks()]
    assert [done for *_, done in seen] == [False] * len(sizes) + [True]
    assert seen[-1][:2] == (sum(sizes), 3)  # the Dockerfile, .dockerignore and big.bin


def test_times_ustar_cannot_hold_go_through_pax(tmp_path, packer):
    """A file dated 1960 or 2300 does not fit a ustar header's time field: the entry is
    written by tarfile (PAX), and every entry still reads back with its time."""
    for name, when in (("old", -315_619_200), ("future", 10_413_792_000), ("now", 1_700_000_000)):
        (tmp_path / name).write_text(name)
        os.utime(tmp_path / name, (when, when))
    ctx = from_directory(tmp_path, dockerfile_text="FROM scratch\n")
    with tarfile.open(fileobj=io.BytesIO(b"".join(ctx.chunks()))) as tar:
        times = {m.name: int(m.mtime) for m in tar.getmembers() if m.isfile()}
    assert times["old"] == -315_619_200
    assert times["future"] == 10_413_792_000
    assert times["now"] == 1_700_000_000


def test_the_packers_fast_path_writes_the_same_bytes_as_the_general_one(tmp_path):
    """add_walk (files read lazily, headers from a template) against add_path per entry:
    modes, times, sizes around the chunk size, long and non-ASCII names, links, folders."""
    from docker_magics.builds.dockerignore import IgnoreMatcher
    from docker_magics.builds.walk import walk

    (tmp_path / "sub" / ("d" * 90)).mkdir(parents=True)
    files = {
        "a.txt": b"a\n", "empty": b"", "exec.sh": b"#!/bin/sh\n", "block": b"x" * 512,
        "near": b"y" * (CHUNK - 1), "chunk": b"z" * CHUNK, "big": b"w" * (2 * CHUNK + 7),
        "sub/" + "d" * 90 + "/" + "n" * 60: b"long name", "sub/caf\u00e9.txt": b"utf-8",
        "sub/" + "e" * 101: b"needs pax",
    }  # fmt: skip
    for i, (name, data) in enumerate(files.items()):
        (tmp_path / name).write_bytes(data)
        os.chmod(tmp_path / name, (0o600, 0o644, 0o755, 0o4755)[i % 4])
        os.utime(tmp_path / name, (1_600_000_000 + i, 1_600_000_000 + i))
    os.link(tmp_path / "a.txt", tmp_path / "sub" / "hard")
    os.symlink("a.txt", tmp_path / "link")
    matcher = IgnoreMatcher(["**/*.sh", "!exec.sh"])

    general = TarWriter()
    expected = b"".join(
        chunk
        for rel, full, st in walk(tmp_path, matcher)
        for chunk in general.add_path(rel, full, st)
    ) + b"".join(general.close())
    fast = TarWriter()
    got = b"".join(fast.add_walk(walk(tmp_path, matcher, lazy_files=True)))
    got += b"".join(fast.close())
    assert got == expected
    assert (fast.count, fast.regular) == (general.count, general.regular) == (14, 11)


def test_a_file_that_became_a_link_or_a_fifo_after_the_listing(tmp_path):
    """Listed as a regular file, something else when opened: packed as what it is now, and a
    FIFO does not hang the build (it is opened without blocking)."""
    os.symlink("target", tmp_path / "link")
    os.mkfifo(tmp_path / "fifo")
    tar = TarWriter()
    entries = [("link", str(tmp_path / "link"), None), ("fifo", str(tmp_path / "fifo"), None)]
    data = b"".join(tar.add_walk(iter(entries))) + b"".join(tar.close())
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        kinds = {m.name: (m.type, m.linkname) for m in archive.getmembers()}
    assert kinds == {"link": (tarfile.SYMTYPE, "target"), "fifo": (tarfile.FIFOTYPE, "")}


def test_a_file_replaced_by_a_folder_after_the_listing(tmp_path):
    """What the walk saw as a file and is now a folder: its contents would go missing, so
    it is said to have changed."""
    (tmp_path / "was_a_file").mkdir()
    entries = iter([("was_a_file", str(tmp_path / "was_a_file"), None)])
    with pytest.raises(ContextChanged, match="was_a_file changed while the build context"):
        list(TarWriter().add_walk(entries))
