"""Levels (spec §9.2): bounds a decoder can rely on before it allocates anything."""
from __future__ import annotations

import dataclasses

MiB = 1 << 20
KEYFRAME_PAD = 64  # §9.3: a keyframe payload may decode to a picture this much wider and higher than the coded size
HELD_BY_SEGMENT = 2  # §9.3: the keyframes that begin and end the segment being reconstructed
HELD_BY_KEYFRAME_CODEC = 16  # §9.3: AV1's 8 reference frames and the frame being decoded; VVC's DPB (H.266 A.4.2: at most 16)


@dataclasses.dataclass(frozen=True)
class Level:
    """Table 9-2.  Every bound is inclusive."""

    level: int
    max_width: int
    max_height: int
    max_picture_size: int  # width * height, luma samples
    max_frames: int
    max_unit_size: int  # payload_size of any unit, bytes
    max_text_tokens: int  # num_tokens of any text unit
    max_stream_size: int  # bytes of the whole file

    @property
    def name(self) -> str:
        return f"{self.level // 10}.{self.level % 10}"

    @property
    def max_keyframe_picture_size(self) -> int:
        """§9.3: luma samples of the largest picture a keyframe payload may decode to before it is cropped
        to the coded size (§7.2): (W + PAD) x (H + PAD) for the largest W x H of the level."""
        return self.max_picture_size + KEYFRAME_PAD * (self.max_width + self.max_height) + KEYFRAME_PAD ** 2

    @property
    def max_held_pictures(self) -> int:
        """§9.3: decoded keyframe pictures a decoder holds at most at once (a decoded picture buffer)."""
        return HELD_BY_SEGMENT + HELD_BY_KEYFRAME_CODEC


LEVELS: dict[int, Level] = {
    lv.level: lv
    for lv in [
        Level(10, 1024, 1024, 704 * 576, 1 << 10, 4 * MiB, 1 << 10, 16 * MiB),
        Level(20, 2048, 2048, 2048 * 1088, 1 << 14, 32 * MiB, 1 << 12, 256 * MiB),
        Level(30, 4096, 4096, 4096 * 2176, 1 << 18, 128 * MiB, 1 << 14, 2048 * MiB),
        Level(40, 16384, 16384, 8192 * 4352, 1 << 22, 512 * MiB, 1 << 16, 16384 * MiB),
    ]
}


def keyframe_picture_limit(coded_width: int, coded_height: int) -> tuple[int, int]:
    """§9.3: the largest width and height a keyframe payload of a stream of this coded size may decode to."""
    return coded_width + KEYFRAME_PAD, coded_height + KEYFRAME_PAD


def smallest_level(width: int, height: int, frames: int, max_unit: int = 0, max_tokens: int = 0,
                   stream_size: int = 0) -> Level:
    """The lowest level whose bounds admit a stream of these dimensions."""
    for lv in LEVELS.values():
        if (width <= lv.max_width and height <= lv.max_height and width * height <= lv.max_picture_size
                and frames <= lv.max_frames and max_unit <= lv.max_unit_size and max_tokens <= lv.max_text_tokens
                and stream_size <= lv.max_stream_size):
            return lv
    from .errors import error
    raise error("E101", f"no level admits {width}x{height}, {frames} frames, unit {max_unit} B, "
                        f"{max_tokens} tokens, {stream_size} B")
