"""Video files: lazy decoding, sampling, tracking ids, timelines, summaries and the annotated copy."""

from __future__ import annotations

import av
import pytest

from sample_media import VIDEOS
from fer_core.emotions import EMOTIONS
from fer_core.results import COLUMNS, shares, summarize
from fer_core.video import VideoReader, analyze_video, iter_frames, probe_video


def test_single_face_video_goes_from_neutral_to_happy(haar_recognizer):
    analysis = analyze_video(VIDEOS / "single_face.mp4", haar_recognizer)
    table = analysis.table
    assert analysis.frames_decoded == analysis.frames_analysed == 72
    assert analysis.face_ids == [1]
    start = table[table.time < 0.5]
    end = table[table.time > 1.5]
    assert (start.smoothed_label == "neutral").mean() > 0.8
    assert (end.smoothed_label == "happy").mean() > 0.9
    assert end.happy.mean() > 0.75 and start.neutral.mean() > 0.6


def test_timeline_and_summary_shapes(yunet_recognizer):
    analysis = analyze_video(VIDEOS / "single_face.mp4", yunet_recognizer, every=3)
    assert list(analysis.table.columns) == list(COLUMNS)
    assert analysis.frames_analysed == 24
    assert analysis.table.frame.tolist() == list(range(0, 72, 3))
    assert set(analysis.table.source) == {"single_face.mp4"}
    summary = summarize(analysis.table)
    assert len(summary) == 1 and summary.loc[0, "dominant"] == "happy" and summary.loc[0, "frames"] == 24
    assert sum(summary.loc[0, f"share_{e}"] for e in EMOTIONS) == pytest.approx(1.0, abs=1e-3)
    overall = summarize(analysis.table, by=())
    assert len(overall) == 1 and sum(shares(overall.iloc[0]).values()) == pytest.approx(1.0, abs=1e-3)
    data = analysis.to_dict()
    assert data["summary"][0]["face_id"] == 1 and len(data["results"]) == 24


def test_target_rate_picks_every_nth_frame(yunet_recognizer):
    analysis = analyze_video(VIDEOS / "single_face.mp4", yunet_recognizer, target_fps=5)
    assert analysis.every == 6 and analysis.frames_analysed == 12


def test_no_face_video_has_an_empty_timeline(haar_recognizer):
    analysis = analyze_video(VIDEOS / "no_face.mp4", haar_recognizer, every=2)
    assert analysis.table.empty and summarize(analysis.table).empty
    assert list(analysis.table.columns) == list(COLUMNS)
    assert analysis.frames_decoded == 95


def test_face_entering_the_frame_is_found_late(yunet_recognizer):
    analysis = analyze_video(VIDEOS / "noface_face.mov", yunet_recognizer, every=4)
    summary = summarize(analysis.table)
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


def test_a_video_is_opened_once_per_analysis(monkeypatch, yunet_recognizer):
    """Header, frames and the decoding thread all come from one open of the file."""
    import fer_core.video as video

    opened = []
    real_open = video.av.open

    def counting_open(*args, **kwargs):
        opened.append(args[0])
        return real_open(*args, **kwargs)

    monkeypatch.setattr(video.av, "open", counting_open)
    analysis = analyze_video(VIDEOS / "single_face.mp4", yunet_recognizer, prefetch=4)
    assert opened == [str(VIDEOS / "single_face.mp4")] and analysis.frames_decoded == 72


def test_a_reader_gives_its_frames_once():
    with VideoReader(VIDEOS / "single_face.mp4") as reader:
        assert reader.info.frame_count == 72
        assert sum(1 for _ in reader.frames()) == 72
        with pytest.raises(RuntimeError, match="once"):
            next(reader.frames())


