"""Shared fixtures: the real model and detectors on the real sample media in the repo."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Each test process (pytest-xdist worker) has a temporary folder of its own, which the servers and children it
# starts inherit: tests that check a run left no temporary file behind must not see another process's files.
if os.environ.get("PYTEST_XDIST_WORKER"):
    _own_tmp = Path(tempfile.gettempdir()) / (f"pytest-tmp-{os.environ.get('PYTEST_XDIST_TESTRUNUID', '')[:8]}-"
                                              f"{os.environ['PYTEST_XDIST_WORKER']}")
    _own_tmp.mkdir(exist_ok=True)
    os.environ["TMPDIR"] = str(_own_tmp)
    tempfile.tempdir = None  # gettempdir() reads TMPDIR again
    atexit.register(shutil.rmtree, _own_tmp, ignore_errors=True)

# TensorFlow's oneDNN kernels segfault training Mini-XCEPTION on this kind of CPU (see fer_core/train.py); it
# reads the switch once, at import, so set it before any test can import TensorFlow.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

# aiortc segfaults when first imported after TensorFlow in one process (the reverse order is fine), and the
# suite runs the Keras agreement and training tests before the webcam page's AppTest: import it first.
try:
    import aiortc  # noqa: F401
except ImportError:
    pass


@pytest.fixture(scope="session")
def stream_server(tmp_path_factory):
    """A live MPEG-TS stream of single_face.mp4 on a local HTTP server (`sample_media.serve_stream`)."""
    from sample_media import serve_stream

    served = serve_stream(tmp_path_factory.mktemp("served"))
    yield served
    served.server.shutdown()


@pytest.fixture(scope="session")
def haar_recognizer():
    from fer_core import EmotionRecognizer

    return EmotionRecognizer(detector="haar")


@pytest.fixture(scope="session")
def yunet_recognizer():
    from fer_core import EmotionRecognizer

    return EmotionRecognizer(detector="yunet")

