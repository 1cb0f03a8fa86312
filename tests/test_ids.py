"""ULIDs: format, time order, monotonic within a millisecond, thread safety."""

from __future__ import annotations

import threading

import pytest

from bot.ids import CROCKFORD, UlidGenerator, encode_ulid, new_ulid


def decode_ulid(ulid: str) -> tuple[int, int]:
    """(milliseconds, randomness): the reading the ULID spec defines, to check the encoding."""
    value = 0
    for char in ulid.upper():
        value = (value << 5) | CROCKFORD.index(char)
    return value >> 80, value & (2**80 - 1)


def fixed_clock(*times: int) -> UlidGenerator:
    ticks = iter(times)
    return UlidGenerator(clock_ms=lambda: next(ticks), random_bits=lambda: 7)


def test_new_ulids_are_26_crockford_characters_and_unique() -> None:
    ids = [new_ulid() for _ in range(1000)]

    assert all(len(id_) == 26 and set(id_) <= set(CROCKFORD) for id_ in ids)
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)


def test_encoding_puts_time_first_and_randomness_last() -> None:
    assert encode_ulid(0, 0) == "0" * 26
    assert encode_ulid(1, 0) == "0" * 9 + "1" + "0" * 16
    assert encode_ulid(0, 31) == "0" * 25 + "Z"
    assert encode_ulid(2**48 - 1, 2**80 - 1) == "7" + "Z" * 25


@pytest.mark.parametrize(("ms", "randomness"), [(0, 0), (1_741_600_000_123, 12345), (5, 2**80 - 1)])
def test_decoding_inverts_encoding(ms: int, randomness: int) -> None:
    assert decode_ulid(encode_ulid(ms, randomness)) == (ms, randomness)
    assert decode_ulid(encode_ulid(ms, randomness).lower()) == (ms, randomness)


def test_out_of_range_parts_are_refused() -> None:
    with pytest.raises(ValueError, match="48 bits"):
        encode_ulid(2**48, 0)
    with pytest.raises(ValueError, match="80 bits"):
        encode_ulid(0, -1)


def test_ids_in_one_millisecond_count_up_from_the_random_start() -> None:
    generate = fixed_clock(1000, 1000, 1000)

    ids = [generate() for _ in range(3)]

    assert [decode_ulid(id_) for id_ in ids] == [(1000, 7), (1000, 8), (1000, 9)]


def test_a_clock_stepping_back_does_not_break_the_order() -> None:
    generate = fixed_clock(2000, 1500, 2001)

    ids = [generate() for _ in range(3)]

    assert ids == sorted(ids)
    assert [decode_ulid(id_)[0] for id_ in ids] == [2000, 2000, 2001]


def test_a_full_millisecond_borrows_the_next_one() -> None:
    generate = UlidGenerator(clock_ms=lambda: 10, random_bits=lambda: 2**80 - 1)

    first, second = generate(), generate()

    assert decode_ulid(first) == (10, 2**80 - 1)
    assert decode_ulid(second) == (11, 0)
    assert first < second


def test_threads_never_get_the_same_id() -> None:
    generate = UlidGenerator(clock_ms=lambda: 42)  # one millisecond: only the counter differs
    made: list[list[str]] = [[] for _ in range(4)]

    def work(bucket: list[str]) -> None:
        bucket.extend(generate() for _ in range(2000))

    threads = [threading.Thread(target=work, args=(bucket,)) for bucket in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    every = [id_ for bucket in made for id_ in bucket]
    assert len(set(every)) == len(every) == 8000
