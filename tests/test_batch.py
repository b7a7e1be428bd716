"""Batch jobs on a real Dask cluster: a LocalCluster, and a scheduler and a worker started as separate
processes; real sample photos and videos, a corrupt file, a zero-byte file and a face-less video; reruns,
Ctrl-C, the Parquet output read back by pandas and Dask. Clusters are kept small (one or two workers) and
the inputs few, so the whole file runs in well under a minute on two cores."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.common import stop_process
from sample_media import PHOTOS, ROOT, VIDEOS
from fer_core.batch.store import ERROR_COLUMNS, FILE_COLUMNS, open_results
from fer_core.results import COLUMNS

pytestmark = pytest.mark.slow


def batch_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fer_core.batch", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """A small archive with every kind of input: photos, a video long enough to be cut into chunks, a
    face-less video, a corrupt "photo" and a zero-byte "video", one of them in a sub-folder."""
    folder = tmp_path_factory.mktemp("archive")
    shutil.copy(PHOTOS / "happy_posed.jpg", folder / "happy_posed.jpg")
    shutil.copy(PHOTOS / "unlabelled_multi_face.jpg", folder / "group.jpg")
    (folder / "clips").mkdir()
    shutil.copy(VIDEOS / "face_noface.mov", folder / "clips" / "face_noface.mov")
    shutil.copy(VIDEOS / "no_face.mp4", folder / "clips" / "no_face.mp4")
    (folder / "corrupt.jpg").write_bytes(b"this is not a JPEG, whatever its name says\n" * 20)
    (folder / "clips" / "empty.mp4").write_bytes(b"")
    return folder


@pytest.fixture(scope="module")
def first_run(archive, tmp_path_factory):
    """The job as a user runs it: the command line, a LocalCluster of two worker processes, 1 s chunks."""
    out = tmp_path_factory.mktemp("results") / "run"
    proc = batch_cli(str(archive), "--out", str(out), "--workers", "2", "--chunk-seconds", "1", "--json")
    return out, proc


def test_local_cluster_job_completes_with_an_errors_table(first_run):
    out, proc = first_run
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["files"] == 6 and report["workers"] == 2 and not report["interrupted"]
    assert (report["analysed"], report["no_faces"], report["failed"], report["skipped"]) == (3, 1, 2, 0)
    # One line per failure on stderr, never a traceback.
    assert "Traceback" not in proc.stderr
    assert "failed: corrupt.jpg is not an image this tool can read." in proc.stderr
    assert "failed: clips/empty.mp4 is empty (0 bytes)." in proc.stderr

    errors = pd.read_parquet(out / "errors.parquet")
    assert list(errors.columns) == list(ERROR_COLUMNS)
    by_source = errors.set_index("source")
    assert by_source.loc["corrupt.jpg", "error"] == "corrupt"
    assert by_source.loc["clips/empty.mp4", "error"] == "empty"
    assert by_source.loc["clips/no_face.mp4", "error"] == "no_faces"
    assert by_source.loc["clips/no_face.mp4", "reason"] == "No face was found in any of its 95 analysed frames."
    assert len(errors) == 3


def test_parquet_output_reads_back_with_the_documented_columns(first_run):
    out, _ = first_run
    faces = pd.read_parquet(out / "faces")
    assert list(faces.columns) == [*COLUMNS, "file"]  # the results layout + the partition key
    assert set(faces["source"]) == {"happy_posed.jpg", "group.jpg", "clips/face_noface.mov"}
    assert faces.groupby("source")["file"].nunique().eq(1).all()
    photo = faces[faces.source == "happy_posed.jpg"]
    assert len(photo) == 1 and photo.iloc[0]["smoothed_label"] == "happy"
    assert (faces.source == "group.jpg").sum() == 5
    # Partitions are Hive style, one per input with faces: pandas can read one file's rows alone.
    assert sorted(p.name.split("=")[0] for p in (out / "faces").iterdir()) == ["file"] * 3
    key = faces.loc[faces.source == "group.jpg", "file"].iloc[0]
    one = pd.read_parquet(out / "faces", filters=[("file", "==", key)])
    assert len(one) == 5

    files = pd.read_parquet(out / "files.parquet")
    assert list(files.columns) == list(FILE_COLUMNS)
    row = files.set_index("source").loc["clips/face_noface.mov"]
    assert row["kind"] == "video" and row["status"] == "done" and row["chunks"] >= 3
    assert row["frames_analysed"] == 169 and row["faces"] == 1 and row["dominant"] in ("happy", "neutral")
    assert files.set_index("source").loc["clips/no_face.mp4", "status"] == "no_faces"

    import dask.dataframe as dd

    assert len(dd.read_parquet(out / "faces")) == len(faces)


def test_chunked_video_matches_a_single_pass(first_run, yunet_recognizer):
    """The video was cut at keyframes into 1 s chunks on two workers; put back together it is the same
    table as one pass through `analyze_video`: same frames, same face ids, same labels."""
    from fer_core.video import analyze_video

    out, _ = first_run
    chunked = open_results(out).faces(["clips/face_noface.mov"])
    whole = analyze_video(VIDEOS / "face_noface.mov", yunet_recognizer, source="clips/face_noface.mov").table
    assert chunked["frame"].tolist() == whole["frame"].tolist()
    assert chunked["face_id"].tolist() == whole["face_id"].tolist() == [1] * len(whole)
    assert (chunked["smoothed_label"] == whole["smoothed_label"]).mean() >= 0.95
    assert chunked["time"].is_monotonic_increasing


def test_rerun_skips_finished_work_and_retries_failures(tmp_path):
    from fer_core.batch import BatchOptions, run_batch
    from fer_core.batch.cluster import ClusterSpec

    archive = tmp_path / "archive"
    archive.mkdir()
    shutil.copy(PHOTOS / "happy_posed.jpg", archive / "happy.jpg")
    shutil.copy(VIDEOS / "single_face.mp4", archive / "clip.mp4")
    (archive / "broken.jpg").write_bytes(b"not a photo")
    (archive / "empty.jpg").write_bytes(b"")
    options = BatchOptions(out=tmp_path / "out", cluster=ClusterSpec(workers=1))

    first = run_batch([archive], options)
    assert (first.analysed, first.failed, first.skipped) == (2, 2, 0)
    partitions = {p: p.stat().st_mtime_ns for p in (tmp_path / "out" / "faces").rglob("*.parquet")}
    assert len(partitions) == 2

    shutil.copy(PHOTOS / "surprise_posed.jpg", archive / "broken.jpg")  # the user replaces the broken photo
    unrecorded = tmp_path / "out" / "faces" / "file=gone.jpg-0123abcd" / "part-0.parquet"
    unrecorded.parent.mkdir()  # as a Ctrl-C between writing a partition and recording it leaves one
    shutil.copy(next(iter(partitions)), unrecorded)
    second = run_batch([archive], options)
    assert not unrecorded.parent.exists()
    assert (second.skipped, second.analysed, second.failed) == (2, 1, 1)  # only the failures were tried again
    assert {p: p.stat().st_mtime_ns for p in partitions} == partitions  # finished partitions untouched
    results = open_results(tmp_path / "out")
    assert sorted(results.files["source"]) == ["broken.jpg", "clip.mp4", "happy.jpg"]
    assert results.errors["source"].tolist() == ["empty.jpg"]
    assert results.faces(["broken.jpg"])["smoothed_label"].tolist() == ["surprise"]

    third = run_batch([archive], options)
    assert (third.skipped, third.analysed, third.failed) == (3, 0, 1)
    assert len(pd.read_parquet(tmp_path / "out" / "faces")) == 72 + 2


def test_a_local_cluster_starts_after_a_streamlit_script_ran_in_this_process(tmp_path, monkeypatch):
    """Streamlit leaves `sys.modules["__main__"]` at the last script it ran (in the server: a page). Dask spawns
    its workers, and spawn runs the parent's main file again in each: here an AppTest script that cannot run
    bare, which stopped the worker ("Nanny failed to start") when the suite ran in another order."""
    from streamlit.testing.v1 import AppTest

    from fer_core.batch import BatchOptions, run_batch
    from fer_core.batch.cluster import ClusterSpec

    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])  # put back after the test

    def page():
        import streamlit as st

        st.write("a page")

    AppTest.from_function(page).run()
    assert sys.modules["__main__"].__file__ != sys.argv[0]  # the script's file, as in the server
    archive = tmp_path / "archive"
    archive.mkdir()
    shutil.copy(PHOTOS / "happy_posed.jpg", archive / "happy.jpg")
    result = run_batch([archive], BatchOptions(out=tmp_path / "out", cluster=ClusterSpec(workers=1)))
    assert (result.analysed, result.failed) == (1, 0)
    assert hasattr(sys.modules["__main__"], "__file__")  # the script's main module is back


def test_bad_jobs_are_one_line_and_a_non_zero_exit(first_run, tmp_path):
    out, _ = first_run
    missing = batch_cli(str(tmp_path / "nowhere"), "--out", str(tmp_path / "r"))
    assert missing.returncode == 1 and missing.stderr.strip() == f"error: {tmp_path / 'nowhere'} does not exist."
    other = batch_cli(str(PHOTOS / "happy_posed.jpg"), "--out", str(out), "--every", "2")
    assert other.returncode == 1 and len(other.stderr.strip().splitlines()) == 1
    assert "holds results made with other settings" in other.stderr
    options = batch_cli(str(PHOTOS), "--workers", "0")
    assert options.returncode == 2 and "Traceback" not in options.stderr
    main_cli = subprocess.run([sys.executable, "emotion_recognition.py", "batch", "--help"], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
    assert main_cli.returncode == 0 and "--scheduler" in main_cli.stdout


# --- a cluster started by hand, reached by address -------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def separate_cluster():
    """`dask scheduler` and `dask worker` as their own processes (as on a real cluster), stopped by pid."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # scheduler and workers must import fer_core
    dask = str(Path(sys.executable).with_name("dask"))
    scheduler = subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                  "--dashboard-address", "127.0.0.1:0"], env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([dask, "worker", f"tcp://127.0.0.1:{port}", "--nworkers", "1", "--nthreads", "1",
                               "--dashboard-address", "127.0.0.1:0"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        yield f"tcp://127.0.0.1:{port}"
    finally:
        for proc in (worker, scheduler):
            stop_process(proc, timeout=20)


def test_job_on_a_scheduler_and_worker_started_separately(separate_cluster, tmp_path):
    from distributed import Client

    from fer_core.batch import tasks

    out = tmp_path / "cluster"
    proc = batch_cli(str(PHOTOS / "happy_posed.jpg"), str(VIDEOS / "single_face.mp4"), "--out", str(out),
                     "--scheduler", separate_cluster, "--chunk-seconds", "1")
    assert proc.returncode == 0, proc.stderr
    assert f"Dask cluster at {separate_cluster}: 1 worker" in proc.stderr
    results = open_results(out)
    assert set(results.files["source"]) == {"happy_posed.jpg", "single_face.mp4"}
    video = results.faces(["single_face.mp4"])
    assert len(video) == 72 and video["face_id"].eq(1).all()
    assert video[video.time > 1.5]["smoothed_label"].eq("happy").mean() > 0.9
    # The worker built its detector and classifier once for the whole job.
    with Client(separate_cluster, set_as_default=False, timeout="10s") as client:
        assert list(client.run(tasks.loads).values()) == [1]


def test_unreachable_scheduler_is_one_line(tmp_path):
    proc = batch_cli(str(PHOTOS / "happy_posed.jpg"), "--out", str(tmp_path / "r"), "--scheduler",
                     f"tcp://127.0.0.1:{free_port()}")
    assert proc.returncode == 1 and proc.stderr.startswith("error: Could not reach a Dask scheduler at tcp://127.0.0.1:")
    assert len(proc.stderr.strip().splitlines()) == 1


# --- Ctrl-C ---------------------------------------------------------------------------------------------

def _logged_error(code: str, filename: str):
    """The log record tornado writes when a loop callback raises: `code` defines and runs `cancel()`."""
    import logging

    try:
        exec(compile(code, filename, "exec"), {})
    except Exception:  # noqa: BLE001 - the record carries it, as tornado's does
        return logging.LogRecord("tornado.application", logging.ERROR, __file__, 0, "Exception in callback",
                                 None, sys.exc_info())
    raise AssertionError("the code did not raise")


def test_only_distributeds_interrupt_race_is_dropped_from_the_log():
    """Ctrl-C before distributed's `sync()` has its future makes its `cancel` callback raise NameError, which tornado
    logs with a traceback (once in many runs of the test below); that one record is dropped, nothing else."""
    from fer_core.batch.cluster import INTERRUPT_RACE_FILTER

    race = "def cancel():\n    if future is not None:\n        pass\nfuture = None\ndel future\ncancel()\n"
    utils = str(Path("site-packages") / "distributed" / "utils.py")
    assert not INTERRUPT_RACE_FILTER.filter(_logged_error(race, utils))
    assert INTERRUPT_RACE_FILTER.filter(_logged_error(race, str(Path("fer_core") / "utils.py")))
    assert INTERRUPT_RACE_FILTER.filter(_logged_error("def cancel():\n    1 / 0\ncancel()\n", utils))


def test_ctrl_c_leaves_finished_inputs_readable_and_a_rerun_finishes(tmp_path):
    archive = tmp_path / "long"
    archive.mkdir()
    for i in range(8):
        shutil.copy(VIDEOS / "face_noface.mov", archive / f"take_{i}.mov")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "fer_core.batch", str(archive), "--out", str(out), "--workers", "1"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    manifest = out / "manifest.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (manifest.exists() and manifest.read_text().count("\n") >= 2):
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the job and its workers
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "Run the same command again to continue." in stderr
    results = open_results(out)
    done = len(results.files)
    assert 2 <= done < 8
    faces = pd.read_parquet(out / "faces")
    assert set(faces["source"]) == set(results.files["source"])  # every partition is a finished input
    assert not list(out.rglob(".*.tmp-*"))

    rerun = batch_cli(str(archive), "--out", str(out), "--workers", "1", "--json")
    report = json.loads(rerun.stdout)
    assert rerun.returncode == 0 and report["skipped"] == done and report["analysed"] == 8 - done
    assert len(open_results(out).files) == 8


# --- chunk boundaries ----------------------------------------------------------------------------------

@pytest.fixture(scope="module", params=["mp4", "mpg"])
def leave_and_return(tmp_path_factory, request) -> Path:
    """A 7 s video with a keyframe every half second: a face (single_face.mp4), an empty room (no_face.mp4,
    scaled), the face again. Cut every half second, the face is on both sides of several cuts, and it is
    away at others. As H.264 in MP4, and as MPEG-2 in an MPEG program stream (.mpg), whose demuxer lands a
    seek on the keyframe after the target (`VideoReader._decoded_from` seeks again from further back)."""
    import av
    import cv2

    def frames(path: Path, size: tuple[int, int]):
        with av.open(str(path)) as src:
            for frame in src.decode(video=0):
                yield cv2.resize(frame.to_ndarray(format="bgr24"), size, interpolation=cv2.INTER_AREA)

    target = tmp_path_factory.mktemp("media") / f"leave_and_return.{request.param}"
    with av.open(str(target), "w") as out:
        if request.param == "mp4":
            stream = out.add_stream("libx264", rate=30)
            stream.options = {"g": "15", "keyint_min": "15", "sc_threshold": "0", "preset": "ultrafast"}
        else:
            stream = out.add_stream("mpeg2video", rate=30)
            stream.gop_size, stream.bit_rate = 15, 2_000_000
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        for source in (VIDEOS / "single_face.mp4", VIDEOS / "no_face.mp4", VIDEOS / "single_face.mp4"):
            for image in frames(source, (640, 360)):
                for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                    out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return target


@pytest.mark.parametrize("every", [1, 3])
def test_chunk_boundaries_carry_ids_and_match_a_single_pass(leave_and_return, yunet_recognizer, every):
    """Cut at every keyframe (0.5 s), each chunk analysed on its own (as on separate workers) and stitched:
    the face keeps id 1 across the cuts inside its first stretch, comes back as id 2 after the empty room
    (as in one pass: a face that leaves for longer than a second is a new track), and rows, ids and labels
    equal those of `analyze_video`."""
    from fer_core.batch import tasks
    from fer_core.batch.stitch import stitch
    from fer_core.video import analyze_video

    path = str(leave_and_return)
    plan = tasks.plan_video(path, "clip.mp4", every=every, chunk_seconds=0.5)
    assert len(plan.chunks) >= 8
    if path.endswith(".mp4"):  # x264 was told to put a keyframe every 15 frames
        assert len(plan.chunks) >= 10 and all(c.first_frame % 15 == 0 for c in plan.chunks)
    outcomes = [tasks.analyze_chunk(path, "clip.mp4", chunk, yunet_recognizer.settings, every, plan.info.fps)
                for chunk in reversed(plan.chunks)]  # finishing order does not matter
    stitched = stitch(outcomes)
    whole = analyze_video(path, yunet_recognizer, every=every, source="clip.mp4").table
    table = stitched.table
    assert stitched.cuts == len(plan.chunks) - 1 and stitched.carried >= 4
    assert sorted(table["face_id"].unique()) == [1, 2] == sorted(whole["face_id"].unique())
    assert table["frame"].tolist() == whole["frame"].tolist()
    assert table["face_id"].tolist() == whole["face_id"].tolist()
    assert (table["smoothed_label"] == whole["smoothed_label"]).mean() >= 0.95
    assert table.loc[table.face_id == 1, "time"].max() < 2.5 < table.loc[table.face_id == 2, "time"].min()


def test_archive_mix_equals_the_summary_of_every_row(first_run):
    from fer_core.results import shares, summarize

    out, _ = first_run
    results = open_results(out)
    overall = shares(summarize(results.faces(), by=()).iloc[0])
    assert results.mix() == pytest.approx(overall, abs=1e-3)
