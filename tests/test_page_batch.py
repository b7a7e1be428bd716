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
    return out, pd.read_csv(out / "visit.csv", comment="#"), json.loads(printed.getvalue())


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
    door.write_bytes(b"".join(lines[:32]))  # what made it, the header and 30 rows, as if still being written
    at = open_batch(monkeypatch, tmp_path)
    at.radio(key="batch_mode").set_value("Open a results table").run()
    at.text_input(key="batch_table_path").set_value(str(door)).run()
    at.toggle(key="batch_table_follow").set_value(True).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert {m.label: m.value for m in at.metric}["Rows"] == "30"
    door.write_bytes(whole)  # the camera went on
    os.utime(door, ns=(door.stat().st_atime_ns, door.stat().st_mtime_ns + 1_000_000_000))
    at.run()
    assert {m.label: m.value for m in at.metric}["Rows"] == str(len(lines) - 2)
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
    assert [e.value for e in at.error] == ["prices.csv is not a results table of this tool: it lacks the columns "
                                           "this tool writes (source, frame, time, face_id, the face box, the seven "
                                           "emotions and the labels)."]
    at.file_uploader(key="batch_table").set_value(("cut.parquet", b"PAR1 not really", "application/octet-stream")).run()
    assert [e.value for e in at.error] == ["cut.parquet could not be read: it is damaged, or not really a Parquet file."]


def test_a_streams_results_table_says_when_on_the_clock(monkeypatch, tmp_path, stream_server):
    import io

    import pandas as pd

    from fer_core.cli import main

    table = tmp_path / "door.csv"
    assert main(["--input", f"{stream_server.url}/single_face.ts", "--results", str(table)], out=io.StringIO()) == 0
    clocks = pd.read_csv(table, comment="#")["clock"]
    at = open_batch(monkeypatch, tmp_path)
    at.radio(key="batch_mode").set_value("Open a results table").run()
    at.file_uploader(key="batch_table").set_value(("door.csv", table.read_bytes(), "text/csv")).run()
    assert not at.exception and not at.error
    first, last = (c.replace("T", " ")[:19] for c in (clocks.min(), clocks.max()))
    assert any(c.value.endswith(f"(on the clock: {first} to {last} UTC).") for c in at.caption)


# --- server paths confined (issue 27, 5) and the inputs a user has (issue 27, 6) ---------------------------

