"""The documentation site builds with ``mkdocs build --strict``, and every command it shows exists.

A broken page link, a missing ``#anchor`` or an API reference (``::: feint...``) that does not
resolve fails the strict build; a ``feint`` command line in README.md or docs/ that names an
unknown command or option fails the second test.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest

from feint.cli import main

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


@pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("mkdocstrings_handlers") is None,
    reason="mkdocs and mkdocstrings are not installed: pip install -e '.[docs]' (the dev extra includes them)",
)
def test_docs_site_builds_strict_and_renders_every_api_reference(tmp_path):
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(ROOT / "mkdocs.yml"),
            "--site-dir",
            str(site),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (site / "index.html").is_file()
    for page in sorted(DOCS.rglob("*.md")):
        assert (site / page.relative_to(DOCS).with_suffix(".html")).is_file(), page
    # every `::: target` of the API page is rendered as a heading with the target's id
    api = (site / "api.html").read_text(encoding="utf-8")
    targets = re.findall(r"^::: (\S+)", (DOCS / "api.md").read_text(encoding="utf-8"), flags=re.M)
    assert len(targets) > 50
    missing = [t for t in targets if f'id="{t}"' not in api]
    assert missing == []


def _command_lines(text: str) -> list[str]:
    """The ``feint`` command lines of the bash blocks of a Markdown page (continuations joined)."""
    lines: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if "feint" in words and (words[0] == "feint" or words[words.index("feint") - 1] == "-m"):
                lines.append(line)
    return lines


def _check(line: str) -> list[str]:
    words = shlex.split(line, comments=True)
    words = [w for w in words[words.index("feint") + 1 :] if w != "&"]
    command: click.Command = main
    while isinstance(command, click.Group) and words and words[0] in command.commands:
        command = command.commands[words.pop(0)]
    if isinstance(command, click.Group):
        return [f"{line!r}: no such command"] if words != ["..."] else []
    known = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
    return [
        f"{line!r}: {command.name} has no option {w.split('=')[0]}"
        for w in words
        if w.startswith("--") and w.split("=")[0] not in known
    ]


def test_every_command_shown_in_the_docs_exists():
    lines = [line for page in PAGES for line in _command_lines(page.read_text(encoding="utf-8"))]
    assert len(lines) > 40
    problems = [problem for line in lines for problem in _check(line)]
    assert problems == []
