"""Every results file says what made it (model, role, temperature, detector, settings, version), and
`read_table` gives that back (`table.attrs["provenance"]`): downloads, `--results`, the growing CSV, a batch
folder's Parquet. Files from before provenance still open. Real model, real samples."""

from __future__ import annotations

import io
import json
import shutil
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from fer_core import __version__
from fer_core.cli import main
from fer_core.io import load_image
from fer_core.models import MODELS_DIR, get_model
from fer_core.provenance import describe, of_table, provenance, stamp
from fer_core.results import COLUMNS, EXPORT_FORMATS, export_bytes, faces_table, read_table, write_table
from fer_core.settings import Settings
from sample_media import PHOTOS, VIDEOS


def cli(*argv: str) -> int:
    return main(list(argv), out=io.StringIO())


@pytest.fixture(scope="module")
def astronaut(yunet_recognizer) -> pd.DataFrame:
    """The astronaut photo's results table, carrying what made it (as the Image page's analysis does)."""
    faces = yunet_recognizer.analyze(load_image(PHOTOS / "happy_astronaut.png"))
    return stamp(faces_table(faces, "happy_astronaut.png"), provenance(yunet_recognizer))


def test_provenance_names_the_model_its_role_temperature_detector_settings_and_version(yunet_recognizer):
    made_by = provenance(yunet_recognizer, every=3)
    default = get_model()
    assert made_by["tool"] == "emotion-recognition-fer" and made_by["version"] == __version__
    assert made_by["model"]["name"] == default.name and made_by["model"]["role"] == "fast"
    assert made_by["model"]["default"] is True and made_by["model"]["temperature"] == default.temperature
    assert made_by["model"]["accuracy_on"] == "FER2013 PublicTest"
    assert made_by["detector"]["name"] == "yunet" and made_by["settings"]["smoothing"] == Settings().smoothing
    assert made_by["run"] == {"every": 3}
    accurate = provenance(Settings(model="accurate"))["model"]
    assert accurate["role"] == "accurate" and accurate["default"] is False
    assert accurate["name"] == get_model("accurate").name
    assert describe(made_by).startswith(f"Made by the Fast (default) model, {default.name} (")
    assert "one frame in 3 analysed" in describe(made_by) and describe(None) == "What made these results is not recorded."


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_each_download_format_reads_back_with_what_made_it(astronaut, fmt):
    data = export_bytes(astronaut, fmt)
    back = read_table(data, f"astronaut.{fmt}")
    assert of_table(back) == of_table(astronaut) and of_table(back)["model"]["role"] == "fast"
    pd.testing.assert_frame_equal(back.drop(columns="clock"), astronaut[list(COLUMNS)].drop(columns="clock"),
                                  check_dtype=False, atol=1e-4)
    assert back.clock.isna().all() and back.smoothed_label.tolist() == ["happy"]


def test_the_formats_carry_it_where_other_readers_look_and_plain_pandas_still_reads_them(astronaut):
    made_by = of_table(astronaut)
    csv = export_bytes(astronaut, "csv")
    first, rest = csv.split(b"\n", 1)
    assert first.startswith(b"# fer: ") and json.loads(first[len(b"# fer: "):]) == made_by
    assert rest.startswith(b"source,frame,time,")
    assert list(pd.read_csv(io.BytesIO(csv), comment="#").columns) == list(COLUMNS)
    parsed = json.loads(export_bytes(astronaut, "json"))
    assert parsed["provenance"] == made_by and parsed["results"][0]["source"] == "happy_astronaut.png"
    parquet = export_bytes(astronaut, "parquet")
    assert json.loads(pq.read_schema(io.BytesIO(parquet)).metadata[b"fer"]) == made_by
    assert len(pd.read_parquet(io.BytesIO(parquet))) == 1


def test_files_from_before_provenance_still_open(astronaut):
    plain = astronaut.copy()
    plain.attrs.clear()
    old = {"old.csv": plain.to_csv(index=False).encode(),
           "old.json": json.dumps(json.loads(plain.to_json(orient="records"))).encode(),
           "old.parquet": plain.to_parquet(index=False)}
    for name, data in old.items():
        back = read_table(data, name)
        assert of_table(back) is None and back.smoothed_label.tolist() == ["happy"], name
    assert export_bytes(plain, "csv") == old["old.csv"]  # nothing to say: the file is as it always was


def test_a_damaged_provenance_line_does_not_lose_the_table(astronaut):
    data = b"# fer: {not json\n" + export_bytes(astronaut, "csv").split(b"\n", 1)[1]
    back = read_table(data, "edited.csv")
    assert of_table(back) is None and len(back) == 1


