"""Atomic outputs (tools/fileio.py): replaced only on success, with the mode a plain open() gives."""
import os
import stat

import pytest

from cmvc.tools.fileio import atomic_path, write_atomic


def test_atomic_output_has_the_umask_mode(tmp_path):
    out = tmp_path / "a.cmvc"
    write_atomic(out, b"x")
    plain = tmp_path / "plain"
    plain.write_bytes(b"x")
    assert stat.S_IMODE(os.stat(out).st_mode) == stat.S_IMODE(os.stat(plain).st_mode)


def test_failed_block_leaves_the_target_and_no_temporary(tmp_path):
    out = tmp_path / "a.cmvc"
    out.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(out) as p:
            p.write_bytes(b"new")
            raise RuntimeError
    assert out.read_bytes() == b"old" and sorted(tmp_path.iterdir()) == [out]
