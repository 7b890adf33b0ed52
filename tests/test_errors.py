from cmvc.errors import ERROR_CODES, BitstreamError, CmvcError, ResourceError, UsageError, error


def test_codes_stable_and_classes():
    assert all(len(c) == 4 and c[0] == "E" for c in ERROR_CODES)
    assert isinstance(error("E002", "x"), BitstreamError)
    assert isinstance(error("E101", "x"), UsageError)
    assert isinstance(error("E201", "x"), ResourceError)
    e = error("TRUNCATED", "m", offset=3, path="a")
    assert e.code == "E002" and str(e) == "E002 TRUNCATED at byte 3, a: m"
    e.relocate(10, "units[1]")
    assert e.offset == 13 and e.path == "units[1].a" and isinstance(e, CmvcError)
