"""``make reliability``: run the reliability suite in full and print what was tried and what held.

Runs ``pytest tests/reliability`` with ``ATTACHE_RELIABILITY=full``, collects the figures each
test publishes (``harness.record``), the pass/fail count of every file (JUnit XML) and the number
of generated fuzz cases (hypothesis statistics), then prints a Markdown table and writes
everything to ``bench/out/reliability.json`` (pytest's output to ``reliability.log`` beside
it). The exit status is pytest's.

    python -m tests.reliability.report [extra pytest arguments]
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench" / "out" / "reliability.json"
_PASSING = re.compile(r"(\d+) passing\b")


def outcomes(junit: Path) -> dict[str, Counter[str]]:
    """Per test file: how many tests passed, failed (or errored) and were skipped."""
    per_file: dict[str, Counter[str]] = {}
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        name = (case.get("classname") or "").rsplit(".", 1)[-1]
        result = "passed"
        if case.find("failure") is not None or case.find("error") is not None:
            result = "failed"
        elif case.find("skipped") is not None:
            result = "skipped"
        per_file.setdefault(name, Counter())[result] += 1
    return per_file


def table(figures: dict[str, Any], files: dict[str, Counter[str]], fuzz_cases: int) -> str:
    crash = figures.get("crash_safety", {})
    faults = figures.get("telegram_faults", {})
    load = figures.get("load", {})

    def failed(name: str) -> int:
        return files.get(name, Counter())["failed"]

    def ran(name: str) -> int:
        return sum(files.get(name, Counter()).values())

    lost_items = crash.get("undelivered_items", "?"), crash.get("delivered_but_never_shown", "?")
    rows = [
        (
            "Crash safety (SIGKILL)",
            f"{crash.get('kills', '?')} kills of the bot ({_phases(crash)}), "
            f"{crash.get('ingest_kills', '?')} of a concurrent bulk import; "
            f"{crash.get('articles_expected', '?')} articles, {crash.get('matched_items', '?')} "
            "matched items",
            f"lost articles: {crash.get('lost_articles', '?')}; lost digest items: "
            f"{lost_items[0]} undelivered, {lost_items[1]} marked but never shown; repeated "
            f"messages: {crash.get('repeated_messages', '?')} (at most "
            f"{crash.get('max_repeats_per_chat_per_kill', '?')} per chat per kill); integrity "
            f"failures: {crash.get('integrity_failures', '?')}",
        ),
        (
            "Telegram faults",
            f"{faults.get('messages_expected', '?')} digest messages with 10 % of requests "
            f"failing ({_kinds(faults)}), 20 % of them applied with the answer lost; a blocked "
            "and a vanished chat",
            f"lost messages: {faults.get('lost_messages', '?')}; altered: "
            f"{faults.get('altered_messages', '?')}; duplicates: "
            f"{faults.get('duplicates_explained_by_lost_answers', '?')} (all after a lost "
            f"answer), unexplained: {faults.get('unexplained_duplicates', '?')}; commands "
            f"answered within 3 s meanwhile: {faults.get('commands_answered_during_faults', '?')}",
        ),
        (
            "Hostile input",
            f"{fuzz_cases} generated fuzz cases and the nasty-input corpus over "
            f"{ran('test_hostile_input')} tests",
            f"escaped exceptions: {failed('test_hostile_input')}",
        ),
        (
            "Access control",
            f"{ran('test_access_control')} tests (admin commands, group settings, other chats' "
            "subscriptions, forged callback data, channels)",
            f"access-control failures: {failed('test_access_control')}",
        ),
        (
            "Network safety and secrets",
            f"{ran('test_network_safety') + ran('test_secrets')} tests (SSRF forms, redirects, "
            "size and time caps, token in logs)",
            f"failures: {failed('test_network_safety') + failed('test_secrets')}",
        ),
        (
            "Load",
            f"{load.get('users', '?')} users for {load.get('seconds', '?')} s "
            f"({load.get('commands_answered', '?')} commands) while feeds delivered "
            f"{load.get('articles_published', '?')} articles; Telegram's flood limits on",
            f"unanswered: {load.get('commands_unanswered', '?')}; p50 "
            f"{load.get('latency_p50_s', '?')} s, p99 {load.get('latency_p99_s', '?')} s; RSS "
            f"{load.get('rss_after_warmup_mb', '?')} MB after warm-up, +"
            f"{load.get('rss_growth_mb', '?')} MB by the end",
        ),
    ]
    lines = ["| Area | What was tried | What held |", "| --- | --- | --- |"]
    lines += [f"| {area} | {tried} | {held} |" for area, tried, held in rows]
    return "\n".join(lines)


def _phases(crash: dict[str, Any]) -> str:
    phases = crash.get("kills_by_phase", {})
    return ", ".join(f"{count} {phase}" for phase, count in sorted(phases.items())) or "?"


def _kinds(faults: dict[str, Any]) -> str:
    kinds = faults.get("faults_by_kind", {})
    return ", ".join(f"{count}× {kind}" for kind, count in sorted(kinds.items())) or "?"


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as folder:
        junit = Path(folder) / "junit.xml"
        env = {
            **os.environ,
            "ATTACHE_RELIABILITY": os.environ.get("ATTACHE_RELIABILITY", "full"),
            "ATTACHE_RELIABILITY_OUT": folder,
        }
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-s",
            "--hypothesis-show-statistics",
            f"--junitxml={junit}",
            "tests/reliability",
            *argv,
        ]
        run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        # The whole pytest output (failures, hypothesis statistics) next to the figures.
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.with_suffix(".log").write_text(run.stdout + run.stderr)
        sys.stderr.write(run.stdout[-4000:])
        figures = {
            path.stem: json.loads(path.read_text()) for path in sorted(Path(folder).glob("*.json"))
        }
        files = outcomes(junit) if junit.exists() else {}
    fuzz_cases = sum(int(n) for n in _PASSING.findall(run.stdout))
    markdown = table(figures, files, fuzz_cases)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "mode": env["ATTACHE_RELIABILITY"],
                "pytest_exit_status": run.returncode,
                "tests": {name: dict(counts) for name, counts in files.items()},
                "fuzz_cases": fuzz_cases,
                **figures,
                "table": markdown,
            },
            indent=2,
        )
        + "\n"
    )
    print(markdown)
    print(f"\nwritten to {OUT.relative_to(ROOT)}; pytest exit status {run.returncode}")
    return run.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
