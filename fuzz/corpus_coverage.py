"""Line coverage of the cmvc package reached by a fuzz corpus: replays ``fuzz_stream.test_one_input``
on every file of the given directories under the standard library's ``trace`` (no extra package).

    python fuzz/corpus_coverage.py fuzz/corpus conformance/streams conformance/invalid
"""
import glob
import sys
import trace
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(dirs: list[str]) -> None:
    src = (HERE / "fuzz_stream.py").read_text().replace("import atheris", "").replace(
        'with atheris.instrument_imports(include=["cmvc"]):', "if True:")  # the harness, uninstrumented
    ns = {"__name__": "fuzz_stream"}
    files = [f for d in dirs for f in sorted(glob.glob(f"{d}/*"))]

    def run() -> None:
        exec(compile(src, str(HERE / "fuzz_stream.py"), "exec"), ns)  # imports traced too
        for f in files:
            try:
                data = Path(f).read_bytes()
            except OSError:  # libFuzzer replaced it meanwhile
                continue
            ns["test_one_input"](data)

    t = trace.Trace(count=1, trace=0, ignoredirs=[sys.prefix, sys.exec_prefix])
    t.runfunc(run)
    hit: dict[str, set[int]] = {}
    for (fn, ln), _ in t.results().counts.items():
        if "/cmvc/" in fn:
            hit.setdefault(fn, set()).add(ln)
    total = covered = 0
    for fn in sorted(hit):
        lines = set(trace._find_executable_linenos(fn))
        n = len(hit[fn] & lines)
        total, covered = total + len(lines), covered + n
        print(f"{fn.split('/cmvc/', 1)[1]:36s} {n:4d}/{len(lines):4d} {100 * n / len(lines):5.1f}%")
    print(f"{len(files)} inputs; modules reached: {covered}/{total} lines, {100 * covered / max(total, 1):.1f}%")


if __name__ == "__main__":
    main(sys.argv[1:])
