"""Pure: build contexts as tar streams, read back with tarfile."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from docker_magics.context import CHUNK, AddSpec, ContextChanged, from_cell, from_directory
from docker_magics.errors import BadArgument


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


def test_directory_context_with_cell_dockerfile(tmp_path):
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


def test_directory_dockerfile_is_always_sent(tmp_path):
    make_tree(tmp_path)
    ctx = from_directory(tmp_path, dockerfile_path=str(tmp_path / "Dockerfile"))
    members, contents = unpack(ctx)
    assert ctx.dockerfile == "Dockerfile"
    assert contents["Dockerfile"] == b"FROM scratch\n"  # despite "/Dockerfile" in .dockerignore


def test_large_file_is_streamed_in_chunks(tmp_path):
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.truncate(5 * CHUNK + 123)
    sizes = [len(c) for c in from_directory(tmp_path, dockerfile_text="FROM scratch").chunks()]
    assert max(sizes) <= CHUNK + 2 * 512 + 1024
    assert sum(sizes) > 5 * CHUNK


def test_file_shrinking_while_sent(tmp_path):
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
    with pytest.raises(ContextChanged, match=f"Cannot read {data}/sub"):
        list(stream)


def test_missing_directory():
    with pytest.raises(BadArgument, match="does not exist"):
        from_directory("/nonexistent/dir", dockerfile_text="FROM scratch")
