"""Docs stay in sync with the command line: every ``sca-lava CMD`` named in
docs/*.md or README.md exists, every command is documented in docs/cli.md,
and every option docs/cli.md shows for a command exists in its parser. Local
links between the docs resolve, their #anchors included."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from sca_lava.cli import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = DOCS + [ROOT / "README.md"]
CLI_MD = ROOT / "docs" / "cli.md"

COMMAND_RE = re.compile(r"\bsca-lava\s+([a-z][a-z0-9_-]*)")
OPTION_RE = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")
SECTION_RE = re.compile(r"^## `sca-lava ([a-z][a-z0-9_-]*)`\s*$", re.M)
LINK_RE = re.compile(r"\]\(([^)#\s]+)(#[^)]*)?\)")
ANCHOR_RE = re.compile(r"\]\(([^)#\s]*)#([^)\s]+)\)")


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {s for a in parser._actions for s in a.option_strings}


def _cli_sections() -> dict[str, str]:
    text = CLI_MD.read_text()
    marks = list(SECTION_RE.finditer(text))
    return {m.group(1): text[m.end():marks[i + 1].start() if i + 1 < len(marks) else len(text)]
            for i, m in enumerate(marks)}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_commands_named_in_docs_exist(page):
    unknown = sorted({m.group(1) for m in COMMAND_RE.finditer(page.read_text())} - set(COMMANDS))
    assert not unknown, f"{page.name} names sca-lava commands that do not exist: {unknown}"


def test_every_command_is_documented_in_cli_md():
    sections = _cli_sections()
    missing = [c for c in COMMANDS if c not in sections]
    assert not missing, f"docs/cli.md has no '## `sca-lava CMD`' section for {missing}"
    extra = sorted(set(sections) - set(COMMANDS))
    assert not extra, f"docs/cli.md documents commands that do not exist: {extra}"


@pytest.mark.parametrize("command", COMMANDS)
def test_cli_md_options_exist(command):
    section = _cli_sections().get(command)
    if section is None:
        pytest.fail(f"docs/cli.md has no section for sca-lava {command}")
    known = _options(_subparsers()[command]) | {"--help"}
    shown = set(OPTION_RE.findall(section))
    assert shown, f"docs/cli.md shows no options for sca-lava {command}"
    unknown = sorted(shown - known)
    assert not unknown, f"docs/cli.md shows options sca-lava {command} does not have: {unknown}"


@pytest.mark.parametrize("command", COMMANDS)
def test_cli_md_shows_every_option(command):
    """Each option of the parser appears in its cli.md section (so new options get documented)."""
    section = _cli_sections().get(command, "")
    options = {s for a in _subparsers()[command]._actions if not isinstance(a, argparse._HelpAction)
               for s in a.option_strings if s.startswith("--")}
    missing = sorted(o for o in options if o not in set(OPTION_RE.findall(section)))
    assert not missing, f"docs/cli.md does not document sca-lava {command} {missing}"


def test_options_in_command_lines_exist():
    """`sca-lava CMD --opt ...` lines in code blocks of any page use real options."""
    parsers = _subparsers()
    bad = []
    for page in PAGES:
        for line in page.read_text().splitlines():
            m = re.match(r"\s*(?:\$\s*)?sca-lava\s+([a-z][a-z0-9_-]*)\b(.*)", line)
            if not m or m.group(1) not in parsers:
                continue
            rest = m.group(2).split("#")[0]
            unknown = set(OPTION_RE.findall(rest)) - _options(parsers[m.group(1)]) - {"--help"}
            bad += [f"{page.name}: sca-lava {m.group(1)} {o}" for o in sorted(unknown)]
    assert not bad, "unknown options in documented command lines:\n" + "\n".join(bad)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_local_links_resolve(page):
    broken = []
    for m in LINK_RE.finditer(page.read_text()):
        target = m.group(1)
        if "://" in target or target.startswith("mailto:"):
            continue
        if not (page.parent / target).exists():
            broken.append(target)
    assert not broken, f"{page.name} links to missing files: {broken}"


def _heading_anchors(page: Path) -> set[str]:
    """The anchors a Markdown renderer (GitHub's rule) gives ``page``'s headings."""
    anchors, seen, fenced = set(), {}, False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        m = None if fenced else re.match(r"#{1,6}\s+(.*)", line)
        if m:
            text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m.group(1).strip()).lower()
            slug = re.sub(r"[^\w\- ]", "", text.replace("`", "").replace("*", "")).replace(" ", "-")
            anchors.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
            seen[slug] = seen.get(slug, 0) + 1
    return anchors


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_link_anchors_name_a_heading(page):
    """A link to page.md#section (or #section on the same page) lands on a heading."""
    broken = []
    for m in ANCHOR_RE.finditer(page.read_text()):
        target = page.parent / m.group(1) if m.group(1) else page
        if "://" in m.group(1) or target.suffix != ".md" or not target.exists():
            continue
        if m.group(2) not in _heading_anchors(target):
            broken.append(f"{m.group(1)}#{m.group(2)}")
    assert not broken, f"{page.name} links to missing headings: {broken}"
