"""The Batch page under `streamlit.testing.v1.AppTest`: a results folder made by a real batch job opened and
filtered, a small batch run from the page on a real local Dask cluster, and a folder that is not one."""

from __future__ import annotations

import shutil

import pytest
from streamlit.testing.v1 import AppTest

from fer_core.errors import FerError
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
    at.radio(key="batch_mode").set_value("Open a results folder").run()  # the menu names the folder on show
    assert at.selectbox(key="batch_found").value == str(tmp_path / "from_the_page")
    assert {m.label: m.value for m in at.metric} == metrics


def test_a_folder_that_is_not_a_results_folder_is_one_message(monkeypatch, tmp_path):
    at = open_batch(monkeypatch, tmp_path)
    at.text_input(key="batch_path").set_value(str(tmp_path)).run()
    assert not at.exception
    assert [e.value for e in at.error] == [f"{tmp_path} is not a batch results folder (it has no batch.json)."]
    at.text_input(key="batch_path").set_value("").run()  # cleared: the message goes with it
    assert not at.exception and not at.error


@pytest.fixture(scope="module")
def cli_tables(tmp_path_factory):
    """What the command line writes for a folder (two photos, a face walking in, an empty room): its growing
    .csv, and the --json output of the one video."""
    import io
    import json

    import pandas as pd

    from fer_core.cli import main

    folder = tmp_path_factory.mktemp("visit")
    shutil.copy(PHOTOS / "happy_posed.jpg", folder / "happy.jpg")
    shutil.copy(PHOTOS / "unlabelled_multi_face.jpg", folder / "group.jpg")
    shutil.copy(VIDEOS / "noface_face.mov", folder / "arriving.mov")
    shutil.copy(VIDEOS / "no_face.mp4", folder / "empty_room.mp4")
    out = tmp_path_factory.mktemp("tables")
    options = ["--detector", "haar", "--preset", "thorough", "--every", "2"]
    assert main(["--input", str(folder), "--results", str(out / "visit.csv"), *options], out=io.StringIO()) == 0
    printed = io.StringIO()
    assert main(["--input", str(folder / "arriving.mov"), "--json", *options], out=printed) == 0
    (out / "arriving.json").write_text(printed.getvalue())
    return out, pd.read_csv(out / "visit.csv"), json.loads(printed.getvalue())


def test_open_a_results_table_from_the_command_line(monkeypatch, tmp_path, cli_tables):
    """A folder run's CSV: its sources, faces, the mix, every face's summary and a video's emotions over time;
    the CLI's --json output of one video opens the same way."""
    from fer_core.results import summarize

    out, written, printed = cli_tables
    at = open_batch(monkeypatch, tmp_path)
    at.radio(key="batch_mode").set_value("Open a results table").run()
    at.file_uploader(key="batch_table").set_value(("visit.csv", (out / "visit.csv").read_bytes(), "text/csv")).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Results: visit.csv" in [s.value for s in at.subheader]
    faces = summarize(written)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Sources"] == str(written["source"].nunique()) == "3"  # empty_room.mp4 has no rows
    assert metrics["Faces"] == str(len(faces)) and metrics["Rows"] == f"{len(written):,}"
    shown = at.dataframe[0].value
    assert shown[["source", "face_id"]].values.tolist() == faces[["source", "face_id"]].values.tolist()
    assert at.get("plotly_chart") and "Emotion over time" in [m.value.strip("# ") for m in at.markdown]
    assert any(c.value.startswith("arriving.mov. Lines:") for c in at.caption)  # the one video with faces

    at.file_uploader(key="batch_table").set_value(("arriving.json", (out / "arriving.json").read_bytes(),
                                                   "application/json")).run()
    assert not at.error and "Results: arriving.json" in [s.value for s in at.subheader]
    assert {m.label: m.value for m in at.metric}["Rows"] == f"{len(printed['results']):,}"


