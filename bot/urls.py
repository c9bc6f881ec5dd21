"""What counts as a web address: decided here once, for settings, commands and rendering.

Two questions with two answers: ``has_http_scheme`` (the text is *meant* as an http(s) URL, so
it is fetched and any problem reported) and ``is_http_url`` (a message that is just a link and
nothing else). A leaf module, so that settings can use it as well as the handlers.
"""

from __future__ import annotations

import re

_WHOLE_HTTP_URL = re.compile(r"https?://\S+")


def has_http_scheme(text: str) -> bool:
    """Whether ``text`` starts with ``http://`` or ``https://``: it is meant as a web address.

    Only the prefix is looked at, exactly as written (lower-case scheme, nothing trimmed); a URL
    that passes may still be unusable (no host...), which fetching it then reports.
    """
    return text.startswith(("http://", "https://"))


def is_http_url(text: str) -> bool:
    """Whether ``text``, whitespace-trimmed, is one http(s) URL and nothing else.

    That is ``http://`` or ``https://`` (lower-case) and then at least one character, with no
    whitespace anywhere: a message that is just a link. Whether the host is usable is left to
    fetching, which says what is wrong.
    """
    return _WHOLE_HTTP_URL.fullmatch(text.strip()) is not None
