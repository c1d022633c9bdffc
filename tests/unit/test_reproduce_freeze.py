"""%docker_freeze's pure parts: the inventory (dist-info folders as pip writes them, with
PEP 610's direct_url.json), the wheel tags of the base (against packaging's and pip's own
tag rules, on this machine), the choice of cached wheels, the Dockerfile and --include."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import pytest

from docker_magics.errors import BadArgument
from docker_magics.reproduce import dockerfile, inventory, wheels
from docker_magics.reproduce.freeze import Include, plan
from docker_magics.reproduce.target import Target, check

# What these say is in a magic's words (--each, --add); tests/unit/test_wording.py has
# the Python API's.
pytestmark = pytest.mark.usefixtures("in_a_magic")


def dist_info(site: Path, name: str, version: str, requires=(), direct=None, modules=()) -> None:
    folder = site / f"{name.replace('-', '_')}-{version}.dist-info"
    folder.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (folder / "METADATA").write_text("\n".join(lines) + "\n")
    files = [f"{m}/__init__.py" for m in modules] + [f"{folder.name}/METADATA"]
    (folder / "RECORD").write_text("".join(f"{f},,\n" for f in files))
    if direct is not None:
        (folder / "direct_url.json").write_text(json.dumps(direct))


@pytest.fixture
def site(tmp_path) -> Path:
    site = tmp_path / "site-packages"
    dist_info(
        site, "pandas", "2.1.0", ["numpy>=1.22", "tzdata; python_version >= '3'"], None, ["pandas"]
    )
    dist_info(site, "numpy", "1.26.4", modules=["numpy"])
    dist_info(site, "tzdata", "2024.1", modules=["tzdata"])
    dist_info(site, "requests", "2.31.0", ["idna", "socks; extra == 'socks'"], modules=["requests"])
    dist_info(site, "idna", "3.6", modules=["idna"])
    dist_info(site, "socks", "1.0", modules=["socks"])
    dist_info(site, "old", "1.0", ["numpy; python_version < '3'"], modules=["old"])
    dist_info(site, "ipykernel", "6.29.0", ["tornado"], modules=["ipykernel"])
    dist_info(site, "tornado", "6.4", modules=["tornado"])
    dist_info(site, "pip", "24.0", modules=["pip"])
    dist_info(site, "mine", "0.1", [], {"url": "file:///src/mine", "dir_info": {"editable": True}})
    dist_info(site, "built", "0.2", [], {"url": "file:///src/built", "dir_info": {}})
    git = {"url": "https://example.org/x.git", "vcs_info": {"vcs": "git", "commit_id": "ab" * 20}}
    dist_info(site, "fromgit", "0.3", [], git)
    dist_info(
        site,
        "local-wheel",
        "0.4",
        [],
        {"url": "file:///w/local_wheel-0.4-py3-none-any.whl", "archive_info": {}},
    )
    return site


def test_origins_come_from_direct_url_json(site):
    found = inventory.installed([str(site)])
    assert {k: d.origin for k, d in found.items() if d.origin != "index"} == {
        "mine": "editable",
        "built": "directory",
        "fromgit": "vcs",
        "local-wheel": "wheel-file",
    }
    assert found["mine"].why_not_fetchable() == "an editable install of /src/mine"
    assert found["fromgit"].location == "git+https://example.org/x.git@" + "ab" * 6
    assert found["pandas"].pin == "pandas==2.1.0"


def test_all_takes_every_distribution(site):
    taken = inventory.collect("all", path=[str(site)], modules={}, cwd=str(site))
    assert len(taken.dists) == 14
    assert taken.added == ["nbclient"]  # ipykernel and pip are there


def test_imported_takes_what_the_session_imported_and_what_it_requires(site):
    modules = {"pandas": object(), "pandas.core": object(), "requests": object(), "os": os}
    taken = inventory.collect("imported", path=[str(site)], modules=modules, cwd=str(site))
    names = sorted(d.name for d in taken.dists)
    # markers evaluated (tzdata yes; old's numpy only on Python 2), extras not asked: no socks;
    # ipykernel and pip always, with what they require.
    assert names == ["idna", "ipykernel", "numpy", "pandas", "pip", "requests", "tornado", "tzdata"]


def test_extras_asked_are_followed(site):
    dists = inventory.installed([str(site)])
    assert set(inventory.closure({"requests": {"socks"}}, dists)) == {"requests", "idna", "socks"}


def test_exclude_leaves_out_and_says_who_needs_it(site):
    taken = inventory.collect(
        "all", ["NumPy", "nothere"], path=[str(site)], modules={}, cwd=str(site)
    )
    assert "numpy" not in {d.key for d in taken.dists}
    assert taken.warnings == [
        "--exclude nothere: the kernel has no distribution of that name",
        "pandas needs numpy, which --exclude leaves out",
    ]


def test_local_modules_are_named_unless_included(tmp_path):
    """Modules imported from the working folder that no distribution provides: a file, or a
    package's folder; one an installed distribution provides (even an editable one, which
    has its own warning) is not named."""
    (tmp_path / "helpers.py").write_text("")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    site = tmp_path / "site"
    direct = {"url": "file:///src/mine", "dir_info": {"editable": True}}
    dist_info(site, "mine", "0.1", direct=direct, modules=["mine"])
    (site / "mine").mkdir()
    (site / "mine" / "__init__.py").write_text("")

    def module(path):
        return type("M", (), {"__file__": str(path)})()

    modules = {
        "helpers": module(tmp_path / "helpers.py"),
        "pkg": module(tmp_path / "pkg" / "__init__.py"),
        "mine": module(site / "mine" / "__init__.py"),
    }
    found = inventory.collect("all", path=[str(site)], modules=modules, cwd=str(tmp_path))
    assert found.warnings == [
        "The session imported helpers from helpers.py, which no installed package provides: "
        "--include helpers.py to have it in the image",
        "The session imported pkg from pkg, which no installed package provides: "
        "--include pkg to have it in the image",
    ]
    included = inventory.collect(
        "all", path=[str(site)], modules=modules, cwd=str(tmp_path), included=[str(tmp_path)]
    )
    assert included.warnings == []


def this_machine() -> Target:
    libc, version = platform.libc_ver()
    return Target("img", (3, 11, 2), "cpython", platform.machine(), libc, version)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="compares with this glibc system")
def test_platform_tags_are_those_packaging_gives_on_such_a_system():
    from packaging import tags

    target = this_machine()
    assert set(target.platforms) == set(tags.platform_tags())
    assert set(target.tags()) == {str(t) for t in tags.sys_tags()}  # this is CPython 3.11
    assert target.platforms[-1] == f"linux_{platform.machine()}"  # built here: last choice


def test_tags_are_those_pip_download_considers_with_our_options():
    from pip._internal.utils.compatibility_tags import get_supported

    target = Target("img", (3, 11, 2), "cpython", "aarch64", "glibc", "2.31")
    assert target.platforms[:2] == ["manylinux_2_31_aarch64", "manylinux_2_30_aarch64"]
    assert (
        "manylinux2014_aarch64" in target.platforms and "manylinux1_aarch64" not in target.platforms
    )
    assert target.platforms[-3:] == [
        "manylinux_2_17_aarch64",
        "manylinux2014_aarch64",
        "linux_aarch64",
    ]
    pip = get_supported(version="311", platforms=target.platforms, impl="cp", abis=["cp311"])
    assert {str(t) for t in pip} == set(target.tags())
    options = target.pip_options()
    assert options[:6] == ["--python-version", "3.11", "--implementation", "cp", "--abi", "cp311"]
    musl = Target("img", (3, 12, 1), "cpython", "x86_64", "musl", "1.2.4")
    assert musl.platforms == [f"musllinux_1_{m}_x86_64" for m in (2, 1, 0)] + ["linux_x86_64"]


def test_the_bases_python_must_be_the_kernels_major_minor():
    target = Target("python:3.12-slim", (3, 12, 1), "cpython", "x86_64", "glibc", "2.36")
    check(target, (3, 12, 7), "cpython")
    with pytest.raises(BadArgument) as err:
        check(target, (3, 11, 7), "cpython")
    assert str(err.value) == (
        "The base image python:3.12-slim has Python 3.12.1, the kernel runs Python 3.11.7. "
        "Give a --base image with Python 3.11 (e.g. python:3.11-slim)."
    )


def test_cached_wheels_are_chosen_by_version_and_the_images_tags(tmp_path):
    names = [
        "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "numpy-1.26.4-cp311-cp311-linux_x86_64.whl",  # built here: worse
        "numpy-1.26.4-cp312-cp312-manylinux_2_17_x86_64.whl",  # another Python
        "numpy-1.26.3-cp311-cp311-manylinux_2_17_x86_64.whl",  # another version
        "six-1.16.0-py2.py3-none-any.whl",
        "tzdata-2024.1-py2.py3-none-any.whl",
        "not-a-wheel.whl",
    ]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    target = Target("img", (3, 11, 2), "cpython", "x86_64", "glibc", "2.36")
    wanted = [
        inventory.Dist(n, v, "index")
        for n, v in [("NumPy", "1.26.4"), ("six", "1.16"), ("zzz", "1")]
    ]
    chosen = wheels.select(tmp_path, wanted, target.tags())
    assert {k: p.name for k, p in chosen.items()} == {"numpy": names[0], "six": names[4]}
    found = wheels.Wheels(files=chosen)
    assert found.requirements(wanted) == "NumPy==1.26.4\nsix==1.16\n"


def test_the_dockerfile_installs_packages_before_the_files():
    text = dockerfile.render("python:3.11-slim", python="3.11.7", count=3, files=True)
    lines = text.splitlines()
    froms = [i for i, line in enumerate(lines) if line.startswith("FROM ")]
    assert [lines[i] for i in froms] == [
        "FROM python:3.11-slim AS packages",
        "FROM python:3.11-slim",
    ]
    assert "--no-index" in text and "--only-binary=:all:" in text and "--no-deps" in text
    copy_venv = lines.index("COPY --from=packages /opt/venv /opt/venv")
    assert froms[1] < copy_venv < lines.index("COPY files/ ./")
    # The final stage gets no wheels: only the packages stage copies them.
    assert [i for i, line in enumerate(lines) if "wheels/" in line and line.startswith("COPY")] == [
        froms[0] + 1
    ]
    assert "COPY files/" not in dockerfile.render("b", python="3.11.7", count=1, files=False)
    from docker_magics.builds.dockerfile import parse

    assert [i.keyword for i in parse(text)] == [
        "FROM", "COPY", "RUN", "FROM", "COPY", "ENV", "WORKDIR", "COPY", "LABEL",
    ]  # fmt: skip


def test_include_destinations(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.csv").write_text("1")
    outside = tmp_path.parent / "elsewhere.txt"
    outside.write_text("")
    cwd = str(tmp_path)
    assert Include.parse(str(tmp_path / "data" / "x.csv"), cwd).dest == "data/x.csv"
    monkeypatch.chdir(tmp_path)
    assert Include.parse("data", cwd).dest == "data"
    assert Include.parse(str(outside), cwd).dest == "elsewhere.txt"
    assert Include.parse(f"{outside}:inputs/e.txt", cwd).dest == "inputs/e.txt"
    with pytest.raises(BadArgument, match="does not exist"):
        Include.parse(str(tmp_path / "nope"), cwd)
    with pytest.raises(BadArgument, match="not a place inside the working folder"):
        Include.parse(f"{outside}:../up", cwd)


def test_plan_needs_no_engine_and_refuses_clashing_includes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.csv").write_text("")
    (tmp_path / "b.csv").write_text("")
    frozen = plan(base="base:1", include=["a.csv"], workdir="/work")
    assert "FROM base:1 AS packages" in frozen.dockerfile and "WORKDIR /work" in frozen.dockerfile
    assert str(frozen) == frozen.dockerfile
    assert "ipykernel==" in frozen.requirements
    with pytest.raises(BadArgument) as err:
        plan(include=["a.csv:x", "b.csv:x"])
    assert str(err.value) == (
        "--include b.csv:x and --include a.csv:x both go to x in the image. "
        "Give one of them another DEST (--include SRC:DEST)."
    )
    with pytest.raises(BadArgument, match="--workdir work: not an absolute path"):
        plan(workdir="work")
    with pytest.raises(BadArgument, match="Unknown --packages 'some'"):
        plan(packages="some")
