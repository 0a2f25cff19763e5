"""A bounded memo for the hot path: the same few values (comms, paths, credential sets) recur."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedMemo(dict[K, V], Generic[K, V]):
    """``memo[key]`` is ``make(key)``, made once; all is forgotten at ``bound`` keys (hot ones return at once)."""

    def __init__(self, make: Callable[[K], V], bound: int) -> None:
        super().__init__()
        self._make = make
        self._bound = bound

    def __missing__(self, key: K) -> V:
        if len(self) >= self._bound:
            self.clear()
        value = self[key] = self._make(key)
        return value
