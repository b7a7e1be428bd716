"""Real-time path (issue 5): tracking, re-detection, smoothing and the webcam-style callback, on the real
sample videos and the real model. No timing assertions here: speed is measured in benchmarks/.
"""

from __future__ import annotations

import time

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_core.annotate import draw_faces
from fer_core.results import Box
from fer_core.settings import REALTIME, THOROUGH, Settings
from fer_core.stream import FrameProcessor, LiveFrameProcessor
from fer_core.tracking import EmaSmoother, IoUTracker
from fer_core.video import analyze_video, iter_frames

VIDEOS = Path(__file__).resolve().parent.parent / "samples" / "videos"
FAST_K = REALTIME.detect_every
EVERY_FRAME = Settings(detect_every=1, detect_width=None)


def frames_of(name: str) -> list[np.ndarray]:
    return [f.image for f in iter_frames(VIDEOS / name)]


@pytest.fixture(scope="module")
def single_face_frames():
    return frames_of("single_face.mp4")


@pytest.fixture(scope="module")
def leave_and_return_frames():
    """The face is there, leaves (about 190 empty frames), comes back, and leaves again at the very end."""
    return frames_of("face_noface.mov") + frames_of("noface_face.mov")


class _CountingProcessor(FrameProcessor):
    """Records how many faces each of its detector runs found."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.found: list[int] = []

    def _detect(self, frame: np.ndarray) -> list[Box]:
        boxes = super()._detect(frame)
        self.found.append(len(boxes))
        return boxes


@pytest.fixture(scope="module")
def every_frame_run(yunet_recognizer, leave_and_return_frames) -> tuple[list, list[int]]:
    """Those frames through the tracker with the detector on every frame at full size: what it shows, and how
    many faces the detector found on each frame (the reference; the detector runs once per frame for both)."""
    processor = _CountingProcessor(yunet_recognizer, Settings(detect_every=1, detect_width=None), max_missed=15)
    results = run(processor, leave_and_return_frames)
    assert len(processor.found) == len(leave_and_return_frames) and len(processor.tracker.tracks) <= 1
    return results, processor.found


def run(processor: FrameProcessor, frames: list[np.ndarray]):
    return [processor.process(frame) for frame in frames]


# ---- tracking ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("settings", [EVERY_FRAME, REALTIME], ids=["every_frame", "realtime"])
def test_one_id_through_single_face_video(yunet_recognizer, single_face_frames, settings):
    processor = FrameProcessor(yunet_recognizer, settings)
    results = run(processor, single_face_frames)
    assert all(len(faces) == 1 for faces in results)
    assert {faces[0].track_id for faces in results} == {1}


def test_one_id_with_haar_and_analyze_video(haar_recognizer):
    analysis = analyze_video(VIDEOS / "single_face.mp4", haar_recognizer)
    assert analysis.face_ids == [1]
    assert analysis.frames_analysed == 72
    assert analysis.settings["detector_runs"] < 72  # frames in between were tracked, not detected


def test_fast_path_detects_on_fewer_frames(yunet_recognizer, single_face_frames):
    processor = FrameProcessor(yunet_recognizer)  # the default settings: the real-time preset
    run(processor, single_face_frames)
    assert processor.detections <= len(single_face_frames) // FAST_K + 2


@pytest.mark.parametrize("detect_every", [1, FAST_K])
def test_face_that_leaves_and_returns(yunet_recognizer, leave_and_return_frames, every_frame_run, detect_every):
    results, reference = every_frame_run
    if detect_every > 1:
        processor = FrameProcessor(yunet_recognizer, Settings(detect_every=detect_every, detect_width=None),
                                   max_missed=15)
        results = run(processor, leave_and_return_frames)
        assert len(processor.tracker.tracks) <= 1

    assert all(len(faces) <= 1 for faces in results)  # never a second (ghost) face beside the real one
    # A face shown on a frame where the per-frame detector finds none: only the stale box of a face that
    # just left, until the next detection at most detect_every - 1 frames later.
    ghost_run = longest = 0
    for faces, found in zip(results, reference):
        ghost_run = ghost_run + 1 if faces and not found else 0
        longest = max(longest, ghost_run)
    assert longest <= detect_every - 1
    # Long gone faces end their tracks; the returning face gets a new id, not the old one.
    ids = [faces[0].track_id for faces in results if faces]
    first_gap = reference.index(0)
    returned = first_gap + reference[first_gap:].index(1)
    assert set(ids[:first_gap]) == {1}
    assert {f[0].track_id for f in results[returned:] if f} == {2}
    empty_middle = results[first_gap + 20: returned]
    assert all(not faces for faces in empty_middle)


def test_tracker_drops_tracks_after_max_missed():
    tracker = IoUTracker(max_missed=2)
    assert tracker.update([Box(10, 10, 50, 50)]) == [1]
    for _ in range(3):
        tracker.update([])
    assert tracker.tracks == {}
    assert tracker.update([Box(12, 10, 50, 50)]) == [2]


# ---- smoothing -----------------------------------------------------------------------------------------

def test_smoother_never_changes_raw_probabilities(yunet_recognizer, single_face_frames):
    processor = FrameProcessor(yunet_recognizer, REALTIME.replace(smoothing=8))
    classes = yunet_recognizer.model.classes
    differs = 0
    for frame in single_face_frames:
        for face in processor.process(frame):
            direct = yunet_recognizer.classify(frame, [face.box])[0]
            raw = np.array([face.probabilities[c] for c in classes])
            smoothed = np.array([face.smoothed[c] for c in classes])
            np.testing.assert_allclose(raw, direct, rtol=0, atol=1e-6)
            assert abs(smoothed.sum() - 1.0) < 1e-3
            differs += not np.allclose(raw, smoothed, atol=1e-4)
    assert differs > len(single_face_frames) // 2  # smoothing is really on


def test_smoothing_window_one_is_identity(yunet_recognizer, single_face_frames):
    processor = FrameProcessor(yunet_recognizer, REALTIME.replace(smoothing=1))
    for frame in single_face_frames[:10]:
        for face in processor.process(frame):
            assert face.probabilities == face.smoothed and face.label == face.smoothed_label


def test_ema_smoother_keeps_its_input_and_tracks_apart():
    smoother = EmaSmoother(window=3)
    first = np.array([1.0, 0, 0, 0, 0, 0, 0])
    second = np.array([0, 1.0, 0, 0, 0, 0, 0])
    keep_first, keep_second = first.copy(), second.copy()
    smoother.update(1, first)
    out = smoother.update(1, second)
    np.testing.assert_array_equal(first, keep_first)
    np.testing.assert_array_equal(second, keep_second)
    np.testing.assert_allclose(out, 0.5 * second + 0.5 * first)  # alpha = 2 / (3 + 1)
    np.testing.assert_array_equal(smoother.update(2, second), second)  # a new track starts from its own
    smoother.forget({2})
    np.testing.assert_array_equal(smoother.update(1, second), second)


# ---- webcam-style callback -----------------------------------------------------------------------------

def test_webcam_callback_on_sample_video_frames(yunet_recognizer, single_face_frames):
    """What the webcam page does per frame, at 640x480, without a browser: av frame in, annotated out."""
    av = pytest.importorskip("av")
    processor = FrameProcessor(yunet_recognizer)

    def callback(frame):
        image = frame.to_ndarray(format="bgr24")
        faces = processor.process(image)
        out = av.VideoFrame.from_ndarray(draw_faces(image, faces, copy=False), format="bgr24")
        out.pts, out.time_base = frame.pts, frame.time_base
        return out, faces

    labelled = 0
    for i, image in enumerate(single_face_frames):
        webcam = cv2.resize(image, (640, 480))
        frame = av.VideoFrame.from_ndarray(webcam, format="bgr24")
        frame.pts, frame.time_base = i, Fraction(1, 30)
        out, faces = callback(frame)
        assert (out.width, out.height, out.pts) == (640, 480, i)
        labelled += len(faces) == 1
    assert labelled == len(single_face_frames)


def test_dashboard_live_session_callback(yunet_recognizer, single_face_frames):
    """The dashboard's LiveSession runs on the same frames and publishes one update each."""
    import av

    from dashboard import live

    session = live.LiveSession(yunet_recognizer)
    for i, image in enumerate(single_face_frames[:30]):
        frame = av.VideoFrame.from_ndarray(cv2.resize(image, (640, 480)), format="bgr24")
        frame.pts, frame.time_base = i, Fraction(1, 30)
        session.callback(frame)
        time.sleep(1 / 30)  # a camera's pace: the background detection has a frame's time to come back
    updates = session.drain()
    assert len(updates) == 30 and session.errors == 0
    # Detection runs in a background thread (live=True): the face appears once the first detection is
    # back, within a few frames, and then stays on every frame.
    counts = [len(u.faces) for u in updates]
    first = counts.index(1)
    assert first <= 5 and all(c == 1 for c in counts[first:])
    # The page's history holds the same rows as any results table.
    history = live.LiveHistory()
    history.absorb(updates)
    table = history.table()
    assert len(table) == 30 - first and set(table.source) == {"webcam"} and set(table.face_id) == {1}
    assert table.frame.tolist() == list(range(first, 30)) and table.time.is_monotonic_increasing
    session.close()


