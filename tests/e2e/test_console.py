"""``attache console``: a scripted conversation with the real bot through the local Bot API
server, printed as text; and the command line exiting cleanly."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from bot.config import Settings
from bot.sandbox import InlineButton, MessageEntity, RateLimits, SandboxMessage
from bot.sandbox.console import button_lines, readable_text, render_message, run_console

FIXTURES = Path(__file__).parents[1] / "fixtures"
SEED = FIXTURES / "seed_kazinform.txt"
SEED_TITLE = "Eurasian integration named one of priorities of Russia, Belarus"
REPO = Path(__file__).resolve().parents[2]


def console_settings(db: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]  # _env_file is pydantic-settings' init option
        _env_file=None,
        database_url=f"sqlite:///{db}",
        admin_ids=frozenset(),
        allowed_user_ids=frozenset(),
        webhook_url=None,
    )


def run_script(tmp_path: Path, lines: list[str], db: Path | None = None) -> tuple[int, str]:
    script = tmp_path / "script.txt"
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = io.StringIO()
    code = run_console(
        console_settings(db or tmp_path / "console.db"),
        script=str(script),
        stdout=out,
        rate_limits=RateLimits.disabled(),
    )
    return code, out.getvalue()


def section(output: str, line: str) -> str:
    """What the console printed after the scripted ``line`` and before the next one."""
    _, found, rest = output.partition(f"> {line}\n")
    assert found, f"{line!r} was not echoed:\n{output}"
    return rest.split("\n> ", 1)[0]


def test_scripted_conversation_searches_opens_a_person_and_subscribes(tmp_path: Path) -> None:
    code, output = run_script(
        tmp_path,
        [
            f":ingest {SEED}",
            "/start",
            "/search eurasian integration",
            "/person Lavrov",
            "/subscribe person Lavrov",
            "/subscriptions",
            "1",
            "/subscriptions",
            ":quit",
            "/help",  # never sent: :quit ended the session
        ],
    )
    assert code == 0
    assert "1 added, 0 already stored, 0 failed" in section(output, f":ingest {SEED}")
    start = section(output, "/start")
    assert "[1] /search eurasian integration" in start
    assert SEED_TITLE in section(output, "/search eurasian integration")
    assert "Lavrov" in section(output, "/person Lavrov")
    assert SEED_TITLE in section(output, "/person Lavrov")
    assert "Subscribed" in section(output, "/subscribe person Lavrov")
    listed = section(output, "/subscriptions")
    assert "[1] ✕" in listed and "Lavrov" in listed
    pressed = section(output, "1")
    assert pressed.startswith("(pressed ✕")
    assert "bot (edited):" in pressed  # the list message was edited in place
    # The removal stuck: the second listing (the last section before :quit) has no Lavrov.
    second_listing = output.rpartition("> /subscriptions\n")[2].split("\n> ", 1)[0]
    assert "Lavrov" not in second_listing
    assert "> /help" not in output


def test_data_stays_in_the_database_between_sessions(tmp_path: Path) -> None:
    db = tmp_path / "kept.db"
    code, _ = run_script(tmp_path, [f":ingest {SEED}"], db=db)
    assert code == 0
    code, output = run_script(tmp_path, [f":ingest {SEED}", "/latest"], db=db)
    assert code == 0
    assert "holds 1 article(s)" in output
    assert "0 added, 1 already stored" in output
    assert SEED_TITLE in section(output, "/latest")


def test_a_pasted_article_is_stored_because_the_console_user_is_an_admin(tmp_path: Path) -> None:
    seed_lines = SEED.read_text(encoding="utf-8").splitlines()
    code, output = run_script(
        tmp_path, [":paste", *seed_lines, ".", "/search eurasian integration"]
    )
    assert code == 0
    stored = section(output, ".")
    assert f"Stored #1: {SEED_TITLE}" in stored
    assert "Lavrov" in stored  # the persons found in it
    assert SEED_TITLE in section(output, "/search eurasian integration")


def test_numbers_without_buttons_and_unknown_console_commands_get_hints(tmp_path: Path) -> None:
    code, output = run_script(tmp_path, ["3", ":frobnicate", ":help"])
    assert code == 0
    assert "(no message with buttons yet)" in section(output, "3")
    assert "unknown console command :frobnicate" in section(output, ":frobnicate")
    assert ":ingest PATH..." in section(output, ":help")


def test_a_missing_script_is_reported_without_starting(tmp_path: Path) -> None:
    code = run_console(console_settings(tmp_path / "x.db"), script=str(tmp_path / "none.txt"))
    assert code == 2
    assert not (tmp_path / "x.db").exists()


def test_links_keep_their_address_and_utf16_offsets_are_respected() -> None:
    # "🇧🇾" is four UTF-16 units; the link entity after it must still land on the title.
    text = "🇧🇾 Lavrov in Minsk\nmore"
    entities = [
        MessageEntity("bold", 0, 4),
        MessageEntity("text_link", 5, 15, url="https://www.inform.kz/en/a"),
    ]
    assert readable_text(text, entities) == (
        "🇧🇾 Lavrov in Minsk <https://www.inform.kz/en/a>\nmore"
    )
    bare = [MessageEntity("text_link", 0, 17, url="https://x.example")]
    assert readable_text("https://x.example", bare) == "https://x.example"


def test_buttons_are_numbered_across_rows() -> None:
    rows = [
        [InlineButton("‹ Prev", "p"), InlineButton("2 of 7", "n"), InlineButton("Next ›", "x")],
        [InlineButton("Source", url="https://www.inform.kz/")],
    ]
    assert button_lines(rows) == ["[1] ‹ Prev  [2] 2 of 7  [3] Next ›", "[4] Source ↗"]
    message = SandboxMessage(
        chat_id=1,
        message_id=2,
        date=0,
        text="Search: minsk\n\n1. Title",
        entities=(),
        from_bot=True,
        sender_id=7,
        api={},
        reply_markup={"inline_keyboard": [[{"text": "Next ›", "callback_data": "n"}]]},
    )
    assert render_message(message) == ("bot: Search: minsk\n\n     1. Title\n     [1] Next ›")


def test_attache_console_command_exits_cleanly(tmp_path: Path) -> None:
    script = tmp_path / "demo.txt"
    script.write_text(f":ingest {SEED}\n/search eurasian integration\n", encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith("TELEGRAM_")}
    env["PYTHONPATH"] = str(REPO)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "console",
            "--db",
            str(tmp_path / "cli.db"),
            "--script",
            str(script),
        ],
        cwd=tmp_path,  # no .env here: the defaults apply
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert SEED_TITLE in result.stdout
    assert "Traceback" not in result.stderr
    assert (tmp_path / "cli.db").exists()
