"""README, .env.example and /help stay true to the code."""

from __future__ import annotations

import re
from pathlib import Path

from bot.config import Settings
from bot.runtime.commands import COMMANDS

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
ENV_EXAMPLE = (ROOT / ".env.example").read_text(encoding="utf-8")


def test_readme_lists_every_registered_command_and_no_other() -> None:
    documented = set(re.findall(r"^\| `/([a-z_]+)", README, flags=re.MULTILINE))
    assert documented == {c.name for c in COMMANDS}


def test_every_setting_is_documented_in_env_example_and_readme() -> None:
    names = {name.upper() for name in Settings.model_fields}
    in_example = set(re.findall(r"^([A-Z_]+)=", ENV_EXAMPLE, flags=re.MULTILINE))
    assert in_example == names
    for name in names:
        assert f"`{name}`" in README, name


def test_readme_quick_start_has_the_two_commands() -> None:
    quick_start = README.split("## Quick start", 1)[1].split("##", 1)[0]
    assert "make run" in quick_start
    assert "make test" in quick_start