def test_a_results_csv_grows_during_the_run_and_ends_as_the_table_written_at_once(tmp_path):
    """`LiveResultsCsv`: rows reach the file while the video is still being analysed, each with its final
    `short_track` verdict (the file is only appended to), and the closed file is byte for byte what
    `write_table` writes at the end, the brief false track of the test below included."""
    from fer_core import EmotionRecognizer
    from fer_core.detectors import default_params
    from fer_core.provenance import provenance
    from fer_core.results import export_bytes
    from fer_core.results_csv import LiveResultsCsv

    loose = EmotionRecognizer(detector="haar", detector_params={**default_params("haar"), "min_neighbors": 1})
    path = tmp_path / "live.csv"
    written: dict[int, int] = {}  # frames decoded: rows in the file then

    def progress(done: int, total: int) -> None:
        written[done] = path.read_text().count("\n") - 2  # the provenance line and the header

    with LiveResultsCsv(path, flush_seconds=0, provenance=provenance(loose, every=2)) as live:
        analysis = analyze_video(VIDEOS / "noface_face.mov", loose, every=2, progress=progress, results_csv=live)
    table = analysis.table
    assert path.read_bytes() == export_bytes(table, "csv")  # the table carries the same provenance
    brief, real = table[table.face_id == 1], table[table.face_id == 2]
    assert brief.short_track.all() and not real.short_track.any()
    counts = list(written.values())
    assert counts == sorted(counts) and counts[0] == 0 and counts[-1] == len(table)  # all in before the end
    # Nothing is written while the false track may still turn out to be a face; once it has ended, its rows
    # go in at once with the real face's that waited behind them, and from then on each frame's row at once.
    settled_at = min(done for done, rows in written.items() if rows)
    assert written[settled_at] > len(brief)
    assert all(rows == (table.frame < done).sum() for done, rows in written.items() if done >= settled_at)


def test_a_results_csv_judges_a_track_by_its_whole_span_when_the_clock_steps_back(tmp_path, haar_recognizer):
    """A camera's clock can step back (a reset, a timestamp wrap): a track's span is its latest time minus its
    earliest, as in `mark_short_tracks`, not its last minus its first."""
    from fer_core.results import COLUMNS, export_bytes, results_table
    from fer_core.results_csv import LiveResultsCsv

    rows = list(analyze_video(VIDEOS / "single_face.mp4", haar_recognizer).table.head(5)
                .itertuples(index=False, name=None))
    time_at = COLUMNS.index("time")
    rows = [row[:time_at] + (t,) + row[time_at + 1:] for row, t in zip(rows, (0.0, 0.1, 0.2, 0.7, 0.3))]
    path = tmp_path / "stepped.csv"
    with LiveResultsCsv(path, flush_seconds=0) as live:
        for row in rows:
            live.add([row], row[0], {row[COLUMNS.index("face_id")]})
    table = results_table(rows)
    assert not table.short_track.any() and path.read_bytes() == export_bytes(table, "csv")


def test_tables_from_before_the_clock_column_still_open(haar_recognizer):
    """A batch folder's older partitions and older exports have no `clock` (nor, older still, `short_track`):
    they are read with the column empty, and the short tracks computed."""
    from fer_core.results import COLUMNS, concat_tables, export_bytes, read_table

    table = analyze_video(VIDEOS / "single_face.mp4", haar_recognizer).table
    older = table.drop(columns=["clock", "short_track"])
    for opened in (concat_tables([older]), read_table(export_bytes(older, "csv"), "older.csv"),
                   read_table(export_bytes(older, "parquet"), "older.parquet")):
        assert list(opened.columns) == list(COLUMNS) and opened["clock"].isna().all()
        assert opened.drop(columns="clock").equals(table.drop(columns="clock"))


def test_a_brief_false_detection_is_marked_not_counted(tmp_path):
    """The Haar cascade at its loosest (1 neighbour, as the sidebar allows) sees a face for a third of a second
    before the real one walks in: that track is kept in the table and its exports, marked `short_track`, and
    left out of the face count, the summaries and the CLI's lines."""
    import pandas as pd

    from fer_core import EmotionRecognizer
    from fer_core.detectors import default_params
    from fer_core.results import MIN_TRACK_FRAMES, MIN_TRACK_SECONDS, write_table

    loose = EmotionRecognizer(detector="haar", detector_params={**default_params("haar"), "min_neighbors": 1})
    analysis = analyze_video(VIDEOS / "noface_face.mov", loose, every=2)
    table = analysis.table
    brief = table[table.face_id == 1]
    assert len(brief) and brief.short_track.all()
    assert len(brief) < MIN_TRACK_FRAMES or brief.time.max() - brief.time.min() < MIN_TRACK_SECONDS
    assert analysis.short_track_ids == [1] and analysis.face_ids == [2]
    assert not table[table.face_id == 2].short_track.any()
    summary = summarize(table)
    assert summary.face_id.tolist() == [2] and summary.frames.iloc[0] == (table.face_id == 2).sum()
    assert summarize(table, include_short=True).face_id.tolist() == [1, 2]
    overall = summarize(table, by=())
    assert overall.frames.iloc[0] == (table.face_id == 2).sum()
    assert [row["face_id"] for row in analysis.to_dict()["summary"]] == [2]
    exported = pd.read_csv(write_table(table, tmp_path / "raw.csv"), comment="#")  # line 1: what made it
    assert exported.short_track.tolist() == table.short_track.tolist() and exported.short_track.any()
