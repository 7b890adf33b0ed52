"""Progress bars and rate-control notes for the CLI commands (stderr only; nothing normative)."""
from __future__ import annotations

import sys


class Progress:
    """tqdm bars per stage (to stderr; silent when stderr is not a terminal unless forced)."""

    # rate control: a search per keyframe codec, coded size and strategy, or a step of the model (first-pass
    # segment, trial encode); tqdm shows the time left
    UNITS = {"rate control": "step", "chunks": "chunk"}

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = enabled
        self.bars = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        from tqdm import tqdm

        bar = self.bars.get(stage)
        if bar is None:
            bar = self.bars[stage] = tqdm(total=total, desc=stage, disable=None if self.enabled is None else not self.enabled,
                                          unit=self.UNITS.get(stage, "frame" if total > 1 else "step"),
                                          file=sys.stderr, leave=False)
        if bar.total != total:  # rate control's search count shrinks as it prunes
            bar.total = total
        bar.n = done
        bar.refresh()
        if done >= total:  # a stage may run again (the next chunk's weight fit): a new bar then
            bar.close()
            del self.bars[stage]

    def note(self, stage: str, text: str) -> None:
        """Show *text* after the stage's bar (e.g. the candidate rate control scored last)."""
        bar = self.bars.get(stage)
        if bar is not None and not bar.disable:
            bar.set_postfix_str(text, refresh=True)

    def close(self) -> None:
        for b in self.bars.values():
            b.close()


def rc_note(line: str) -> str:
    """A rate-control candidate line shortened to fit after a bar."""
    return (line.removeprefix("rate control: ").replace(" keyframes, downscale ", " 1/").replace(" keyframes (interval ", " kf (iv ")
            .replace("quality ", "q ").replace("estimated ", ""))
