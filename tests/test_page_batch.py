"""The Batch page under `streamlit.testing.v1.AppTest`: a results folder made by a real batch job opened and
filtered, a small batch run from the page on a real local Dask cluster, and a folder that is not one."""

from __future__ import annotations

import shutil

import pytest
from streamlit.testing.v1 import AppTest

from sample_media import PHOTOS, ROOT, VIDEOS

pytestmark = pytest.mark.slow
PAGE = "pages/5_Batch.py"


@pytest.fixture(scope="module")
def batch_root(tmp_path_factory):
    """A root holding one results folder, made by `run_batch` on a local cluster of one worker."""
    from fer_core.batch import BatchOptions, run_batch
    from fer_core.batch.cluster import ClusterSpec

    archive = tmp_path_factory.mktemp("archive")
    shutil.copy(PHOTOS / "happy_posed.jpg", archive / "happy.jpg")
    shutil.copy(PHOTOS / "unlabelled_multi_face.jpg", archive / "group.jpg")
    shutil.copy(VIDEOS / "face_noface.mov", archive / "leaving.mov")
    shutil.copy(VIDEOS / "no_face.mp4", archive / "empty_room.mp4")
    (archive / "broken.jpg").write_bytes(b"not a photo")
    root = tmp_path_factory.mktemp("batch_root")
    report = run_batch([archive], BatchOptions(out=root / "interviews", chunk_seconds=2, cluster=ClusterSpec(workers=1)))
    assert (report.analysed, report.no_faces, report.failed) == (3, 1, 1)
    return root


def open_batch(monkeypatch, root) -> AppTest:
    monkeypatch.setenv("FER_BATCH_ROOT", str(root))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_open_a_results_folder_filter_sort_and_see_a_video_over_time(monkeypatch, batch_root):
    at = open_batch(monkeypatch, batch_root)
    found = at.selectbox(key="batch_found")
    assert found.options == ["interviews"]
    found.set_value(str(batch_root / "interviews")).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Inputs analysed": "4", "With faces": "3", "Without faces": "1", "Failed": "1",
                       "Frames analysed": "266"}
    files = at.dataframe[0].value
    assert sorted(files["source"]) == ["empty_room.mp4", "group.jpg", "happy.jpg", "leaving.mov"]
    errors = at.dataframe[1].value.set_index("source")
    assert errors.loc["broken.jpg", "reason"] == "broken.jpg is not an image this tool can read."
    assert errors.loc["empty_room.mp4", "error"] == "no_faces"

    at.multiselect(key="batch_kinds").set_value(["photo"]).run()
    at.selectbox(key="batch_sort").set_value("faces").run()
    at.toggle(key="batch_desc").set_value(True).run()
    assert at.dataframe[0].value["source"].tolist() == ["group.jpg", "happy.jpg"]
    at.multiselect(key="batch_kinds").set_value([]).run()
    at.multiselect(key="batch_dominant").set_value(["happy"]).run()
    shown = at.dataframe[0].value
    assert "happy.jpg" in set(shown["source"]) and "empty_room.mp4" not in set(shown["source"])

    assert at.selectbox(key="batch_video").value == "leaving.mov"
    assert any("Emotion over time" in m.value for m in at.markdown)
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Per-file summary (CSV)", "Errors (CSV)", "All results (CSV)", "All results (Parquet)"]


def test_run_a_small_batch_from_the_page(monkeypatch, tmp_path):
    at = open_batch(monkeypatch, tmp_path)
    at.radio(key="batch_mode").set_value("Run a batch").run()
    at.multiselect(key="batch_samples").set_value(["happy posed", "single face", "no face"]).run()
    at.text_input(key="batch_name").set_value("from the page").run()
    at.number_input(key="batch_workers").set_value(1).run()
    at.button(key="batch_go").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.success[0].value.startswith("3 of 3 inputs analysed: ")
    assert (tmp_path / "from_the_page" / "batch.json").is_file()  # the name made safe for a folder
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Inputs analysed"] == "3" and metrics["Without faces"] == "1"
    assert at.selectbox(key="batch_video").value == "single_face.mp4"
    at.run()  # the next interaction: the results stay, and the next run gets a folder of its own
    assert at.text_input(key="batch_name").value.startswith("run-")
    assert {m.label: m.value for m in at.metric} == metrics


def test_a_folder_that_is_not_a_results_folder_is_one_message(monkeypatch, tmp_path):
    at = open_batch(monkeypatch, tmp_path)
    at.text_input(key="batch_path").set_value(str(tmp_path)).run()
    assert not at.exception
    assert [e.value for e in at.error] == [f"{tmp_path} is not a batch results folder (it has no batch.json)."]