def _zip(members: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _table(at: AppTest, column: str):
    """The page's first table with this column (AppTest does not find a dataframe by its key)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


@pytest.fixture()
def confined(tmp_path):
    """A batch root holding a results table, and beside it (outside every root) a folder holding a results
    table, a results folder and a photo; inside the root, a symlink pointing out, and a folder of photos with
    a link to the photo outside."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    (outside / "results").mkdir(parents=True)
    from fer_core.results import COLUMNS

    (outside / "door.csv").write_text(",".join(COLUMNS) + "\n")  # a results table with no rows yet
    (outside / "results" / "batch.json").write_text("{}")
    shutil.copy(PHOTOS / "happy_posed.jpg", outside / "happy.jpg")
    (root / "link_out").symlink_to(outside)
    (root / "photos").mkdir()
    shutil.copy(PHOTOS / "surprise_posed.jpg", root / "photos" / "surprise.jpg")
    return root, outside


def test_typed_paths_outside_the_roots_are_one_sentence_whether_or_not_they_exist(monkeypatch, confined):
    """Outside, `..` out and a symlink out get the same sentence in each of the three path inputs, for a path
    that exists and one that does not: a visitor learns nothing about what is on the server."""
    root, outside = confined
    at = open_batch(monkeypatch, root)
    refused = (f"Only paths under {root.resolve()}, {(ROOT / 'data').resolve()} can be opened on this server."
               .replace(", " + str((ROOT / "data").resolve()), " or " + str((ROOT / "data").resolve())))
    wrong = [outside / "results", outside / "missing", f"{root}/../outside/results", root / "link_out" / "results",
             "/etc", "~"]
    for path in wrong:
        at.text_input(key="batch_path").set_value(str(path)).run()
        assert [e.value for e in at.error] == [refused] and not at.exception, path
        assert not at.subheader  # nothing of the folder is shown
    at.radio(key="batch_mode").set_value("Open a results table").run()
    for path in [outside / "door.csv", outside / "nowhere.csv", outside / "happy.jpg", outside,
                 f"{root}/../outside/door.csv", root / "link_out" / "door.csv"]:
        at.text_input(key="batch_table_path").set_value(str(path)).run()
        assert [e.value for e in at.error] == [refused] and not at.exception, path
    at.radio(key="batch_mode").set_value("Run a batch").run()
    for path in [outside, outside / "missing", f"{root}/photos/../../outside", root / "link_out"]:
        at.text_input(key="batch_input_folder").set_value(str(path)).run()
        assert [e.value for e in at.error] == [refused] and not at.exception, path
        assert at.button(key="batch_go").disabled
    # Inside the roots, a folder of photos is an input (the button is on) and a table path opens.
    at.text_input(key="batch_input_folder").set_value(f"{root}/link_out/../photos").run()  # .. after the link
    assert [e.value for e in at.error] == [refused]  # is the parent of where the link points, as for the system
    at.text_input(key="batch_input_folder").set_value(f"{root}/cams/../photos").run()
    assert not at.error and not at.button(key="batch_go").disabled
    (root / "cams").mkdir()
    shutil.copy(outside / "door.csv", root / "cams" / "door.csv")
    at.radio(key="batch_mode").set_value("Open a results table").run()
    at.text_input(key="batch_table_path").set_value(str(root / "cams" / ".." / "cams" / "door.csv")).run()
    assert not at.error and not at.exception and "Results: door.csv" in [s.value for s in at.subheader]


def test_extra_roots_come_from_the_setting(monkeypatch, confined):
    root, outside = confined
    monkeypatch.setenv("FER_SERVER_ROOTS", str(outside))
    at = open_batch(monkeypatch, root)
    at.radio(key="batch_mode").set_value("Open a results table").run()
    at.text_input(key="batch_table_path").set_value(str(outside / "door.csv")).run()
    assert not at.error and "Results: door.csv" in [s.value for s in at.subheader]


def test_a_public_deployment_has_no_server_paths_no_saving_and_no_addresses(monkeypatch, tmp_path):
    """FER_PUBLIC=1: the Batch page offers a table upload only (no results folders, paths or runs on the
    server), the Webcam page saves nothing on the server and neither it nor the Video page opens addresses."""
    monkeypatch.setenv("FER_PUBLIC", "1")
    monkeypatch.setenv("FER_NETWORK_STREAMS", "on")  # the public switch wins
    at = open_batch(monkeypatch, tmp_path)
    assert at.radio(key="batch_mode").options == ["Open a results table"]
    kinds = ("text_input", "selectbox", "button", "multiselect", "number_input", "toggle", "file_uploader")
    page_widgets = {w.key for kind in kinds for w in at.get(kind) if str(w.key).startswith("batch_")}
    assert page_widgets == {"batch_table"}  # a table upload, nothing on the server
    assert any("public deployment" in c.value for c in at.caption)
    at.switch_page("pages/3_Webcam.py").run()
    assert not at.exception and "webcam_save" not in [t.key for t in at.toggle]
    assert "webcam_camera" not in [r.key for r in at.radio]
    at.switch_page("pages/2_Video.py").run()
    assert not at.exception and all("Network stream" not in r.options for r in at.radio)

    monkeypatch.setenv("FER_PUBLIC", "0")
    at = open_batch(monkeypatch, tmp_path)
    assert at.radio(key="batch_mode").options == ["Open a results folder", "Open a results table", "Run a batch"]
    at.switch_page("pages/3_Webcam.py").run()
    assert "webcam_save" in [t.key for t in at.toggle]


def test_a_run_starts_with_nothing_and_takes_a_zip_a_server_folder_and_a_frame_step(monkeypatch, confined):
    """No sample is chosen at first (the button waits for an input); a zip's photos and videos (in its folders
    too, other files passed over) and a folder under the roots run together, videos every 6th frame; an input
    that failed makes the run a warning with the counts, and the errors table names it."""
    root, _ = confined
    at = open_batch(monkeypatch, root)
    at.radio(key="batch_mode").set_value("Run a batch").run()
    assert at.multiselect(key="batch_samples").value == [] and at.button(key="batch_go").disabled
    holiday = _zip({"beach/happy.jpg": (PHOTOS / "happy_posed.jpg").read_bytes(),
                    "beach/clip.mp4": (VIDEOS / "single_face.mp4").read_bytes(),
                    "notes.txt": b"not a photo", "broken.jpg": b"not a photo either"})
    at.file_uploader(key="batch_uploads").set_value([("holiday.zip", holiday, "application/zip")]).run()
    at.text_input(key="batch_input_folder").set_value(str(root / "photos")).run()
    at.number_input(key="batch_every").set_value(6).run()
    at.number_input(key="batch_workers").set_value(1).run()
    at.text_input(key="batch_name").set_value("holiday").run()
    at.button(key="batch_go").click().run()
    assert not at.exception and not at.success and not at.error, [e.value for e in at.error]
    assert [w.value for w in at.warning] == [at.warning[0].value]
    assert at.warning[0].value.startswith("1 of 4 inputs failed, 3 analysed (")
    files = _table(at, "frames_analysed")
    assert sorted(files["source"]) == ["holiday/beach/clip.mp4", "holiday/beach/happy.jpg", "photos/surprise.jpg"]
    clip = files.set_index("source").loc["holiday/beach/clip.mp4"]
    assert clip["frames_analysed"] == 12  # 72 frames, every 6th
    assert _table(at, "reason")["source"].tolist() == ["holiday/broken.jpg"]
    assert any("one frame in 6 analysed" in c.value for c in at.caption)  # what made the results


def test_a_run_that_mostly_failed_is_an_error_and_a_bad_zip_is_one_sentence(monkeypatch, tmp_path):
    at = open_batch(monkeypatch, tmp_path)
    at.radio(key="batch_mode").set_value("Run a batch").run()
    at.number_input(key="batch_workers").set_value(1).run()
    for name, data, message in [
        ("evil.zip", _zip({"../evil.jpg": b"x"}), "evil.zip contains an unsafe path: ../evil.jpg."),
        ("notes.zip", _zip({"a.txt": b"x"}), "notes.zip holds no photos or videos this tool reads."),
        ("cut.zip", b"PK\x03\x04 not really", "cut.zip is not a valid zip file."),
    ]:
        at.file_uploader(key="batch_uploads").set_value([(name, data, "application/zip")]).run()
        at.button(key="batch_go").click().run()
        assert [e.value for e in at.error] == [message] and not at.exception
        assert not list(tmp_path.glob("*/batch.json"))  # nothing was run
    broken = _zip({f"bad{i}.jpg": b"not a photo" for i in range(3)}
                  | {"good.jpg": (PHOTOS / "happy_posed.jpg").read_bytes()})
    at.file_uploader(key="batch_uploads").set_value([("mostly_bad.zip", broken, "application/zip")]).run()
    at.button(key="batch_go").click().run()
    assert not at.exception and not at.success and not at.warning
    assert at.error[0].value.startswith("3 of 4 inputs failed, 1 analysed (")
    assert sorted(_table(at, "reason")["source"]) == ["bad0.jpg", "bad1.jpg", "bad2.jpg"]


def test_a_server_folder_with_a_link_out_is_refused_when_it_runs(monkeypatch, confined):
    root, outside = confined
    (root / "photos" / "borrowed.jpg").symlink_to(outside / "happy.jpg")
    at = open_batch(monkeypatch, root)
    at.radio(key="batch_mode").set_value("Run a batch").run()
    at.text_input(key="batch_input_folder").set_value(str(root / "photos")).run()
    at.button(key="batch_go").click().run()
    assert [e.value for e in at.error] == [f"{(root / 'photos').resolve()} holds links to files outside the folders "
                                           "this server opens."]
    assert not list(root.glob("*/batch.json"))
