"""Values and helpers shared by the ISA generators."""

from __future__ import annotations

M32 = 0xFFFFFFFF

# Word values that sit on the edges of arithmetic: signed and unsigned
# overflow, halfword and byte lane boundaries, all-ones and zero.
INTERESTING = (
    0x00000000, 0x00000001, 0x00000002, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
    0xFFFFFFFE, 0x80000001, 0x00007FFF, 0x00008000, 0x0000FFFF, 0x00010000,
    0xFFFF8000, 0xFFFF7FFF, 0x7FFF7FFF, 0x80008000, 0x7FFF8000, 0x80007FFF,
    0xFFFFFFFF, 0x7F7F7F7F, 0x80808080, 0x00FF00FF, 0xFF00FF00, 0x01010101,
    0xFEFEFEFE,
)


def register_value(rng) -> int:
    """An initial register value: special values, small numbers, words."""
    r = rng.random()
    if r < 0.35:
        return rng.choice(INTERESTING)
    if r < 0.55:
        return rng.randrange(0, 64)
    if r < 0.65:
        return (-rng.randrange(1, 64)) & M32
    return rng.getrandbits(32)


def shift_amount_value(rng) -> int:
    """A value for a shift-amount register: only bits [7:0] count, so cover
    0..33 (the edges at 0, 31, 32 and 33) and large amounts, with random
    upper bits that the instruction must ignore."""
    amount = rng.choice(list(range(0, 34)) + [63, 64, 127, 128, 200, 255])
    upper = rng.choice((0, 0, rng.getrandbits(24)))
    return (upper << 8) | amount
