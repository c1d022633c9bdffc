"""Pure: the one plan of what a build sends (builds.plan), and both packers reading it: the
classic builder's tar (builds.context) and BuildKit's local sources (buildkit.localsource).
Which ignore file each builder honours was measured on Docker Engine 20.10.24 with the
docker CLI 20.10 (classic and BuildKit) and buildx 0.13.1 (docs/build-context.md)."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from docker_magics.builds import plan as planning
from docker_magics.builds.buildkit.localsource import from_plan
from docker_magics.builds.context import pack
from docker_magics.builds.plan import HIDDEN_DOCKERFILE, AddSpec
from docker_magics.builds.walk import DataRoot
from docker_magics.errors import BadArgument

# What these say is in a magic's words (--each, --add); tests/unit/test_wording.py has
# the Python API's.
pytestmark = pytest.mark.usefixtures("in_a_magic")


def tar_names(plan) -> dict[str, bytes | None]:
    data = b"".join(pack(plan).chunks())
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {
            m.name.rstrip("/"): tar.extractfile(m).read() if m.isfile() else None
            for m in tar.getmembers()
        }


def buildkit_names(plan) -> list[str]:
    return [e.path for e in from_plan(plan).context.items()]


def project(root: Path) -> Path:
    """The issue's example: a per-Dockerfile ignore file beside docker/app.Dockerfile."""
    for name in ("top.py", "other.txt", "subdir/sub.py", "subdir/t.txt"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)
    (root / ".dockerignore").write_text("other.txt\n")
    (root / "docker").mkdir()
    (root / "docker" / "app.Dockerfile").write_text("FROM scratch\nCOPY . /ctx\n")
    (root / "docker" / "app.Dockerfile.dockerignore").write_text("*\n!**/*.py\n")
    return root / "docker" / "app.Dockerfile"


def test_a_cell(tmp_path):
    (tmp_path / "req.txt").write_text("numpy\n")
    plan = planning.make(b"FROM scratch\n", adds=[AddSpec.parse(str(tmp_path / "req.txt"))])
    assert (plan.root, plan.classic_name, plan.buildkit_name) == (None, "Dockerfile", "Dockerfile")
    assert plan.classic_ahead() == [
        ("Dockerfile", b"FROM scratch\n", 0o644),
        (".dockerignore", b".dockerignore\nDockerfile\n", 0o644),
    ]
    assert tar_names(plan) == {
        "Dockerfile": b"FROM scratch\n",
        ".dockerignore": b".dockerignore\nDockerfile\n",
        "req.txt": b"numpy\n",
    }
    assert buildkit_names(plan) == ["req.txt"]  # the Dockerfile has a source of its own
    assert plan.buildkit_dockerfile_files() == [("Dockerfile", b"FROM scratch\n")]
    assert plan.description == "the Dockerfile and req.txt"


def test_a_cell_beside_a_folder(tmp_path):
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / ".dockerignore").write_text("*.log\n")
    plan = planning.make(b"FROM scratch\n", folder=tmp_path)
    assert plan.classic_name == HIDDEN_DOCKERFILE and plan.buildkit_name == "Dockerfile"
    assert plan.patterns == plan.buildkit_patterns == ["*.log"]
    assert plan.classic_ahead() == [
        (HIDDEN_DOCKERFILE, b"FROM scratch\n", 0o600),
        (".dockerignore", f"*.log\n\n{HIDDEN_DOCKERFILE}\n".encode(), 0o644),
    ]
    assert plan.description == f"the folder {tmp_path}"


def test_a_file_in_the_folder_and_its_own_ignore_file(tmp_path):
    """The classic builder (the CLI's tar) reads .dockerignore only; BuildKit reads
    NAME.dockerignore beside the --file first, and serves it in the dockerfile source,
    where its frontend asks for it."""
    file = project(tmp_path)
    plan = planning.make(file=file, folder=tmp_path)
    assert plan.inside == "docker/app.Dockerfile" and plan.classic_name == plan.inside
    assert plan.buildkit_name == "app.Dockerfile"
    assert plan.patterns == ["other.txt"] and plan.buildkit_patterns == ["*", "!**/*.py"]
    assert plan.classic_ahead() == []  # both in the folder, sent like the rest
    assert sorted(tar_names(plan)) == [
        ".dockerignore", "docker", "docker/app.Dockerfile", "docker/app.Dockerfile.dockerignore",
        "subdir", "subdir/sub.py", "subdir/t.txt", "top.py",
    ]  # fmt: skip
    assert buildkit_names(plan) == ["subdir", "subdir/sub.py", "top.py"]
    assert [n for n, _ in plan.buildkit_dockerfile_files()] == [
        "app.Dockerfile",
        "app.Dockerfile.dockerignore",
    ]
    dockerfile = from_plan(plan).dockerfile
    asked = dockerfile.items(followpaths=["app.Dockerfile", "app.Dockerfile.dockerignore"])
    assert [(e.path, e.data) for e in asked] == plan.buildkit_dockerfile_files()


