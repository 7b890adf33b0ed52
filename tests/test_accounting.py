"""§3.3 bit accounting."""
from cmvc.accounting import account
from cmvc.parse import parse
from cmvc.validate import validate
from streams import sample_stream


def test_every_bit_accounted():
    data = sample_stream()
    acc = account(parse(data))
    t = acc["totals"]
    assert t["R_k"] + t["R_m"] + t["overhead"] == 8 * len(data) == t["sum"]
    assert t["eq2"]["R_k"] + t["eq2"]["R_m"] == 8 * len(data)
    assert sum(u["bits"] for u in acc["units"]) + 96 == 8 * len(data)
    assert t["R_k"] == 3 * 8 * (len(b"\x89PNG-not-decoded") + 2)  # data + frame_index + codec_id
    assert acc["rate"]["bpp"] == 8 * len(data) / (176 * 144 * 10)


def test_invalid_stream_still_accounted():
    data = sample_stream()[:-20]
    acc = account(validate(data).stream)
    assert acc["totals"]["sum"] == 8 * len(data)