# ---- fast path against the full per-frame run ----------------------------------------------------------

def frame_labels(analysis) -> list[list[str]]:
    out: list[list[str]] = [[] for _ in range(analysis.frames_decoded)]
    table = analysis.table.sort_values(["frame", "x"])
    for frame, label in table[["frame", "smoothed_label"]].itertuples(index=False):
        out[int(frame)].append(label)
    return out


@pytest.mark.parametrize("video", ["single_face.mp4", "noface_face.mov", "face_noface.mov"])
def test_fast_path_agrees_with_full_per_frame_run(yunet_recognizer, video):
    full = analyze_video(VIDEOS / video, yunet_recognizer, THOROUGH)
    fast = analyze_video(VIDEOS / video, yunet_recognizer, REALTIME)
    a, b = frame_labels(full), frame_labels(fast)
    assert len(a) == len(b) == full.frames_decoded
    agree = sum(x == y for x, y in zip(a, b)) / len(a)
    assert agree >= 0.95, f"{video}: fast path agrees on {agree:.1%} of frames"
    assert fast.settings["detector_runs"] < full.settings["detector_runs"]


def test_prefetched_decoding_matches_and_stops_early():
    plain = [f.image for f in iter_frames(VIDEOS / "single_face.mp4")]
    threaded = [f.image for f in iter_frames(VIDEOS / "single_face.mp4", prefetch=4)]
    assert len(plain) == len(threaded) == 72
    assert all(np.array_equal(a, b) for a, b in zip(plain, threaded))
    gen = iter_frames(VIDEOS / "single_face.mp4", prefetch=2)
    next(gen)
    gen.close()  # stops the decoding thread without hanging