def test_an_empty_own_ignore_file_still_wins(tmp_path):
    """Measured (buildx 0.13.1, the CLI 20.10 with BuildKit): an empty NAME.dockerignore
    replaces .dockerignore, so other.txt goes too."""
    file = project(tmp_path)
    (tmp_path / "docker" / "app.Dockerfile.dockerignore").write_text("")
    plan = planning.make(file=file, folder=tmp_path)
    assert plan.buildkit_patterns == []
    assert "other.txt" in buildkit_names(plan) and "other.txt" not in tar_names(plan)


def test_a_file_outside_the_folder(tmp_path):
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "a.txt").write_text("a")
    (tmp_path / "Dockerfile").write_bytes(b"FROM scratch\r\n")  # sent as it is
    (tmp_path / "Dockerfile.dockerignore").write_text("a.txt\n")
    plan = planning.make(file=tmp_path / "Dockerfile", folder=tmp_path / "ctx")
    assert plan.inside is None and plan.classic_name == HIDDEN_DOCKERFILE
    assert tar_names(plan)[HIDDEN_DOCKERFILE] == b"FROM scratch\r\n"
    assert "a.txt" in tar_names(plan) and buildkit_names(plan) == []


def test_adds_may_not_land_where_either_builder_sends_the_folder(tmp_path):
    """The plan is made before the builder is known: an --add may not replace a file that
    either builder's patterns send."""
    file = project(tmp_path / "p")
    (tmp_path / "p" / ".dockerignore").write_text("top.py\n")  # classic: other.txt is sent
    (tmp_path / "p" / "docker" / "app.Dockerfile.dockerignore").write_text("other.txt\n")
    (tmp_path / "extra.txt").write_text("extra")

    def plan(dest: str):
        add = AddSpec.parse(f"{tmp_path}/extra.txt:{dest}")
        return planning.make(file=file, folder=tmp_path / "p", adds=[add])

    for dest in ("top.py", "other.txt"):
        with pytest.raises(BadArgument, match=f"{dest} is already in the --context folder"):
            plan(dest)
    ok = plan("new.txt")
    assert "new.txt" in buildkit_names(ok) and tar_names(ok)["new.txt"] == b"extra"


def test_the_dockerfile_text_as_read_text_reads_it():
    raw = b"FROM scratch\r\nRUN echo \xff\rCOPY a b\n"
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"dm-plan-{os.getpid()}"
    path.write_bytes(raw)
    try:
        assert planning.as_text(raw) == path.read_text(encoding="utf-8", errors="replace")
    finally:
        path.unlink()


def test_what_holds_the_engines_data_root_is_refused(tmp_path):
    (tmp_path / "home" / ".local" / "share" / "docker").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "home")
    guard = DataRoot.of(str(tmp_path / "home" / ".local" / "share" / "docker"))
    end = (
        ": the build would send the engine what it writes as it receives it, without end. "
        f"Give a folder that does not contain {guard.path}."
    )
    with pytest.raises(BadArgument) as caught:
        planning.make(b"FROM scratch\n", folder=tmp_path / "home").check_data_root(guard)
    assert (
        str(caught.value)
        == f"--context {tmp_path}/home holds the engine's own data ({guard.path})" + end
    )
    with pytest.raises(BadArgument) as caught:
        plan = planning.make(b"FROM scratch\n", adds=[AddSpec.parse(f"{tmp_path}/home:h")])
        plan.check_data_root(guard)
    assert (
        str(caught.value)
        == f"--add {tmp_path}/home:h holds the engine's own data ({guard.path})" + end
    )
    with pytest.raises(BadArgument, match="--context .*/link holds"):  # a link is followed
        planning.make(b"FROM scratch\n", folder=tmp_path / "link").check_data_root(guard)
    # An --add of a link goes as the link; a folder beside it is fine.
    planning.make(b"x", adds=[AddSpec.parse(f"{tmp_path}/link:l")]).check_data_root(guard)
    planning.make(b"x", folder=tmp_path / "elsewhere").check_data_root(guard)
