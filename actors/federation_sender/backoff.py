"""How long to wait before retrying a destination that failed `failures` times in a row."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    first_ms: int = 2_000
    cap_ms: int = 3_600_000

    def delay_ms(self, failures: int) -> int:
        """Doubles with each failure from `first_ms`, never above `cap_ms`."""
        if failures <= 0:
            return 0
        # Bound the exponent so a destination dead for months does not make a huge int.
        return min(self.cap_ms, self.first_ms * (2 ** min(failures - 1, 40)))
