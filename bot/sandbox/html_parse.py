"""Telegram's ``parse_mode=HTML``: text with tags -> plain text plus message entities.

Telegram does not parse HTML the way a browser does. It accepts a short list of tags, insists
that every tag is closed and properly nested, and knows only four named character references
(``&lt; &gt; &amp; &quot;``) plus numeric ones; anything else is an error or literal text. A
browser-grade parser (``html.parser``) forgives exactly the mistakes Telegram rejects, so this
module follows the rules of Telegram's own parser (tdlib ``parse_html``) instead, with the same
error wording and UTF-8 byte offsets. Entity offsets and lengths are in UTF-16 code units, as
the Bot API documents.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Tag name -> entity type. ``span`` is only allowed as ``<span class="tg-spoiler">``.
TAG_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}

_NAMED_REFERENCES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_WHITESPACE = " \t\r\n"


class EntityParseError(ValueError):
    """The text is not valid Telegram HTML; ``str(error)`` is Telegram's wording."""


@dataclass(frozen=True, slots=True)
class MessageEntity:
    """A Bot API MessageEntity; ``offset`` and ``length`` count UTF-16 code units."""

    type: str
    offset: int
    length: int
    url: str | None = None
    language: str | None = None
    custom_emoji_id: str | None = None

    def to_api(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type, "offset": self.offset, "length": self.length}
        if self.url is not None:
            data["url"] = self.url
        if self.language is not None:
            data["language"] = self.language
        if self.custom_emoji_id is not None:
            data["custom_emoji_id"] = self.custom_emoji_id
        return data


@dataclass(slots=True)
class _OpenTag:
    name: str
    start: int  # UTF-16 offset in the output
    out_index: int  # index in the output pieces, to recover the tag's inner text
    order: int  # how many tags opened before this one
    attributes: dict[str, str]
    language: str | None = None


def utf16_length(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (how Telegram counts entity offsets)."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8", "surrogatepass"))


def _is_name_char(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char in "-_")


def _decode_reference(source: str, start: int) -> tuple[str, int] | None:
    """Decode the character reference at ``source[start] == '&'`` like Telegram does.

    The closing semicolon is optional; an unknown or invalid reference returns None and the
    ampersand stays literal text.
    """
    end = start + 1
    code_point = 0
    if source.startswith("&#", start):
        end += 1
        hexadecimal = source.startswith("x", end) or source.startswith("X", end)
        if hexadecimal:
            end += 1
        base = 16 if hexadecimal else 10
        digits_start = end
        digits = "0123456789abcdefABCDEF" if hexadecimal else "0123456789"
        while end < len(source) and source[end] in digits:
            code_point = code_point * base + int(source[end], base)
            if code_point >= 0x10FFFF:
                return None
            end += 1
        if end == digits_start or code_point == 0 or 0xD800 <= code_point <= 0xDFFF:
            return None
        decoded = chr(code_point)
    else:
        while end < len(source) and source[end].isascii() and source[end].isalpha():
            end += 1
        name = source[start + 1 : end]
        if name not in _NAMED_REFERENCES:
            return None
        decoded = _NAMED_REFERENCES[name]
    if source.startswith(";", end):
        end += 1
    return decoded, end


