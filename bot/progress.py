"""A progress bar on stderr for long CLI jobs; silent when stderr is not a terminal."""

from __future__ import annotations

import sys
from types import TracebackType

from tqdm import tqdm


class Progress:
    """Context manager around tqdm that the services can call through ``advance(n)``."""

    def __init__(self, label: str, *, unit: str, total: int | None = None) -> None:
        self._bar = tqdm(
            total=total, desc=label, unit=unit, file=sys.stderr, disable=not sys.stderr.isatty()
        )

    def advance(self, count: int) -> None:
        self._bar.update(count)

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._bar.close()
