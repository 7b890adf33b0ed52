import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).parent))
settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")

import subprocess

import pytest


def make_testsrc(path, w=64, h=48, frames=12, rate=25):
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=size={w}x{h}:rate={rate}", "-frames:v", str(frames), "-pix_fmt", "yuv420p", str(path)],
                   check=True)
    return path


@pytest.fixture(scope="session")
def testsrc_y4m(tmp_path_factory):
    return make_testsrc(tmp_path_factory.mktemp("src") / "testsrc.y4m")


@pytest.fixture(scope="session")
def testsrc_pics(testsrc_y4m):
    from cmvc.tools.video import read_video

    return read_video(testsrc_y4m)
