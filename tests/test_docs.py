"""The documentation matches the code: every setting is documented as the settings classes
define it, and every relative link in the Markdown files points at a file (and heading) that
exists."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from wrappers.settings import ENV_PREFIX, ServerSettings, Settings

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_DOC = ROOT / "docs" / "settings.md"
SETTINGS_CLASSES: tuple[type[BaseModel], ...] = (Settings, ServerSettings)
#: how a class's fields are read besides the environment
SELDON_PARAMETER = {Settings: True, ServerSettings: False}

#: a row of a settings table: | `name` | `ENV` | parameter | `default` | meaning |
SETTING_ROW = re.compile(
    r"^\| `(?P<name>[a-z][a-z0-9_]*)` \| (?P<env>[^|]+) \| (?P<parameter>[^|]+) \| "
    r"(?P<default>[^|]+) \|"
)


def markdown_files() -> list[Path]:
    return [
        ROOT / "README.md",
        *sorted((ROOT / "docs").glob("*.md")),
        *sorted((ROOT / "models").glob("*/README.md")),
    ]


def shown_default(field: Any) -> str:
    """A field's default as the settings tables write it."""
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        raise AssertionError("a setting without a default")
    else:
        value = field.default
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return ",".join(value) if value else "empty"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def documented_settings() -> dict[str, dict[str, str]]:
    rows: dict[str, dict[str, str]] = {}
    for line in SETTINGS_DOC.read_text().splitlines():
        match = SETTING_ROW.match(line)
        if match:
            name = match["name"]
            assert name not in rows, f"{name} is documented twice in {SETTINGS_DOC.name}"
            rows[name] = {k: v.strip() for k, v in match.groupdict().items()}
    return rows


def test_every_setting_is_documented_with_its_variable_and_default():
    documented = documented_settings()
    for cls in SETTINGS_CLASSES:
        for name, field in cls.model_fields.items():
            assert name in documented, f"{cls.__name__}.{name} is missing from docs/settings.md"
            row = documented[name]
            assert row["env"] == f"`{ENV_PREFIX}{name.upper()}`", name
            assert row["default"] == f"`{shown_default(field)}`", name
            parameter = f"`{name}`" if SELDON_PARAMETER[cls] else "—"
            assert row["parameter"] == parameter, name


def test_nothing_documented_is_missing_from_the_settings_classes():
    fields = {name for cls in SETTINGS_CLASSES for name in cls.model_fields}
    assert set(documented_settings()) <= fields


def test_every_model_variable_in_the_settings_guide_is_a_field_or_named_as_tooling():
    """A ``MODELREPO_*`` variable the guide mentions outside the tables is not a setting the
    classes forgot: it is one of the launcher's or the tooling's, listed here."""
    fields = {ENV_PREFIX + name.upper() for cls in SETTINGS_CLASSES for name in cls.model_fields}
    others = {
        "MODELREPO_BIND_HOST",
        "MODELREPO_FUZZ_EXAMPLES",
        "MODELREPO_CACHE",
        "MODELREPO_FRAMEWORK",
        "MODELREPO_HOME",
        "MODELREPO_APP_DIR",
        "MODELREPO_CONSTRAINTS",
        "MODELREPO_SOURCE_DIR",
    }
    mentioned = set(re.findall(r"\bMODELREPO_[A-Z_]*[A-Z]\b", SETTINGS_DOC.read_text()))
    assert mentioned <= fields | others


# ---- model READMEs ------------------------------------------------------------------------

MODEL_DIRS = sorted(p.parent for p in (ROOT / "models").glob("*/manifest.json"))
FILE_TABLE_HEADER = "| file | what it holds |"


def files_table(readme: Path) -> list[str]:
    """The first cells of a model README's table of files."""
    lines = readme.read_text().splitlines()
    start = lines.index(FILE_TABLE_HEADER) + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(re.match(r"^\| `([^`]+)` \|", line)[1])
    return rows


@pytest.mark.parametrize("model_dir", MODEL_DIRS, ids=lambda p: p.name)
def test_every_model_readme_lists_the_files_its_directory_holds(model_dir):
    listed = files_table(model_dir / "README.md")
    for name in listed:
        assert (model_dir / name).exists(), f"{model_dir.name}/README.md lists {name}"
    held = {p.name for p in model_dir.iterdir()} - {"README.md", "__pycache__"}
    for name in held:
        described = name in listed or any(entry.startswith(name + "/") for entry in listed)
        assert described, f"{model_dir.name}/README.md does not describe {name}"


# ---- links -------------------------------------------------------------------------------

#: [text](target) and ![alt](target), not inside code
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~)")
INLINE_CODE = re.compile(r"`+[^`]*`+")


def prose(text: str) -> str:
    """The text outside fenced code blocks and inline code."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(INLINE_CODE.sub("", line))
    return "\n".join(lines)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = text.strip().lower()
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in ("L", "N", "M"))
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    fenced = False
    for line in path.read_text().splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
            continue
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if fenced or not match:
            continue
        base = slug(match[1].replace("`", ""))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def relative_links(path: Path) -> list[str]:
    targets = LINK.findall(prose(path.read_text()))
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t, flags=re.IGNORECASE)]


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(path):
    assert path.is_file()
    broken = []
    for target in relative_links(path):
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolved.exists():
            broken.append(f"{target}: no {resolved.relative_to(ROOT)}")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading #{anchor} in {resolved.relative_to(ROOT)}")
    assert not broken, f"{path.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_link_check_sees_links_and_headings(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "# A `code` heading: with punctuation!\n## Limits on the wire\n## Limits on the wire\n"
        "[a](other.md#x) ![b](img.png) [c](https://example.com) `[d](not-a-link.md)`\n"
        "```\n[e](in-code.md)\n```\n"
    )
    assert relative_links(page) == ["other.md#x", "img.png"]
    assert anchors(page) == {
        "a-code-heading-with-punctuation",
        "limits-on-the-wire",
        "limits-on-the-wire-1",
    }


def test_the_readme_stays_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 300