def test_the_message_for_a_foreign_table_is_in_plain_words():
    from fer_core.errors import FerError

    with pytest.raises(FerError) as error:
        read_table(b"name,score\nx,1\n", "scores.csv")
    assert "fer_core" not in str(error.value) and "COLUMNS" not in str(error.value)
    assert "lacks the columns this tool writes" in str(error.value)
    with pytest.raises(FerError) as error:
        read_table(b"PAR1 not really", "broken.parquet")
    assert "Parquet file" in str(error.value) and "PARQUET" not in str(error.value)


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_cli_results_say_what_made_them(tmp_path, fmt):
    target = tmp_path / f"faces.{fmt}"
    assert cli("--input", str(PHOTOS / "happy_astronaut.png"), "--model", "accurate", "--detector", "haar",
               "--results", str(target)) == 0
    made_by = of_table(read_table(target.read_bytes(), target.name))
    assert made_by["model"]["name"] == get_model("accurate").name and made_by["model"]["role"] == "accurate"
    assert made_by["detector"]["name"] == "haar" and made_by["version"] == __version__


def test_the_growing_csv_of_a_video_run_says_what_made_it_and_matches_the_table(tmp_path):
    grown, whole = tmp_path / "grown.csv", tmp_path / "whole.parquet"
    for target in (grown, whole):
        assert cli("--input", str(VIDEOS / "single_face.mp4"), "--every", "3", "--results", str(target)) == 0
    from_csv, from_parquet = (read_table(p.read_bytes(), p.name) for p in (grown, whole))
    assert of_table(from_csv) == of_table(from_parquet) and of_table(from_csv)["run"]["every"] == 3
    pd.testing.assert_frame_equal(from_csv.drop(columns="clock"), from_parquet.drop(columns="clock"), check_dtype=False)
    assert grown.read_bytes() == export_bytes(from_parquet, "csv")  # the file grown row by row, byte for byte


def test_a_batch_folder_says_what_made_it_in_every_parquet_and_its_table(tmp_path):
    from fer_core.batch import BatchOptions, run_batch
    from fer_core.batch.cluster import ClusterSpec
    from fer_core.batch.store import open_results

    photos = tmp_path / "in"
    photos.mkdir()
    shutil.copy(PHOTOS / "happy_astronaut.png", photos)
    out = tmp_path / "out"
    run_batch([photos], BatchOptions(out=out, settings=Settings(model="fast"), cluster=ClusterSpec(workers=1)))
    made_by = json.loads((out / "batch.json").read_text())["provenance"]
    assert made_by["model"]["role"] == "fast" and made_by["run"] == {"every": 1}
    for parquet in [*out.glob("faces/*/*.parquet"), out / "files.parquet", out / "errors.parquet"]:
        assert json.loads(pq.read_schema(parquet).metadata[b"fer"]) == made_by, parquet
    faces = open_results(out).faces()
    assert of_table(faces) == made_by and faces.smoothed_label.tolist() == ["happy"]
    back = read_table(export_bytes(faces, "csv"), "batch.csv")  # the Batch page's download
    assert of_table(back) == made_by


def test_write_table_takes_an_explicit_provenance(tmp_path, astronaut):
    other = provenance(Settings(detector="haar"))
    path = write_table(astronaut, tmp_path / "t.json", other)
    assert of_table(read_table(path.read_bytes(), path.name)) == other


def test_models_are_offered_roles_first_and_a_user_model_last_and_not_comparable(tmp_path):
    from dashboard.settings import model_caption, model_label
    from fer_core.models import list_models, picker_order

    mine = tmp_path / "mine"
    shutil.copytree(MODELS_DIR / get_model("fast").name, mine, ignore=shutil.ignore_patterns("*.keras", "*.npz"))
    spec = json.loads((mine / "model.json").read_text())
    spec.pop("short_title", None)
    spec.update(name="mine", title="Trained on my photos", metrics={"val_accuracy": 0.97, "val_data": "upload split"})
    (mine / "model.json").write_text(json.dumps(spec))
    ordered = picker_order(list_models(extra_dirs=[tmp_path]))
    labels = [model_label(s) for s in ordered]
    assert labels[0].startswith("Fast (default) - ") and labels[1].startswith("Accurate - ")
    assert labels[2].startswith("Best - ") and ordered[-1].name == "mine"
    assert labels[-1] == "mine - not comparable"
    assert "97.0% right on its own validation faces" in model_caption(ordered[-1])
    assert "not comparable with the PublicTest scores" in model_caption(ordered[-1])
    assert max(len(label) for label in labels[:-1]) <= 31  # what the sidebar's box shows whole (browser-checked)
    fast = get_model("fast")
    assert labels[0] == f"Fast (default) - {fast.accuracy:.1%}".replace("%", " %") + f", {fast.ms_per_face:.1f} ms"


