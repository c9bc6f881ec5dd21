"""Name folding and lookup keys: scripts, spelling variants, word order, possessives."""

from __future__ import annotations

from bot.nlp.names import alias_keys, lookup_keys, person_key


def test_first_name_variants_fold_to_one_key() -> None:
    assert person_key("Sergey Lavrov") == person_key("Sergei Lavrov") == "person:sergei lavrov"
    assert person_key("Siarhei Lavrov") == person_key("Serguei Lavrov")
    assert person_key("Aleksandr Lukashenko") == person_key("Alexander Lukashenko")
    assert person_key("Evgeny Primakov") == person_key("Yevgeny Primakov")


def test_cyrillic_is_transliterated() -> None:
    assert person_key("Сергей Лавров") == "person:sergei lavrov"
    assert lookup_keys("Лавров") == ("lavrov",)
    assert person_key("Александр Лукашенко") == person_key("Alexander Lukashenko")


def test_word_order_case_diacritics_and_possessive() -> None:
    assert lookup_keys("Lavrov, Sergei")[0] == "sergei lavrov"
    assert lookup_keys("SERGEI LAVROV")[0] == "sergei lavrov"
    assert lookup_keys("Lavrov's") == ("lavrov",)
    assert person_key("Mevlüt Çavuşoğlu") == "person:mevlut cavusoglu"


def test_titles_are_not_part_of_the_key() -> None:
    assert person_key("Foreign Minister Sergei Lavrov") == "person:sergei lavrov"
    assert person_key("Mr. Lavrov") == "person:lavrov"


def test_aliases_and_lookup_order() -> None:
    assert alias_keys("Sergei V. Lavrov") == (
        "sergei v lavrov",
        "sergei lavrov",
        "s lavrov",
        "lavrov",
    )
    assert lookup_keys("S. Lavrov") == ("s lavrov", "lavrov")
    assert lookup_keys("Sergey Lavrov") == ("sergei lavrov", "s lavrov", "lavrov")
    assert lookup_keys("") == ()


def test_shared_surname_different_people() -> None:
    assert person_key("Kim Jong Un") != person_key("Kim Yo Jong")
    assert "lavrov" in alias_keys("Sergei Lavrov")
    assert person_key("Sergei Lavrov") != person_key("Ivan Lavrov")