def _decode_attribute(value: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(value):
        if value[index] == "&":
            decoded = _decode_reference(value, index)
            if decoded is not None:
                out.append(decoded[0])
                index = decoded[1]
                continue
        out.append(value[index])
        index += 1
    return "".join(out)


def _skip_space(source: str, index: int) -> int:
    while index < len(source) and source[index] in _WHITESPACE:
        index += 1
    return index


def _parse_attributes(source: str, index: int, tag: str, begin: int) -> tuple[dict[str, str], int]:
    """Parse ``name="value"`` pairs up to and including ``>``; return them and the next index."""
    attributes: dict[str, str] = {}
    while True:
        index = _skip_space(source, index)
        if index >= len(source):
            raise EntityParseError(
                f"Unclosed start tag at byte offset {_byte_offset(source, begin)}"
            )
        if source[index] == ">":
            return attributes, index + 1
        name_end = index
        while name_end < len(source) and _is_name_char(source[name_end]):
            name_end += 1
        if name_end == index:
            raise EntityParseError(
                f'Empty attribute name in the tag "{tag}" at byte offset '
                f"{_byte_offset(source, begin)}"
            )
        name = source[index:name_end].lower()
        index = _skip_space(source, name_end)
        value = ""
        if index < len(source) and source[index] == "=":
            index = _skip_space(source, index + 1)
            if index >= len(source):
                raise EntityParseError(
                    f"Unclosed start tag at byte offset {_byte_offset(source, begin)}"
                )
            if source[index] in "'\"":
                closing = source.find(source[index], index + 1)
                if closing < 0:
                    raise EntityParseError(
                        f"Unclosed start tag at byte offset {_byte_offset(source, begin)}"
                    )
                value = _decode_attribute(source[index + 1 : closing])
                index = closing + 1
            else:
                value_end = index
                while value_end < len(source) and source[value_end] not in _WHITESPACE + ">":
                    value_end += 1
                value = _decode_attribute(source[index:value_end])
                index = value_end
        attributes[name] = value


def _close(tag: _OpenTag, end: int, text: str, parent: _OpenTag | None) -> list[MessageEntity]:
    """Entities produced by closing ``tag`` at UTF-16 offset ``end``."""
    length = end - tag.start
    if tag.name == "code" and parent is not None and parent.name == "pre":
        css_class = tag.attributes.get("class", "")
        if css_class.startswith("language-") and parent.start == tag.start:
            # <pre><code class="language-x"> is one pre entity with a language.
            parent.language = css_class.removeprefix("language-")
            return []
    if length == 0:
        return []  # Telegram drops empty entities.
    entity_type = TAG_ENTITY_TYPES[tag.name]
    if tag.name == "a":
        url = tag.attributes.get("href", "") or text
        return [MessageEntity("text_link", tag.start, length, url=url)]
    if tag.name == "pre":
        return [MessageEntity("pre", tag.start, length, language=tag.language)]
    if tag.name == "tg-emoji":
        return [
            MessageEntity(
                "custom_emoji", tag.start, length, custom_emoji_id=tag.attributes["emoji-id"]
            )
        ]
    if tag.name == "blockquote" and "expandable" in tag.attributes:
        return [MessageEntity("expandable_blockquote", tag.start, length)]
    return [MessageEntity(entity_type, tag.start, length)]


def parse_message_html(source: str) -> tuple[str, list[MessageEntity]]:
    """Parse Telegram HTML into ``(plain_text, entities)``.

    Raises:
        EntityParseError: with Telegram's description (without the "Bad Request: can't parse
            entities: " prefix), e.g. ``Unsupported start tag "div" at byte offset 0``.
    """
    out: list[str] = []
    position = 0  # UTF-16 length of ``out``
    stack: list[_OpenTag] = []
    # (opening order, entity): equal spans keep the outer tag first, as Telegram lists them.
    entities: list[tuple[int, MessageEntity]] = []
    opened = 0
    index = 0
    while index < len(source):
        char = source[index]
        if char == "&":
            decoded = _decode_reference(source, index)
            if decoded is not None:
                out.append(decoded[0])
                position += utf16_length(decoded[0])
                index = decoded[1]
                continue
        if char != "<":
            out.append(char)
            position += 2 if ord(char) > 0xFFFF else 1
            index += 1
            continue
        begin = index
        index += 1
        is_end_tag = source.startswith("/", index)
        if is_end_tag:
            index += 1
        name_end = index
        while name_end < len(source) and _is_name_char(source[name_end]):
            name_end += 1
        name = source[index:name_end].lower()
        index = name_end
        if is_end_tag:
            index = _skip_space(source, index)
            if not source.startswith(">", index):
                raise EntityParseError(
                    f"Unclosed end tag at byte offset {_byte_offset(source, begin)}"
                )
            index += 1
            if not stack:
                raise EntityParseError(
                    f"Unexpected end tag at byte offset {_byte_offset(source, begin)}"
                )
            top = stack.pop()
            if name != top.name:
                raise EntityParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(source, begin)}, "
                    f'expected "</{top.name}>", found "</{name}>"'
                )
            inner_text = "".join(out[top.out_index :])
            closed = _close(top, position, inner_text, stack[-1] if stack else None)
            entities.extend((top.order, entity) for entity in closed)
            continue
        if name not in TAG_ENTITY_TYPES:
            raise EntityParseError(
                f'Unsupported start tag "{name}" at byte offset {_byte_offset(source, begin)}'
            )
        attributes, index = _parse_attributes(source, index, name, begin)
        if name == "span" and attributes.get("class") != "tg-spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset '
                f"{_byte_offset(source, begin)}"
            )
        if name == "tg-emoji" and not attributes.get("emoji-id", "").isdigit():
            raise EntityParseError(
                f"Expected custom emoji identifier at byte offset {_byte_offset(source, begin)}"
            )
        stack.append(_OpenTag(name, position, len(out), opened, attributes))
        opened += 1
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    entities.sort(key=lambda item: (item[1].offset, -item[1].length, item[0]))
    return "".join(out), [entity for _, entity in entities]
