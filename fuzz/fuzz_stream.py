"""Coverage-guided fuzzing of parse / validate / decode with atheris (libFuzzer).

    python fuzz/fuzz_stream.py -max_total_time=60 fuzz/corpus conformance/streams conformance/invalid

Invariant: for any input, ``validate`` returns a report, ``account`` (what ``cmvc inspect`` prints)
succeeds on every stream whose file header and first unit parse, ``parse`` and ``decode`` either succeed or
raise :class:`cmvc.errors.CmvcError`; decode runs only on valid BLEND streams of at most 64k samples
per frame, 64 frames and 2^20 luma samples in all (the caps keep each execution fast; they admit the
17-frame VVC conformance stream). Any other exception is a
crash: libFuzzer writes the input to crash-<hash>, which becomes a regression stream in
conformance/ (see fuzz/README.md).
"""
import sys

import atheris

with atheris.instrument_imports(include=["cmvc"]):
    from cmvc.accounting import account
    from cmvc.decode import decode
    from cmvc.errors import CmvcError
    from cmvc.parse import crc32, parse
    from cmvc.registry import ReconProfile
    from cmvc.validate import validate


def repair_crcs(data: bytes) -> bytes:
    """Recompute header_crc and every unit_crc, so that mutations reach payload parsing."""
    b = bytearray(data)
    if len(b) < 12:
        return data
    b[8:12] = crc32(bytes(b[:8])).to_bytes(4, "big")
    pos = 12
    while pos + 2 < len(b):
        size, n, shift = 0, 0, 0
        while pos + 2 + n < len(b) and n < 5:
            byte = b[pos + 2 + n]
            size |= (byte & 0x7F) << shift
            shift += 7
            n += 1
            if not byte & 0x80:
                break
        end = pos + 2 + n + size
        if b[pos + 1] & 0x40:  # no_crc_flag: nothing to repair
            pos = end
            continue
        if end + 4 > len(b):
            break
        b[end:end + 4] = crc32(bytes(b[pos:end])).to_bytes(4, "big")
        pos = end + 4
    return bytes(b)


def check(data: bytes) -> None:
    rep = validate(data)
    if rep.stream.header is not None and rep.stream.units:  # as `cmvc inspect` does
        account(rep.stream)
    try:
        parse(data)
    except CmvcError:
        pass
    sh = rep.stream.sequence_header
    area = sh.width * sh.height if rep.valid else 0
    if rep.valid and sh.recon_profile == ReconProfile.BLEND and area <= 65536 and sh.frame_count <= 64 \
            and area * sh.frame_count <= 1 << 20:
        try:
            decode(data, verify=False)
        except CmvcError:
            pass


def test_one_input(data: bytes) -> None:
    check(data)
    fixed = repair_crcs(data)
    if fixed != data:
        check(fixed)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