def test_live_processor_detects_in_background(yunet_recognizer, single_face_frames):
    processor = LiveFrameProcessor(yunet_recognizer)
    try:
        results = []
        for image in single_face_frames:
            results.append(processor.process(cv2.resize(image, (640, 480))))
            processor.wait(timeout=30)  # deterministic here; a live stream does not wait
        assert results[0] == []  # the first detection was still running: the frame is not held up
        assert all(len(faces) == 1 for faces in results[1:])
        assert {faces[0].track_id for faces in results[1:]} == {1}
        assert processor.detections < len(single_face_frames) // 2
        assert processor.detection_errors == 0
    finally:
        processor.close()


@pytest.mark.parametrize("flags", [[], ["--fast"], ["--preset", "thorough"]], ids=["default", "fast", "thorough"])
def test_cli_presets_on_video_and_photo(flags):
    import io
    import json

    from fer_core.cli import main

    out = io.StringIO()
    assert main(["--input", str(VIDEOS / "single_face.mp4"), "--json", *flags], out=out) == 0
    data = json.loads(out.getvalue())
    preset = THOROUGH if "thorough" in flags else REALTIME
    assert data["settings"]["detector"] == "yunet" and data["settings"]["detect_every"] == preset.detect_every
    assert data["settings"]["detect_width"] == preset.detect_width
    if preset is REALTIME:
        assert data["settings"]["detector_runs"] < data["frames_analysed"] == 72
    assert [face["face_id"] for face in data["summary"]] == [1]
    out = io.StringIO()
    photo = VIDEOS.parent / "photos" / "happy_posed.jpg"
    assert main(["--input", str(photo), *flags], out=out) == 0
    assert out.getvalue().strip() == "Detected Emotion: Happy"


def test_photo_gets_a_second_look_when_the_fast_pass_finds_no_face(yunet_recognizer):
    """The black-and-white photo's face is missed at 320 px and found by the retry at 640 px."""
    from fer_core.io import load_image

    image = load_image(VIDEOS.parent / "photos" / "unlabelled_black_white.jpg")
    assert yunet_recognizer.detect(image) == []  # the first pass, at the settings' 320 px
    faces = yunet_recognizer.analyze(image)
    assert len(faces) == 1 and faces[0].box.w > 100
    no_retry = type(yunet_recognizer)(yunet_recognizer.settings.replace(retry_width=None))
    assert no_retry.analyze(image) == []
