"""§8.8/§8.11 the bound: a caption never costs more than its UTF-8 bytes + 2 (coding_method,
num_tokens and text_data together), at every length, in a text unit as built by the writer."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cmvc.text as T
from cmvc.errors import CmvcError
from cmvc.levels import LEVELS
from cmvc.registry import TextMethod, TextRole
from cmvc.syntax import TextUnit
from cmvc.syntax.text_unit import TEXT_UNIT
from cmvc.write import needs_minor_3, needs_minor_4


def _cut(s: str, limit: int) -> str:
    """The longest prefix of *s* of at most *limit* UTF-8 bytes."""
    out, n = [], 0
    for c in s:
        k = len(c.encode("utf-8"))
        if n + k > limit:
            break
        out.append(c)
        n += k
    return "".join(out)


def _unit_cost(s: str) -> int:
    """Bytes of coding_method, num_tokens and text_data in the text unit the encoder writes."""
    method, num, data = T.encode_best(s)
    head = TEXT_UNIT.build(TextUnit(role=TextRole.GLOBAL, frame_start=0, frame_end=0, coding_method=method,
                                    num_tokens=num, text_data=b""))
    assert T.decode_text_unit(method, num, data) == s
    return len(head) - 3 + len(data)  # role, frame_start 0, frame_end 0: 3 bytes


@given(st.integers(0, 2000).flatmap(lambda n: st.tuples(st.just(n), st.text(min_size=n // 2, max_size=n))))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.data_too_large, HealthCheck.too_slow])
def test_never_more_than_utf8_plus_2_at_any_length(case):
    """Arbitrary Unicode of 0..2000 bytes (fails before 1.4: from 128 bytes UTF8 costs n + 3)."""
    limit, s = case
    s = _cut(s, limit)
    n = len(s.encode("utf-8"))
    assert _unit_cost(s) <= n + 2
    coded = T.encode(s)
    assert len(coded) <= n + 2
    assert T.decode(coded) == s


def _noise(n: int) -> str:
    """n bytes of hard-to-compress UTF-8: 4-byte characters, padded with ASCII."""
    s = _cut("".join(chr(0x10000 + (i * 7919) % 0xFFFF) for i in range(n)), n)
    return s + "\x7f" * (n - len(s.encode()))


@pytest.mark.parametrize("n", [0, 127, 128, 129, 2000, 16383, 16384, 20000])
def test_bound_at_the_leb128_steps(n):
    s = _noise(n)
    assert len(s.encode()) == n
    assert _unit_cost(s) <= n + 2
    assert len(T.encode(s)) <= n + 2


def test_utf8_sized_semantics():
    assert T.decode_text_unit(TextMethod.UTF8_SIZED, 0, "größer".encode()) == "größer"
    assert T.decode_text_unit(TextMethod.UTF8_SIZED, 0, b"") == ""
    with pytest.raises(CmvcError) as e:
        T.decode_text_unit(TextMethod.UTF8_SIZED, 6, b"abcdef")
    assert e.value.code == "E020"
    with pytest.raises(CmvcError) as e:
        T.decode_text_unit(TextMethod.UTF8_SIZED, 0, b"ab\xffcd")
    assert (e.value.code, e.value.offset) == ("E020", 2)


def test_minor_version_only_when_needed():
    """A short caption keeps UTF8 (1.1 syntax) on a tie; UTF8_SIZED makes the stream 1.4."""
    assert T.encode_best(_noise(100))[0] == TextMethod.UTF8
    long = _noise(300)
    m, num, data = T.encode_best(long)
    assert m == TextMethod.UTF8_SIZED and num == 0
    body = TextUnit(role=TextRole.GLOBAL, frame_start=0, frame_end=0, coding_method=m, num_tokens=num, text_data=data)
    assert needs_minor_4(3, body) and not needs_minor_3(3, body)
    assert len(data) <= LEVELS[max(LEVELS)].max_unit_size
