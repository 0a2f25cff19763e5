"""Bounded memos for the hot path: the same few values (comms, paths, credential sets, contexts) recur."""

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


class RecentMemo(Generic[V]):
    """A :class:`BoundedMemo` for long byte strings: the last few keys are compared whole before any
    is hashed.

    A key of some 700 bytes (a process's context on the wire, most of it ancestors) costs its hash
    on every lookup, since each is a new bytes object; a stream of events shares a handful of such
    keys, and keys that differ differ in length or early on, so a few compares find it for less.
    """

    def __init__(self, make: Callable[[bytes], V], bound: int, recent: int = 8) -> None:
        self._memo: BoundedMemo[bytes, V] = BoundedMemo(make, bound)
        self._recent = recent
        self._keys: list[bytes] = []
        self._values: list[V] = []
        self._next = 0  # the slot the next key found by hash takes, once all are taken

    def get(self, key: bytes) -> V | None:
        """The value made for ``key`` if it was made (and not forgotten since), else None."""
        keys = self._keys
        for i in range(len(keys)):
            if keys[i] == key:
                return self._values[i]
        value = self._memo.get(key)
        if value is not None:
            self._keep(key, value)
        return value

    def __getitem__(self, key: bytes) -> V:
        value = self.get(key)
        if value is None:
            value = self._memo[key]
            self._keep(key, value)
        return value

    def _keep(self, key: bytes, value: V) -> None:
        if len(self._keys) < self._recent:
            self._keys.append(key)
            self._values.append(value)
            return
        self._keys[self._next] = key
        self._values[self._next] = value
        self._next = (self._next + 1) % self._recent