def test_a_results_table_on_this_computer_is_read_again_when_it_grows(monkeypatch, tmp_path, stream_server):
    """A camera's CSV that the command line is still writing, opened by its path and followed: each look reads
    it again once it has changed. A path that is not a file is one sentence."""
    import io
    import os

    from fer_core.cli import main

    door = tmp_path / "door.csv"
    assert main(["--input", f"{stream_server.url}/single_face.ts", "--results", str(door)], out=io.StringIO()) == 0
    whole = door.read_bytes()
    lines = whole.splitlines(keepends=True)
    door.write_bytes(b"".join(lines[:31]))  # the header and the first 30 rows, as if still being written
    at = open_batch(monkeypatch, tmp_path)
    at.radio(key="batch_mode").set_value("Open a results table").run()
    at.text_input(key="batch_table_path").set_value(str(door)).run()
    at.toggle(key="batch_table_follow").set_value(True).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert {m.label: m.value for m in at.metric}["Rows"] == "30"
    door.write_bytes(whole)  # the camera went on
    os.utime(door, ns=(door.stat().st_atime_ns, door.stat().st_mtime_ns + 1_000_000_000))
    at.run()
    assert {m.label: m.value for m in at.metric}["Rows"] == str(len(lines) - 1)
    (tmp_path / "cli.log").write_text("analysing...\n")
    for wrong, message in ((tmp_path / "nowhere.csv", f"{tmp_path / 'nowhere.csv'} is not a file on this computer."),
                           (tmp_path / "cli.log", "cli.log is not a results table: those are .csv, .json or .parquet "
                            "files."),
                           (tmp_path, f"{tmp_path} is a folder: open it as a results folder, or give a table's file.")):
        at.text_input(key="batch_table_path").set_value(str(wrong)).run()
        assert [e.value for e in at.error] == [message] and not at.exception


def test_tables_with_no_rows_a_folder_summary_and_a_line_being_written(tmp_path):
    """What the command line writes for a video without faces opens as an empty table, in every format and as
    --json; a folder run's --json (a summary) points to its table; a CSV read while a line is being appended
    to it is read without that line."""
    import io

    from fer_core.cli import main
    from fer_core.results import COLUMNS, read_table

    for name in ("empty.csv", "empty.json", "empty.parquet"):
        assert main(["--input", str(VIDEOS / "no_face.mp4"), "--results", str(tmp_path / name)], out=io.StringIO()) == 0
        assert list(read_table((tmp_path / name).read_bytes(), name).columns) == list(COLUMNS)
    printed = io.StringIO()
    assert main(["--input", str(VIDEOS / "no_face.mp4"), "--json"], out=printed) == 0
    assert len(read_table(printed.getvalue().encode(), "no_face.json")) == 0
    folder = tmp_path / "visit"
    folder.mkdir()
    shutil.copy(PHOTOS / "happy_posed.jpg", folder / "happy.jpg")
    printed = io.StringIO()
    assert main(["--input", str(folder), "--json", "--results", str(tmp_path / "visit.csv")], out=printed) == 0
    with pytest.raises(FerError, match=r"^visit\.json is a folder run's summary; open its table, .*visit\.csv\.$"):
        read_table(printed.getvalue().encode(), "visit.json")
    assert main(["--input", str(VIDEOS / "single_face.mp4"), "--results", str(tmp_path / "door.csv")],
                out=io.StringIO()) == 0
    whole = (tmp_path / "door.csv").read_bytes()
    growing = whole + b"single_face.mp4,72,2.4,,1,22"  # the next row, half written
    assert read_table(growing, "door.csv").equals(read_table(whole, "door.csv"))


def test_a_file_that_is_not_a_results_table_is_one_message(monkeypatch, tmp_path):
    at = open_batch(monkeypatch, tmp_path)
    at.radio(key="batch_mode").set_value("Open a results table").run()
    at.file_uploader(key="batch_table").set_value(("prices.csv", b"item,price\napple,3\n", "text/csv")).run()
    assert not at.exception
    assert [e.value for e in at.error] == ["prices.csv is not a results table of this tool (it needs the columns of "
                                           "fer_core.results.COLUMNS)."]
    at.file_uploader(key="batch_table").set_value(("cut.parquet", b"PAR1 not really", "application/octet-stream")).run()
    assert [e.value for e in at.error] == ["cut.parquet could not be read as a PARQUET file (damaged, or not PARQUET)."]


def test_a_streams_results_table_says_when_on_the_clock(monkeypatch, tmp_path, stream_server):
    import io

    import pandas as pd

    from fer_core.cli import main

    table = tmp_path / "door.csv"
    assert main(["--input", f"{stream_server.url}/single_face.ts", "--results", str(table)], out=io.StringIO()) == 0
    clocks = pd.read_csv(table)["clock"]
    at = open_batch(monkeypatch, tmp_path)
    at.radio(key="batch_mode").set_value("Open a results table").run()
    at.file_uploader(key="batch_table").set_value(("door.csv", table.read_bytes(), "text/csv")).run()
    assert not at.exception and not at.error
    first, last = (c.replace("T", " ")[:19] for c in (clocks.min(), clocks.max()))
    assert any(c.value.endswith(f"(on the clock: {first} to {last} UTC).") for c in at.caption)
