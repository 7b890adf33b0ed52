"""§8.4-8.5 range ANS in plain integers: 64-bit state, 32-bit words, 24-bit probabilities.

The same coder as constriction's ``stack.AnsCoder`` (which CMVC-T1 calls); CMVC-B1 (§8.7) uses this
module because its tables change after every byte.  A *table* is a list of integer weights, each
>= 1, summing to 2^24.
"""
from __future__ import annotations

from ..errors import error

PRECISION = 24
TOTAL = 1 << PRECISION
SEAL = 1  # the encoder starts, and a decoder must end, in state 1 (§8.4 "End")
_M32 = (1 << 32) - 1


def encode(decisions: list[tuple[list[int], int]]) -> bytes:
    """§8.5: push the (table, index) decisions in reverse order; text_data as in §8.4."""
    state, words = SEAL, []
    for table, i in reversed(decisions):
        w, c = table[i], sum(table[:i])
        if (state >> 40) >= w:
            words.append(state & _M32)
            state >>= 32
        state = ((state // w) << PRECISION) | (c + state % w)
    words.append(state & _M32)
    if state >> 32:
        words.append(state >> 32)
    body = b"".join(x.to_bytes(4, "big") for x in words[:-1])
    return body + words[-1].to_bytes(4, "big").lstrip(b"\0")


class Decoder:
    """§8.4: reads text_data as a stack of 32-bit words; :meth:`decode` returns an index."""

    def __init__(self, data: bytes):
        self.words: list[int] = []
        if data:
            k = (len(data) + 3) // 4
            tail = data[4 * (k - 1):]
            if tail[0] == 0:
                raise error("E020", "the last word of text_data has a leading zero byte", offset=4 * (k - 1))
            self.words = [int.from_bytes(data[i:i + 4], "big") for i in range(0, 4 * (k - 1), 4)]
            self.words.append(int.from_bytes(tail, "big"))
        self.state = 0
        if self.words:
            self.state = self.words.pop()
            while self.words and self.state < (1 << 32):
                self.state = (self.state << 32) | self.words.pop()

    def decode(self, table: list[int]) -> int:
        q = self.state & (TOTAL - 1)
        c = 0
        for i, w in enumerate(table):
            if q < c + w:
                break
            c += w
        self.state = (self.state >> PRECISION) * w + (q - c)
        if self.state < (1 << 32) and self.words:
            self.state = (self.state << 32) | self.words.pop()
        return i

    def finished(self) -> bool:
        """§8.4 End: no word left and state 1."""
        return not self.words and self.state == SEAL
