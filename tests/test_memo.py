"""sensor.memo: values made once per key, within a bound."""

from __future__ import annotations

from sensor.memo import BoundedMemo, RecentMemo


class Maker:
    """A value per key (a new list, so that a value handed out again is the same object), recording each key."""

    def __init__(self) -> None:
        self.made: list[object] = []

    def __call__(self, key: bytes | str) -> list[bytes | str]:
        self.made.append(key)
        return [key]


def test_a_bounded_memo_makes_each_value_once_and_forgets_all_at_its_bound() -> None:
    make = Maker()
    memo: BoundedMemo[str, list[bytes | str]] = BoundedMemo(make, 2)
    assert [memo["a"], memo["a"], memo["b"], memo["c"], memo["a"]] == [["a"], ["a"], ["b"], ["c"], ["a"]]
    assert make.made == ["a", "b", "c", "a"]  # "c" found the memo full: "a" was made again


def test_a_recent_memo_hands_back_the_value_made_for_equal_bytes() -> None:
    make = Maker()
    memo = RecentMemo(make, 100, recent=2)
    first = memo[b"context one"]
    assert memo[bytes(bytearray(b"context one"))] is first  # equal bytes, another object
    assert memo.get(b"context two") is None
    assert memo[b"context two"] == [b"context two"]
    assert make.made == [b"context one", b"context two"]


def test_a_recent_memo_finds_a_key_pushed_out_of_its_recent_few_by_hash() -> None:
    make = Maker()
    memo = RecentMemo(make, 100, recent=2)
    first = memo[b"a"]
    for key in (b"b", b"c", b"d"):  # b"a" is no longer among the last two
        memo[key]
    assert memo.get(b"a") is first
    assert memo[b"a"] is first
    assert make.made == [b"a", b"b", b"c", b"d"]


def test_a_recent_memo_makes_values_again_past_its_bound() -> None:
    make = Maker()
    memo = RecentMemo(make, 2, recent=1)
    for key in (b"a", b"b", b"c"):  # the memo forgot all at b"c"; only b"c" is recent
        memo[key]
    assert memo[b"a"] == [b"a"]
    assert make.made == [b"a", b"b", b"c", b"a"]
