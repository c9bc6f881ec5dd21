"""The Bot API's HTTP wire format: request parameters in, error answers out.

PTB sends a method's parameters as a form (non-string values JSON-encoded) or as a JSON body,
and Telegram answers failures with ``{"ok": false, "error_code", "description"}``. This module
holds both ends so that the method implementations deal only in typed values and
:class:`ApiError`.
"""

from __future__ import annotations

import json

from aiohttp import web

from bot.sandbox.models import JSONDict


class ApiError(Exception):
    """A Bot API error answer: HTTP ``status`` with Telegram's ``description``."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def to_response(self) -> web.Response:
        body: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return web.json_response(body, status=self.status)


def bad_request(reason: str) -> ApiError:
    """A 400 answer worded like Telegram's: ``Bad Request: {reason}``."""
    return ApiError(400, f"Bad Request: {reason}")


class Params:
    """Request parameters from the query string, a form or a JSON body.

    Form values arrive as strings with non-string values JSON-encoded (how PTB sends them);
    JSON bodies carry typed values. The typed getters accept both.
    """

    def __init__(self, values: dict[str, object]) -> None:
        self.values = values

    def has(self, name: str) -> bool:
        return self.values.get(name) not in (None, "")

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def integer(self, name: str, *, required: bool = False) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise bad_request(f"{name} is empty")
            return None
        if isinstance(value, bool):
            raise bad_request(f"wrong parameter {name} specified")
        if isinstance(value, int):
            return value
        try:
            return int(str(value))
        except ValueError:
            raise bad_request(f"wrong parameter {name} specified") from None

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    def json(self, name: str) -> object:
        """A structured parameter (object or array): decoded when it came as a JSON string."""
        value = self.values.get(name)
        if isinstance(value, str):
            try:
                decoded: object = json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {name} JSON object") from None
            return decoded
        return value

    def chat_id(self) -> int | str:
        """``chat_id`` as an int, or an ``@channelusername`` string."""
        value = self.values.get("chat_id")
        if value is None or value == "":
            raise bad_request("chat_id is empty")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value)
        try:
            return int(text)
        except ValueError:
            if text.startswith("@"):
                return text
            raise bad_request("chat not found") from None


async def read_params(request: web.Request) -> Params:
    """The parameters of one Bot API request, wherever and however PTB put them."""
    values: dict[str, object] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise bad_request("can't parse JSON request body") from None
            if not isinstance(body, dict):
                raise bad_request("JSON request body must be an object")
            values.update(body)
        elif request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            form = await request.post()
            for name, value in form.items():
                if isinstance(value, web.FileField):
                    # An uploaded file: keep its name only and close the temporary file.
                    values[name] = value.filename
                    value.file.close()
                elif isinstance(value, str):
                    values[name] = value
                else:
                    values[name] = bytes(value).decode("utf-8", "replace")
    return Params(values)
