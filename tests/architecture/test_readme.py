"""The README stays a one-sitting read, and it and the docs/ pages link only to files that exist.

README.md holds the first screen (the two set-up commands CI runs, exactly so), what is measured,
the pipeline, the trackers, the key results and the deviations; each topic's full text is one
page in docs/, every page linked from the README.
"""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
MAX_LINES = 300
LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")  # [text](target) or [text](target "title")
FENCE = re.compile(r"^(```|~~~)")


def prose(text: str) -> str:
    """The text outside fenced code blocks (a `](` inside code is not a link)."""
    kept, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            kept.append(line)
    return "\n".join(kept)


def relative_links(path: Path) -> list[str]:
    """The targets of markdown links in `path` that are files of the repository (no URL, no
    bare #anchor), anchors stripped."""
    targets = []
    for target in LINK.findall(prose(path.read_text())):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("#"):
            continue  # http(s), mailto: ..., or an anchor in the same file
        targets.append(target.split("#", 1)[0])
    return targets


def test_the_readme_is_at_most_300_lines() -> None:
    lines = README.read_text().count("\n")
    assert lines <= MAX_LINES, f"README.md has {lines} lines; move a section to docs/"


def test_the_first_bash_block_is_exactly_make_demo_and_make_test() -> None:
    block = re.search(r"^```bash\n(.*?)^```", README.read_text(), re.S | re.M)
    assert block, "README.md has no ```bash block"
    commands = [line.split("#", 1)[0].strip() for line in block.group(1).splitlines()]
    assert [c for c in commands if c] == ["make demo", "make test"]


def test_every_relative_link_points_to_an_existing_file() -> None:
    assert DOCS, "docs/ holds no pages"
    broken = [f"{path.relative_to(ROOT)}: {target}"
              for path in [README, *DOCS] for target in relative_links(path)
              if not (path.parent / target).exists()]
    assert not broken, f"links to missing files: {broken}"


def test_the_link_check_sees_links_and_skips_urls_anchors_and_code(tmp_path) -> None:
    page = tmp_path / "page.md"
    page.write_text("[a](docs/x.md#part) [b](https://example.org/y.md) [c](#here)\n"
                    "```\n[d](in/code.md)\n```\n[e](../up.md \"title\")\n")
    assert relative_links(page) == ["docs/x.md", "../up.md"]


def test_every_docs_page_is_linked_from_the_readme() -> None:
    linked = {(README.parent / target).resolve() for target in relative_links(README)}
    missing = [page.name for page in DOCS if page.resolve() not in linked]
    assert not missing, f"docs pages not linked from README.md: {missing}"
