"""What a message may hold, by Telegram's rules: text, entities and inline keyboards.

Both sides of the sandbox need them. The bot side checks what the bot sends the way Telegram
does (texts are 1..4096 characters after trimming, HTML must parse, callback data is 1..64
bytes, ...) and answers a refusal with Telegram's wording; the user side adds the entities a
Telegram client would add to typed text (bot commands, URLs, @mentions).
"""

from __future__ import annotations

import re
from dataclasses import replace

from bot.sandbox.html_parse import (
    EntityParseError,
    MessageEntity,
    parse_message_html,
    utf16_length,
)
from bot.sandbox.models import JSONDict
from bot.sandbox.wire import bad_request

MAX_TEXT_LENGTH = 4096
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
_INLINE_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
#: A bot command as a Telegram client marks it: ``/cmd`` or ``/cmd@botname``.
COMMAND_PATTERN = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w@])")
_URL_PATTERN = re.compile(r"(?<!\S)https?://[^\s<>\"]+[^\s<>\".,;:!?)\]'»]")
_MENTION_PATTERN = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{5,32}\b")


#: What tdlib counts as nothing (``clean_input_string`` and ``strip_empty_characters``): control
#: characters, the spaces it turns into U+0020, zero-width characters and marks, tag characters.
_EMPTY_CHARACTERS = frozenset(
    [chr(code) for code in range(0x21)]
    + list("\u00a0\u030a\u0333\u033f\u1680\u180e\u202f\u205f\u2800\u3000\ufeff\ufffc")
    + [chr(code) for code in range(0x2000, 0x2010)]
    + [chr(code) for code in range(0x2028, 0x202F)]
    + [chr(code) for code in range(0xE0000, 0xE0080)]
)


def is_empty_text(text: str) -> bool:
    """Whether Telegram would refuse ``text`` as empty: Python's ``strip`` leaves nothing, or
    every character is one tdlib drops or treats as a space (e.g. U+200B, U+2800, U+0001)."""
    return not text.strip() or all(char in _EMPTY_CHARACTERS for char in text)


def _strip_text(text: str, entities: list[MessageEntity]) -> tuple[str, list[MessageEntity]]:
    """Telegram trims surrounding whitespace; shift and clip the entities to match."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = utf16_length(text[: len(text) - len(text.lstrip())])
    end = lead + utf16_length(stripped)
    kept: list[MessageEntity] = []
    for entity in entities:
        start = max(entity.offset, lead)
        stop = min(entity.offset + entity.length, end)
        if stop > start:
            kept.append(replace(entity, offset=start - lead, length=stop - start))
    return stripped, kept


def _entities_from_json(raw: object) -> list[MessageEntity]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise bad_request("can't parse entities JSON object")
    entities = []
    for item in raw:
        if not isinstance(item, dict) or not {"type", "offset", "length"} <= item.keys():
            raise bad_request("can't parse entities JSON object")
        entities.append(
            MessageEntity(
                type=str(item["type"]),
                offset=int(item["offset"]),
                length=int(item["length"]),
                url=item.get("url"),
                language=item.get("language"),
                custom_emoji_id=item.get("custom_emoji_id"),
            )
        )
    return entities


def format_text(
    text: str | None, parse_mode: str | None, entities_json: object = None
) -> tuple[str, list[MessageEntity]]:
    """Validate a message text as Telegram does; return the plain text and its entities.

    Raises:
        ApiError: 400 with Telegram's description (empty text, too long, unparsable HTML).
    """
    if not text:
        raise bad_request("message text is empty")
    mode = (parse_mode or "").lower()
    if mode == "html":
        try:
            plain, entities = parse_message_html(text)
        except EntityParseError as error:
            raise bad_request(f"can't parse entities: {error}") from None
    elif mode == "":
        plain, entities = text, _entities_from_json(entities_json)
    elif mode in ("markdown", "markdownv2"):
        raise bad_request(f"the sandbox server supports parse_mode HTML only, not {parse_mode}")
    else:
        raise bad_request("unsupported parse_mode")
    plain, entities = _strip_text(plain, entities)
    if is_empty_text(plain):
        raise bad_request("message text is empty")
    if len(plain) > MAX_TEXT_LENGTH:
        raise bad_request("message is too long")
    return plain, entities


def validate_reply_markup(raw: object) -> JSONDict | None:
    """Check a reply_markup like Telegram (inline buttons need an action; callback_data is
    1-64 bytes); return it as a dict."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in raw:
        if not {"keyboard", "remove_keyboard", "force_reply"} & raw.keys():
            raise bad_request("can't parse reply keyboard markup JSON object")
        return raw
    rows = raw["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(
            'can\'t parse inline keyboard button: field "inline_keyboard" '
            "must be an Array of Arrays"
        )
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise bad_request(
                    'can\'t parse inline keyboard button: Field "text" must be of type String'
                )
            if not button["text"]:
                raise bad_request("BUTTON_TEXT_INVALID")
            if not any(key in button for key in _INLINE_BUTTON_ACTIONS):
                raise bad_request(
                    "can't parse inline keyboard button: Text buttons are "
                    "unallowed in the inline keyboard"
                )
            data = button.get("callback_data")
            if data is not None and (
                not isinstance(data, str)
                or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES
            ):
                raise bad_request("BUTTON_DATA_INVALID")
            url = button.get("url")
            if url is not None and (
                not isinstance(url, str) or not url.startswith(("http://", "https://", "tg://"))
            ):
                raise bad_request(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")
    return raw


def detect_entities(text: str, *, commands: bool = True) -> list[MessageEntity]:
    """The entities a Telegram client adds to typed text: bot commands, URLs, @mentions."""
    found: list[MessageEntity] = []
    patterns = [("url", _URL_PATTERN), ("mention", _MENTION_PATTERN)]
    if commands:
        patterns.insert(0, ("bot_command", COMMAND_PATTERN))
    for entity_type, pattern in patterns:
        for match in pattern.finditer(text):
            found.append(
                MessageEntity(
                    entity_type,
                    utf16_length(text[: match.start()]),
                    utf16_length(match.group()),
                )
            )
    found.sort(key=lambda entity: (entity.offset, -entity.length))
    return found
