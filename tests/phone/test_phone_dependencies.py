"""The phone app's dependency closure: every package is pure Python or built by Flet's mobile package index.

``flet build apk|ipa`` hands pip ``[project] dependencies`` followed by ``[tool.flet.<platform>]
dependencies`` (flet-cli 1.0.5, ``package_python_app``: the platform list is appended, so a pin there narrows
a range of the project's), for Python 3.12 (the README's ``--python-version 3.12``). Binary packages exist
for phones only on Flet's mobile index, built from the flet-dev/mobile-forge recipes: data/mobile-recipes.txt
(a copy of ../shared/mobile-recipes.txt).

The closure is walked offline from the installed distributions (importlib.metadata): each requirement whose
marker holds on the phone (sys_platform android/ios, Python 3.12, the extras asked of it; none of the
project's optional extras), then the picked version's own requirements, and so on. The version a phone gets:

- binary (compiled files in its RECORD, or a wheel that is not purelib): the newest recipe version that every
  requirement allows — no such version is a failure;
- pure Python: the installed version when the phone's requirements allow it.

A picked version that is not the installed one is read from data/phone-metadata.toml (copied from its wheel).
What pip may still pick differently on a real build (a newer pure release than the installed one) only a
build proves: see the README, "Phone builds".
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
RECIPES = DATA / "mobile-recipes.txt"
RECORDED = DATA / "phone-metadata.toml"
PHONE_PYTHON = "3.12"

#: PEP 508 marker variables on a phone; every key is given, so nothing of this machine leaks in.
_COMMON = {
    "os_name": "posix",
    "python_version": PHONE_PYTHON,
    "python_full_version": f"{PHONE_PYTHON}.0",
    "implementation_name": "cpython",
    "implementation_version": f"{PHONE_PYTHON}.0",
    "platform_python_implementation": "CPython",
    "platform_release": "",
    "platform_version": "",
}
PHONES: dict[str, dict[str, str]] = {
    "android": {**_COMMON, "sys_platform": "android", "platform_system": "Android", "platform_machine": "aarch64"},
    "ios": {**_COMMON, "sys_platform": "ios", "platform_system": "iOS", "platform_machine": "arm64"},
}
_COMPILED = (".so", ".pyd", ".dylib", ".dll")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_recipes(path: Path) -> dict[str, set[Version]]:
    """Package (canonical name) → the versions the mobile index builds."""
    recipes: dict[str, set[Version]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, version = line.split()
            recipes.setdefault(canonical(name), set()).add(Version(version))
    return recipes


def phone_requirements(pyproject: dict, platform: str) -> list[str]:
    """What `flet build` passes to pip for ``platform``: the project's list, then the platform's."""
    flet = pyproject.get("tool", {}).get("flet", {})
    return [*pyproject["project"]["dependencies"], *flet.get(platform, {}).get("dependencies", [])]


@dataclass
class Pick:
    name: str
    version: Version
    pure: bool
    requires: list[str]
    requires_python: str
    source: str  # "installed" or "recorded"


@dataclass
class Closure:
    picks: dict[str, Pick] = field(default_factory=dict)
    asked: dict[str, list[tuple[Requirement, str]]] = field(default_factory=dict)  # name → (requirement, by)
    problems: list[str] = field(default_factory=list)


def installed_is_pure(dist: metadata.Distribution) -> bool:
    if any(str(f).endswith(_COMPILED) for f in dist.files or ()):
        return False
    wheel = dist.read_text("WHEEL") or ""
    return "Root-Is-Purelib: false" not in wheel


def _installed(name: str) -> metadata.Distribution | None:
    try:
        return metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None


class Resolver:
    def __init__(self, env: dict[str, str], recipes: dict[str, set[Version]], recorded: dict[str, dict]) -> None:
        self.env = env
        self.recipes = recipes
        self.recorded = {canonical(name): versions for name, versions in recorded.items()}
        self.used_records: set[tuple[str, str]] = set()

    def holds(self, requirement: Requirement, extras: set[str]) -> bool:
        marker: Marker | None = requirement.marker
        return marker is None or any(marker.evaluate({**self.env, "extra": e}) for e in {"", *extras})

    def pick(self, key: str, spec: SpecifierSet, closure: Closure) -> Pick | None:
        dist = _installed(key)
        records = self.recorded.get(key, {})
        if dist is not None:
            pure = installed_is_pure(dist)
        elif records:
            pure = all(entry["pure"] for entry in records.values())
        else:
            closure.problems.append(f"{key}: neither installed nor in {RECORDED.name}; cannot tell what it needs")
            return None
        if pure:
            version = Version(dist.version) if dist is not None and spec.contains(dist.version, True) else None
            if version is None:
                version = max((Version(v) for v in records if spec.contains(v, True)), default=None)
        else:
            allowed = [v for v in self.recipes.get(key, ()) if spec.contains(v, True)]
            version = max(allowed, default=None)
            if version is None:
                built = sorted(str(v) for v in self.recipes.get(key, ()))
                closure.problems.append(f"{key}{spec}: binary, and the mobile index builds {built or 'no version'}")
                return None
        if version is None:
            closure.problems.append(
                f"{key}{spec}: pure, installed {dist.version if dist else 'nothing'}; "
                f"record the phone's version in {RECORDED.name}"
            )
            return None
        if dist is not None and Version(dist.version) == version:
            return Pick(
                key, version, pure, list(dist.requires or []), dist.metadata.get("Requires-Python") or "", "installed"
            )
        record = next((entry for v, entry in records.items() if Version(v) == version), None)
        if record is None:
            closure.problems.append(
                f"{key}=={version}: the phone's version is not installed; record it in {RECORDED.name}"
            )
            return None
        self.used_records.add((key, str(version)))
        return Pick(key, version, pure, list(record["requires"]), record["requires_python"], "recorded")

    def resolve(self, roots: list[str]) -> Closure:
        closure = Closure()
        extras: dict[str, set[str]] = {}
        todo = [(r, "pyproject.toml") for r in map(Requirement, roots) if self.holds(r, set())]
        for requirement, by in todo:  # pip sees every top-level requirement before it picks a version
            closure.asked.setdefault(canonical(requirement.name), []).append((requirement, by))
        while todo:
            requirement, by = todo.pop(0)
            key = canonical(requirement.name)
            if by != "pyproject.toml":
                closure.asked.setdefault(key, []).append((requirement, by))
            new_extras = set(requirement.extras) - extras.get(key, set())
            if key in closure.picks and not new_extras:
                continue
            extras.setdefault(key, set()).update(requirement.extras)
            if key not in closure.picks:
                spec = SpecifierSet(",".join(str(r.specifier) for r, _ in closure.asked[key] if r.specifier))
                chosen = self.pick(key, spec, closure)
                if chosen is None:
                    continue
                closure.picks[key] = chosen
            chosen = closure.picks[key]
            for line in chosen.requires:
                child = Requirement(line)
                if self.holds(child, extras[key]):
                    todo.append((child, f"{key}=={chosen.version}"))
        for key, chosen in closure.picks.items():
            for requirement, by in closure.asked[key]:
                if not requirement.specifier.contains(chosen.version, True):
                    closure.problems.append(f"{key}=={chosen.version} does not satisfy {requirement} (from {by})")
            if chosen.requires_python and not SpecifierSet(chosen.requires_python).contains(PHONE_PYTHON + ".0"):
                closure.problems.append(f"{key}=={chosen.version} requires Python {chosen.requires_python}")
        return closure


def phone_closure(platform: str, pyproject: dict | None = None) -> tuple[Closure, Resolver]:
    pyproject = pyproject or tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    recorded = tomllib.loads(RECORDED.read_text(encoding="utf-8"))
    resolver = Resolver(PHONES[platform], read_recipes(RECIPES), recorded)
    return resolver.resolve(phone_requirements(pyproject, platform)), resolver


@pytest.mark.parametrize("platform", sorted(PHONES))
def test_every_phone_dependency_is_pure_or_on_the_mobile_index(platform: str) -> None:
    closure, _ = phone_closure(platform)
    assert closure.problems == []
    recipes = read_recipes(RECIPES)
    binary = {key: str(p.version) for key, p in closure.picks.items() if not p.pure}
    assert sorted(key for key in binary if Version(binary[key]) not in recipes.get(key, set())) == []
    # what the walk must have seen: the app's own binary needs, at the index's versions
    assert binary["pydantic-core"] == "2.33.2"
    assert {"cryptography", "cffi", "pillow", "msgpack"} <= binary.keys()
    assert {"flet", "flet-secure-storage", "httpx", "segno", "icalendar", "tzdata"} <= closure.picks.keys()
    # markers evaluated for the phone: no desktop keyring backend, no web/desktop Flet, no test tools
    assert (
        sorted(
            closure.picks.keys()
            & {
                "secretstorage",
                "jeepney",
                "pywin32-ctypes",
                "flet-web",
                "flet-desktop",
                "flet-cli",
                "pytest",
                "zxing-cpp",
            }
        )
        == []
    )


def test_the_phone_pins_its_pydantic_where_the_desktop_does_not() -> None:
    """pydantic pins pydantic-core exactly; the phone's pydantic is the one whose core the index builds."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for platform in PHONES:
        closure, _ = phone_closure(platform, pyproject)
        assert str(closure.picks["pydantic"].version) == "2.11.10", platform
    # The same project without the platform lists: today's desktop pydantic needs a core no phone has.
    desktop_only = {"project": pyproject["project"]}
    closure, _ = phone_closure("android", desktop_only)
    assert any(problem.startswith("pydantic-core==") for problem in closure.problems), closure.problems


