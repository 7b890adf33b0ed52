"""cmvc.tools.memory: the CLI's malloc policy."""
import ctypes

from cmvc.tools import memory


class _FakeLibc:
    def __init__(self, ok: int) -> None:
        self.calls: list[tuple[int, int]] = []
        self.ok = ok

        def mallopt(param: int, value: int) -> int:
            self.calls.append((param, value))
            return self.ok

        self.mallopt = mallopt


def test_retain_freed_memory_sets_both_thresholds_once(monkeypatch):
    libc = _FakeLibc(1)
    monkeypatch.setattr(memory, "_done", None)
    monkeypatch.setattr(memory.sys, "platform", "linux")
    monkeypatch.setattr(ctypes, "CDLL", lambda name: libc)
    assert memory.retain_freed_memory() is True
    assert memory.retain_freed_memory() is True
    assert sorted(libc.calls) == [(-3, memory.THRESHOLD), (-1, memory.THRESHOLD)]  # M_MMAP_, M_TRIM_THRESHOLD


def test_retain_freed_memory_reports_a_refusal_and_other_platforms(monkeypatch):
    monkeypatch.setattr(memory, "_done", None)
    monkeypatch.setattr(memory.sys, "platform", "linux")
    monkeypatch.setattr(ctypes, "CDLL", lambda name: _FakeLibc(0))
    assert memory.retain_freed_memory() is False
    monkeypatch.setattr(memory, "_done", None)
    monkeypatch.setattr(memory.sys, "platform", "darwin")
    monkeypatch.setattr(ctypes, "CDLL", lambda name: (_ for _ in ()).throw(AssertionError("not called")))
    assert memory.retain_freed_memory() is False


def test_cli_applies_it(monkeypatch):
    from cmvc.tools import cli

    seen = []
    monkeypatch.setattr(cli, "retain_freed_memory", lambda: seen.append(1) or True)
    assert cli.main(["models", "list"]) == 0
    assert seen == [1]
