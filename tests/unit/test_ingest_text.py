"""bot.ingest.text: the seed wire article and other dateline forms."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.ingest.model import IngestError
from bot.ingest.text import find_attribution, parse_dateline, parse_text, resolve_date

FIXTURES = Path(__file__).parents[1] / "fixtures"
SEED = (FIXTURES / "seed_kazinform.txt").read_text(encoding="utf-8")
SEED_TITLE = "Eurasian integration named one of priorities of Russia, Belarus"
NOW = datetime(2024, 11, 5, 12, 0, tzinfo=UTC)


def test_seed_title_dateline_and_attribution() -> None:
    article = parse_text(SEED, now=NOW)
    assert article.title == SEED_TITLE
    assert article.dateline_place == "Minsk"
    assert article.agency == "Kazinform"
    assert article.attribution == "BelTA"
    assert article.published_at == datetime(2024, 10, 30, tzinfo=UTC)
    assert article.source == "Kazinform"
    assert article.lang == "en"


def test_seed_boilerplate_and_dateline_are_gone_from_the_body() -> None:
    article = parse_text(SEED, now=NOW)
    assert article.text.startswith("The development of Eurasian integration is one of")
    assert "News and Events" not in article.text
    assert "Read more" not in article.text
    assert SEED_TITLE not in article.text
    assert "KAZINFORM" not in article.text
    assert article.text.endswith("added Sergei Lavrov.")
    # The attribution stays in the text; it is also kept as metadata.
    assert "Sergei Lavrov noted BelTA reports." in article.text  # the no-break space is folded
    assert article.text.count("\n\n") == 8  # nine paragraphs


@pytest.mark.parametrize(
    ("now", "year"),
    [
        (datetime(2024, 11, 5, tzinfo=UTC), 2024),
        (datetime(2024, 10, 30, 23, 59, tzinfo=UTC), 2024),
        # Minsk is already on October 30 while UTC is still on the 29th.
        (datetime(2024, 10, 29, 22, 0, tzinfo=UTC), 2024),
        (datetime(2024, 10, 28, tzinfo=UTC), 2023),
        (datetime(2025, 3, 1, tzinfo=UTC), 2024),
        (datetime(2020, 1, 1, tzinfo=UTC), 2019),
    ],
)
def test_seed_date_takes_the_most_recent_october_30(now: datetime, year: int) -> None:
    assert parse_text(SEED, now=now).published_at == datetime(year, 10, 30, tzinfo=UTC)


def test_february_29_without_a_year_goes_back_to_a_leap_year() -> None:
    assert resolve_date(2, 29, None, now=datetime(2023, 6, 1, tzinfo=UTC)) == date(2020, 2, 29)
    assert resolve_date(2, 30, 2024, now=NOW) is None


def test_explicit_published_time_wins_over_the_dateline() -> None:
    stamp = datetime(2019, 10, 30, 8, 25, tzinfo=UTC)
    article = parse_text(SEED, now=NOW, published_at=stamp, source="inform.kz")
    assert article.published_at == stamp
    assert article.source == "inform.kz"


@pytest.mark.parametrize(
    ("line", "place", "day", "agency", "rest"),
    [
        (
            "WASHINGTON (Reuters) - The United States on Monday urged restraint.",
            "Washington",
            None,
            "Reuters",
            "The United States on Monday urged restraint.",
        ),
        (
            "ASTANA, 12 March 2024 — Kazakhstan and China signed a visa-free travel agreement.",
            "Astana",
            date(2024, 3, 12),
            None,
            "Kazakhstan and China signed a visa-free travel agreement.",
        ),
        (
            "MOSCOW, Oct 30 /TASS/ - Russian Foreign Minister Sergey Lavrov met his counterpart.",
            "Moscow",
            date(2024, 10, 30),
            "TASS",
            "Russian Foreign Minister Sergey Lavrov met his counterpart.",
        ),
        (
            "BEIJING, Oct. 30 (Xinhua) -- Chinese Foreign Minister Wang Yi held talks.",
            "Beijing",
            date(2024, 10, 30),
            "Xinhua",
            "Chinese Foreign Minister Wang Yi held talks.",
        ),
        (
            "NUR-SULTAN. KAZINFORM - President Tokayev received the ambassador.",
            "Nur-Sultan",
            None,
            "Kazinform",
            "President Tokayev received the ambassador.",
        ),
        (
            "UNITED NATIONS, Oct 30 (AP) — The Security Council met on Ukraine.",
            "United Nations",
            date(2024, 10, 30),
            "AP",
            "The Security Council met on Ukraine.",
        ),
        (
            "KYIV, 30.10.2023 (Ukrinform) - The foreign minister spoke.",
            "Kyiv",
            date(2023, 10, 30),
            "Ukrinform",
            "The foreign minister spoke.",
        ),
    ],
)
def test_dateline_forms(
    line: str, place: str, day: date | None, agency: str | None, rest: str
) -> None:
    dateline = parse_dateline(line, now=NOW)
    assert dateline is not None
    assert (dateline.place, dateline.published, dateline.agency, dateline.rest) == (
        place,
        day,
        agency,
        rest,
    )


@pytest.mark.parametrize(
    "line",
    [
        "NATO (North Atlantic Treaty Organization) members met in Brussels.",
        "MINSK. October 30. NATO said nothing.",
        "US and UK agree on a new sanctions package.",
        "The development of Eurasian integration is one of the priorities.",
        "THE WHITE HOUSE said on Monday that talks would continue.",
    ],
)
def test_sentences_are_not_datelines(line: str) -> None:
    assert parse_dateline(line, now=NOW) is None


@pytest.mark.parametrize(
    ("text", "agency"),
    [
        ("Sergei Lavrov noted, BelTA reports.", "BelTA"),
        ("The talks will continue next week, reports TASS.", "TASS"),
        ("According to Xinhua, the sides signed six documents.", "Xinhua"),
        ("The minister said so, Trend reported.", "Trend"),
        ("According to Sergei Lavrov, the format is essential.", None),
        ("The meeting was productive, the minister said.", None),
    ],
)
def test_attribution(text: str, agency: str | None) -> None:
    assert find_attribution(text) == agency


def test_wire_text_without_headline_gets_a_title_from_its_first_sentence() -> None:
    text = (
        "MOSCOW, Oct 30 /TASS/ - Russia and Belarus will coordinate their positions at the OSCE, "
        "Russian Foreign Minister Sergei Lavrov said on Wednesday. He met Belarusian Foreign "
        "Minister Vladimir Makei in Minsk."
    )
    article = parse_text(text, now=NOW)
    assert article.title.startswith("Russia and Belarus will coordinate their positions")
    assert article.agency == "TASS"
    assert article.dateline_place == "Moscow"
    assert article.text.startswith("Russia and Belarus")


@pytest.mark.parametrize("text", ["", "   \n\n", "News and Events\nRead more here\n"])
def test_empty_text_is_refused(text: str) -> None:
    with pytest.raises(IngestError, match="empty"):
        parse_text(text, now=NOW)


def test_short_text_is_refused_with_a_clear_message() -> None:
    with pytest.raises(IngestError, match="too short to be an article"):
        parse_text("Lavrov arrives in Minsk\nTalks start today.", now=NOW)


def test_russian_text_is_marked_russian() -> None:
    text = (
        "Лавров назвал евразийскую интеграцию приоритетом\n"
        "МИНСК, 30 октября. Развитие евразийской интеграции является одним из приоритетов России "
        "и Беларуси, заявил министр иностранных дел России Сергей Лавров."
    )
    article = parse_text(text, now=NOW)
    assert article.lang == "ru"
    assert article.title == "Лавров назвал евразийскую интеграцию приоритетом"