def test_a_binary_package_off_the_index_is_reported() -> None:
    """The check itself: zxing-cpp (binary, not on the mobile index) and a too-new Pillow both fail."""
    pyproject = {"project": {"dependencies": ["zxing-cpp==3.1.1", "pillow>=13", "segno==1.6.6"]}}
    closure, _ = phone_closure("android", pyproject)
    assert any(problem.startswith("zxing-cpp==3.1.1: binary") for problem in closure.problems), closure.problems
    assert any(problem.startswith("pillow>=13: binary") for problem in closure.problems), closure.problems
    assert "segno" in closure.picks and closure.picks["segno"].pure


def test_recorded_metadata_is_all_used() -> None:
    """Each data/phone-metadata.toml entry is a version some phone build installs (no stale entries)."""
    used: set[tuple[str, str]] = set()
    for platform in PHONES:
        _, resolver = phone_closure(platform)
        used |= resolver.used_records
    recorded = tomllib.loads(RECORDED.read_text(encoding="utf-8"))
    assert {(canonical(name), version) for name, versions in recorded.items() for version in versions} == used


def _shared_recipes() -> Path | None:
    """../shared/mobile-recipes.txt beside the project root (or beside a parent: git worktrees live deeper)."""
    for folder in ROOT.parents:
        candidate = folder / "shared" / "mobile-recipes.txt"
        if candidate.is_file():
            return candidate
    return None


def test_the_recipe_copy_matches_the_shared_list() -> None:
    shared = _shared_recipes()
    if shared is None:
        pytest.skip("no ../shared/mobile-recipes.txt beside this clone: the committed copy is used as it is")
    assert read_recipes(RECIPES) == read_recipes(shared)