def test_a_webcam_session_and_its_saved_csv_say_what_made_them(tmp_path, yunet_recognizer):
    """The Webcam page's table (its downloads) and the CSV it saves as it goes carry the session's provenance;
    a model changed during the session is said (`started_with`)."""
    from dashboard.live import LiveHistory, LiveSession
    from fer_core import EmotionRecognizer
    from fer_core.video import iter_frames

    session = LiveSession(yunet_recognizer, save_to=tmp_path)
    history = LiveHistory()
    frames = iter_frames(VIDEOS / "single_face.mp4")
    for frame in frames:  # until the background detector has found the face (a few frames)
        session.process(frame.image)
        history.absorb(session.drain())
        if len(history.rows):
            break
        time.sleep(0.05)
    table = history.table()
    assert of_table(table) == provenance(yunet_recognizer) and len(table)
    assert of_table(read_table(export_bytes(table, "json"), "webcam.json")) == provenance(yunet_recognizer)
    session.configure(EmotionRecognizer(yunet_recognizer.settings.replace(model="accurate")))
    for _, frame in zip(range(4), frames):
        session.process(frame.image)
    history.absorb(session.drain())
    session.close()
    changed = of_table(history.table())
    assert changed["model"]["role"] == "accurate" and changed["started_with"]["model"]["role"] == "fast"
    saved = read_table(session.saved_path.read_bytes(), session.saved_path.name)
    assert of_table(saved) == provenance(yunet_recognizer)  # the file's first line: what it started with


def test_the_image_page_says_what_made_its_result_and_the_picker_speaks_in_roles():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=60).run()
    at.switch_page("pages/1_Image.py").run()
    picker = at.sidebar.selectbox(key="_sb_model")
    assert [o.split(" - ")[0] for o in picker.options[:3]] == ["Fast (default)", "Accurate", "Best"]
    at.radio(key="image_source").set_value("Sample photo").run()
    assert not at.exception
    fast, accurate = get_model("fast"), get_model("accurate")
    assert any(c.value.startswith(f"Made by the Fast (default) model, {fast.name}") for c in at.caption)
    picker.set_value(accurate.name).run()
    assert any(c.value.startswith(f"Made by the Accurate model, {accurate.name}") for c in at.caption)


def test_a_video_analysis_carries_what_made_it_into_the_video_pages_downloads(haar_recognizer):
    """The Video page downloads `analyze_video`'s table as it is: its provenance, frame step included."""
    from fer_core.video import analyze_video

    table = analyze_video(VIDEOS / "single_face.mp4", haar_recognizer, every=4).table
    assert of_table(table) == provenance(haar_recognizer, every=4)
    for fmt in EXPORT_FORMATS:
        assert of_table(read_table(export_bytes(table, fmt), f"clip.{fmt}"))["run"] == {"every": 4}


def test_the_json_printed_for_a_photo_or_a_video_says_what_made_it():
    for source, name in ((PHOTOS / "happy_astronaut.png", "photo.json"), (VIDEOS / "single_face.mp4", "clip.json")):
        out = io.StringIO()
        assert main(["--input", str(source), "--json", "--every", "5"], out=out) == 0
        made_by = of_table(read_table(out.getvalue().encode(), name))
        assert made_by["model"]["role"] == "fast" and made_by["run"]["every"] == 5


def test_the_batch_pages_results_table_view_shows_what_made_it(monkeypatch, tmp_path, astronaut):
    """A downloaded table opened on the Batch page: under its title, what made it (in words and in full); an
    older file says it does not say."""
    from test_page_batch import open_batch

    at = open_batch(monkeypatch, tmp_path)
    at.radio(key="batch_mode").set_value("Open a results table").run()
    at.file_uploader(key="batch_table").set_value(("astronaut.csv", export_bytes(astronaut, "csv"), "text/csv")).run()
    assert not at.exception and not at.error
    assert describe(of_table(astronaut)) in [c.value for c in at.caption]
    assert "What made these results" in [e.label for e in at.expander]
    plain = astronaut.copy()
    plain.attrs.clear()
    at.file_uploader(key="batch_table").set_value(("old.csv", export_bytes(plain, "csv"), "text/csv")).run()
    assert any(c.value.startswith("This file does not say what made it") for c in at.caption)
