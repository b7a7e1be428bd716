"""Video files: lazy decoding, sampling, tracking ids, timelines, summaries and the annotated copy."""

from __future__ import annotations

import av
import pytest

from sample_media import VIDEOS
from fer_core.emotions import EMOTIONS
from fer_core.video import TIMELINE_COLUMNS, analyze_video, iter_frames, probe_video


def test_single_face_video_goes_from_neutral_to_happy(haar_recognizer):
    analysis = analyze_video(VIDEOS / "single_face.mp4", haar_recognizer)
    timeline = analysis.timeline
    assert analysis.frames_decoded == analysis.frames_analysed == 72
    assert analysis.face_ids == [1]
    start = timeline[timeline.time < 0.5]
    end = timeline[timeline.time > 1.5]
    assert (start.label == "neutral").mean() > 0.8
    assert (end.label == "happy").mean() > 0.9
    assert end.happy.mean() > 0.9 and start.neutral.mean() > 0.6


def test_timeline_and_summary_shapes(yunet_recognizer):
    analysis = analyze_video(VIDEOS / "single_face.mp4", yunet_recognizer, every=3)
    assert list(analysis.timeline.columns) == TIMELINE_COLUMNS
    assert analysis.frames_analysed == 24
    assert analysis.timeline.frame.tolist() == list(range(0, 72, 3))
    summary = analysis.face_summary()
    assert len(summary) == 1 and summary.loc[0, "dominant"] == "happy"
    assert sum(summary.loc[0, f"share_{e}"] for e in EMOTIONS) == pytest.approx(1.0, abs=1e-3)
    assert sum(analysis.emotion_shares().values()) == pytest.approx(1.0, abs=1e-3)
    data = analysis.to_dict()
    assert data["faces"][0]["face_id"] == 1 and len(data["timeline"]) == 24


def test_target_rate_picks_every_nth_frame(yunet_recognizer):
    analysis = analyze_video(VIDEOS / "single_face.mp4", yunet_recognizer, target_fps=5)
    assert analysis.every == 6 and analysis.frames_analysed == 12


def test_no_face_video_has_an_empty_timeline(haar_recognizer):
    analysis = analyze_video(VIDEOS / "no_face.mp4", haar_recognizer, every=2)
    assert analysis.timeline.empty and analysis.face_summary().empty
    assert analysis.frames_decoded == 95


def test_face_entering_the_frame_is_found_late(yunet_recognizer):
    analysis = analyze_video(VIDEOS / "noface_face.mov", yunet_recognizer, every=4)
    summary = analysis.face_summary()
    assert len(summary) == 1
    assert summary.loc[0, "first_seen"] > 3.0


def test_annotated_output_is_h264_with_every_frame(tmp_path, haar_recognizer):
    out = tmp_path / "annotated.mp4"
    analysis = analyze_video(VIDEOS / "single_face.mp4", haar_recognizer, every=4, output_path=out)
    assert analysis.output_path == out
    info = probe_video(out)
    assert info.codec == "h264" and (info.width, info.height) == (640, 360)
    assert sum(1 for _ in iter_frames(out)) == 72
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "yuv420p"


def test_webm_output_is_vp9(tmp_path, yunet_recognizer):
    out = tmp_path / "annotated.webm"
    analyze_video(VIDEOS / "single_face.mp4", yunet_recognizer, every=8, output_path=out)
    assert probe_video(out).codec in ("vp9", "libvpx-vp9")


def test_progress_reports_and_can_stop(yunet_recognizer):
    seen = []

    def progress(done, total):
        seen.append((done, total))
        return done < 10

    analysis = analyze_video(VIDEOS / "single_face.mp4", yunet_recognizer, progress=progress)
    assert analysis.stopped and analysis.frames_decoded == 10
    assert seen[0] == (1, 72)


def test_frames_are_decoded_lazily():
    frames = iter_frames(VIDEOS / "face_noface.mov")
    first = next(frames)
    assert first.index == 0 and first.image.shape == (540, 960, 3)
    frames.close()
