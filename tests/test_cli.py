"""The command line on real photos and videos, and on every kind of bad input."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from sample_media import PHOTOS, ROOT, STALL_SECONDS, VIDEOS
from fer_core.cli import main
from fer_core.errors import InvalidImageError, InvalidVideoError
from fer_core.io import load_image
from fer_core.video import analyze_video


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


# --- good input -----------------------------------------------------------------------------------------

def test_image_prints_one_line_per_face():
    code, out = run("--input", str(PHOTOS / "happy_astronaut.png"))
    assert code == 0 and out == "Detected Emotion: Happy\n"


def test_multi_face_image_lists_faces_left_to_right():
    code, out = run("--input", str(PHOTOS / "unlabelled_multi_face.jpg"), "--detector", "yunet")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 5
    assert all(line.startswith("Detected Emotion: ") for line in lines)


def test_json_output_is_machine_readable(tmp_path):
    from fer_core.results import COLUMNS

    code, out = run("--input", str(PHOTOS / "happy_posed.jpg"), "--json")
    data = json.loads(out)
    assert code == 0 and data["type"] == "image" and data["results"][0]["smoothed_label"] == "happy"
    assert list(data["results"][0]) == list(COLUMNS) and data["settings"]["detector"] == "yunet"


@pytest.mark.parametrize("suffix", [".csv", ".json", ".parquet"])
def test_results_table_in_every_export_format(tmp_path, suffix):
    """One layout whatever the file type: the columns of fer_core.results.COLUMNS, one row per face; plain
    pandas reads each (a CSV's provenance line skipped as a comment, a JSON's rows under "results")."""
    from fer_core.results import COLUMNS

    target = tmp_path / f"faces{suffix}"
    code, _ = run("--input", str(PHOTOS / "unlabelled_multi_face.jpg"), "--results", str(target))
    table = {".csv": lambda p: pd.read_csv(p, comment="#"),
             ".json": lambda p: pd.DataFrame(json.loads(p.read_text())["results"]),
             ".parquet": pd.read_parquet}[suffix](target)
    assert code == 0 and list(table.columns) == list(COLUMNS)
    assert len(table) == 5 and table.face_id.tolist() == [1, 2, 3, 4, 5]
    assert set(table.source) == {"unlabelled_multi_face.jpg"}


def test_annotated_image_is_written(tmp_path):
    target = tmp_path / "out" / "astronaut.png"
    code, _ = run("--input", str(PHOTOS / "happy_astronaut.png"), "--output", str(target))
    assert code == 0
    annotated = load_image(target)
    assert annotated.shape == (512, 512, 3)
    assert not np.array_equal(annotated, load_image(PHOTOS / "happy_astronaut.png"))


def test_video_prints_a_summary_per_face(tmp_path):
    out_video = tmp_path / "annotated.mp4"
    csv = tmp_path / "timeline.csv"
    code, out = run("--input", str(VIDEOS / "single_face.mp4"), "--every", "2", "--output", str(out_video), "--csv", str(csv))
    assert code == 0
    assert out.splitlines()[0] == "Video: 2.4 s, 36 of 72 frames analysed"
    assert out.splitlines()[1].startswith("Face 1 (0.0-2.3 s): Detected Emotion: Happy (Happy")
    assert "Neutral" in out.splitlines()[1]
    assert out_video.stat().st_size > 10_000
    table = pd.read_csv(csv, comment="#")
    assert len(table) == 36 and set(table.source) == {"single_face.mp4"} and table.frame.tolist() == list(range(0, 72, 2))


def test_video_json_has_timeline():
    code, out = run("--input", str(VIDEOS / "single_face.mp4"), "--json", "--fps", "10", "--detector", "yunet")
    data = json.loads(out)
    assert code == 0 and data["type"] == "video" and data["every"] == 3
    assert data["summary"][0]["dominant"] == "happy" and len(data["results"]) == 24


def test_video_without_faces_says_so():
    code, out = run("--input", str(VIDEOS / "no_face.mp4"), "--every", "5")
    assert code == 0 and out.splitlines()[-1] == "No faces detected"


def test_list_models():
    code, out = run("--list-models")
    assert code == 0 and "mini_xception_fer2013" in out
    with pytest.raises(SystemExit) as stop:
        main([])  # no input and nothing else to do: a usage error
    assert stop.value.code == 2


def test_folder_run_skips_a_bad_file_and_writes_a_csv(tmp_path, capsys):
    folder = tmp_path / "media"
    (folder / "sub").mkdir(parents=True)
    for name in ("happy_astronaut.png", "surprise_posed.jpg"):
        (folder / name).write_bytes((PHOTOS / name).read_bytes())
    (folder / "sub" / "single_face.mp4").write_bytes((VIDEOS / "single_face.mp4").read_bytes())
    (folder / "broken.jpg").write_text("not an image")
    (folder / "notes.txt").write_text("ignored: not media")
    csv = tmp_path / "all.csv"
    code, out = run("--input", str(folder), "--csv", str(csv), "--every", "6", "--output", str(tmp_path / "annotated"))
    assert code == 0
    assert "happy_astronaut.png: Happy" in out and "sub/single_face.mp4: face 1: Happy" in out
    assert "3 of 4 files analysed" in out
    assert "skipped broken.jpg: broken.jpg is not an image this tool can read." in capsys.readouterr().err
    table = pd.read_csv(csv, comment="#")
    assert set(table.source) == {"happy_astronaut.png", "surprise_posed.jpg", "sub/single_face.mp4"}
    assert table[table.source == "sub/single_face.mp4"].frame.tolist() == list(range(0, 72, 6))
    assert (tmp_path / "annotated" / "sub" / "single_face.mp4").exists()
    assert (tmp_path / "annotated" / "happy_astronaut.png").exists()


def test_folder_run_keeps_an_annotated_copy_of_each_file_when_names_meet(tmp_path):
    """clip.mov and clip.mp4 would both be annotated as clip.mp4, face.jpg and face.png as face.png."""
    folder = tmp_path / "media"
    folder.mkdir()
    (folder / "face.jpg").write_bytes((PHOTOS / "happy_posed.jpg").read_bytes())
    (folder / "face.png").write_bytes((PHOTOS / "happy_astronaut.png").read_bytes())
    (folder / "solo.jpg").write_bytes((PHOTOS / "surprise_posed.jpg").read_bytes())
    (folder / "clip.mov").write_bytes((VIDEOS / "face_noface.mov").read_bytes())
    (folder / "clip.mp4").write_bytes((VIDEOS / "single_face.mp4").read_bytes())
    out = tmp_path / "annotated"
    code, _ = run("--input", str(folder), "--results", str(tmp_path / "all.csv"), "--every", "12", "--output", str(out))
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["clip.mov.mp4", "clip.mp4.mp4", "face.jpg.png", "face.png.png",
                                                     "solo.png"]
    assert _frames_in(out / "clip.mov.mp4") == _frames_in(folder / "clip.mov")
    assert _frames_in(out / "clip.mp4.mp4") == 72


# --- bad input: one line, non-zero exit, no traceback ----------------------------------------------------

def _truncated_jpeg(path):
    data = (PHOTOS / "happy_posed.jpg").read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _video_without_frames(path):
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        container.start_encoding()  # header and trailer, but not a single frame


BAD_INPUTS = {
    "text named .jpg": ("fake.jpg", lambda p: p.write_text("hello, I am text"), "is not an image this tool can read"),
    "zero-byte image": ("empty.png", lambda p: p.write_bytes(b""), "is empty (0 bytes)"),
    "truncated jpeg": ("cut.jpg", _truncated_jpeg, "damaged or truncated"),
    "truncated png": ("cut.png", lambda p: p.write_bytes((PHOTOS / "happy_astronaut.png").read_bytes()[:300_000]),
                      "damaged or truncated"),
    "huge image": ("huge.png", lambda p: Image.new("1", (20000, 20000)).save(p), "more than the 50 megapixel limit"),
    "corrupt video": ("noise.mp4", lambda p: p.write_bytes(np.random.default_rng(0).bytes(50_000)), "not a video this tool can decode"),
    "zero-byte video": ("empty.mp4", lambda p: p.write_bytes(b""), "is empty (0 bytes)"),
    "video without frames": ("frameless.mp4", _video_without_frames, "no frames to analyse"),
    "unsupported type": ("notes.txt", lambda p: p.write_text("text"), "neither an image nor a video"),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_gets_one_clear_line(case, tmp_path, capsys):
    name, make, message = BAD_INPUTS[case]
    path = tmp_path / name
    make(path)
    code, out = run("--input", str(path))
    err = capsys.readouterr().err
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err


def test_missing_path_and_empty_folder(tmp_path, capsys):
    assert run("--input", str(tmp_path / "nope.jpg"))[0] == 1
    assert capsys.readouterr().err == f"error: {tmp_path / 'nope.jpg'} does not exist.\n"
    assert run("--input", str(tmp_path))[0] == 1
    assert capsys.readouterr().err == f"error: {tmp_path} has no images or videos in it.\n"


def test_a_results_file_that_cannot_be_written_is_refused_before_the_run(tmp_path, capsys):
    """Not after an hour of analysis: nothing is analysed and nothing is written."""
    folder = tmp_path / "clips"
    folder.mkdir()
    (folder / "a.mp4").write_bytes((VIDEOS / "single_face.mp4").read_bytes())
    annotated = tmp_path / "annotated"
    for results, message in ((tmp_path / "faces.xlsx", "Results can be written as .csv, .json or .parquet, not "
                              "faces.xlsx."),
                             (tmp_path, f"Could not write the results to {tmp_path}; name a file in a folder you "
                              "can write to."),
                             (folder / "a.mp4" / "faces.json", f"Could not write the results to {folder / 'a.mp4'}"
                              "/faces.json; name a file in a folder you can write to.")):
        for given in (folder, folder / "a.mp4"):
            code, out = run("--input", str(given), "--results", str(results), "--output", str(annotated))
            assert (code, out) == (1, "") and capsys.readouterr().err == f"error: {message}\n"
            assert not annotated.exists()


def test_a_run_that_fails_before_its_first_frame_leaves_the_results_file_as_it_was(tmp_path, capsys):
    table = tmp_path / "door.csv"
    table.write_text("yesterday's rows\n")
    frameless = tmp_path / "frameless.mp4"
    _video_without_frames(frameless)
    for given in (str(frameless), f"http://viewer:s3cret@127.0.0.1:{_closed_port()}/camera.ts"):
        assert run("--input", given, "--results", str(table))[0] == 1
        assert table.read_text() == "yesterday's rows\n"
    assert capsys.readouterr().err.count("error: ") == 2


def _closed_port() -> int:
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        return unused.getsockname()[1]


def test_bad_options_exit_2(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--input", str(PHOTOS / "happy_posed.jpg"), "--every", "0"])
    assert stop.value.code == 2
    with pytest.raises(SystemExit):
        main(["--input", str(PHOTOS / "happy_posed.jpg"), "--detector", "nope"])


def test_truncated_video_keeps_what_decodes(tmp_path, haar_recognizer):
    data = (VIDEOS / "single_face.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    try:
        analysis = analyze_video(cut, haar_recognizer)
    except InvalidVideoError as error:  # the index may sit at the end of the file: then nothing decodes
        assert "cut.mp4" in str(error)
    else:
        assert 0 < analysis.frames_decoded < 72


def test_whole_process_has_no_traceback_on_bad_input(tmp_path):
    bad = tmp_path / "fake.jpg"
    bad.write_text("text")
    result = subprocess.run([sys.executable, str(ROOT / "emotion_recognition.py"), "--input", str(bad)],
                            capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 1
    assert result.stderr == "error: fake.jpg is not an image this tool can read.\n"
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_whole_process_prints_json_only(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "emotion_recognition.py"), "--input",
                             str(PHOTOS / "happy_astronaut.png"), "--json"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    assert json.loads(result.stdout)["results"][0]["label"] == "happy"


# --- Ctrl-C keeps the work done so far -------------------------------------------------------------------

@pytest.fixture(scope="module")
def five_minute_video(tmp_path_factory):
    """single_face.mp4 looped for 5 minutes (9,000 frames): far more than a test waits for."""
    from benchmarks.common import make_looped_video

    return make_looped_video(tmp_path_factory.mktemp("long") / "five_minutes.mp4", 300)


def _default_ctrl_c() -> None:
    """In the child: Ctrl-C as a terminal delivers it, even where this test run was started with it ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _ctrl_c_once_writing(argv: list[str], started: Path, cwd: Path) -> subprocess.CompletedProcess:
    """Run the CLI, press Ctrl-C (SIGINT) once `started` has grown past its first frames, and wait for the end."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "emotion_recognition.py"), *argv], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_default_ctrl_c)
    deadline = time.time() + 120
    while time.time() < deadline and not (started.exists() and started.stat().st_size > 20_000):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def _frames_in(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_ctrl_c_on_a_long_video_keeps_the_results_so_far(tmp_path, five_minute_video):
    """The first Ctrl-C ends the analysis at the next frame: the table, the summary and a playable annotated
    copy of what was analysed, exit status 130, one line on stderr and no traceback."""
    import re

    table, annotated = tmp_path / "faces.csv", tmp_path / "annotated.mp4"
    result = _ctrl_c_once_writing(["--input", str(five_minute_video), "--results", str(table), "--output",
                                   str(annotated)], annotated, tmp_path)
    assert result.returncode == 130, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    stopped = re.fullmatch(r"stopped by Ctrl-C after (\d+) of 9000 frames, at ([\d.]+) s; results so far in (.+)\n",
                           result.stderr)
    assert stopped and stopped.group(3) == str(table), result.stderr
    frames = int(stopped.group(1))
    assert 0 < frames < 9000
    assert result.stdout.startswith(f"Video: 300.0 s, {frames} of {frames} frames analysed\n")
    assert "Face 1 (0.0-" in result.stdout and "Detected Emotion: Happy" in result.stdout
    faces = pd.read_csv(table, comment="#")
    assert faces.frame.max() == frames - 1 and faces.time.max() == pytest.approx(float(stopped.group(2)), abs=0.05)
    assert _frames_in(annotated) == frames  # the copy was closed properly, not cut off mid-file


def test_ctrl_c_in_a_folder_run_writes_the_files_done_so_far(tmp_path, five_minute_video):
    folder = tmp_path / "media"
    folder.mkdir()
    for name, source in (("a_happy.jpg", PHOTOS / "happy_posed.jpg"), ("b_surprise.jpg", PHOTOS / "surprise_posed.jpg"),
                         ("c_long.mp4", five_minute_video), ("d_never.jpg", PHOTOS / "angry_posed.jpg")):
        (folder / name).write_bytes(source.read_bytes())
    table = tmp_path / "all.csv"
    result = _ctrl_c_once_writing(["--input", str(folder), "--results", str(table), "--output",
                                   str(tmp_path / "annotated")], tmp_path / "annotated" / "c_long.mp4", tmp_path)
    assert result.returncode == 130, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["a_happy.jpg: Happy", "b_surprise.jpg: Surprise"]
    assert lines[-1].startswith("stopped by Ctrl-C: 3 of 4 files analysed (c_long.mp4 stopped after ")
    assert lines[-1].endswith(f"; results so far in {table}")
    faces = pd.read_csv(table, comment="#")
    assert set(faces.source) == {"a_happy.jpg", "b_surprise.jpg", "c_long.mp4"}  # d_never.jpg was not started
    assert 0 < (faces.source == "c_long.mp4").sum() < 9000


# --- network streams ---------------------------------------------------------------------------------------

def test_a_stream_url_is_read_to_its_end(stream_server, tmp_path):
    url = f"{stream_server.url}/single_face.ts"
    table = tmp_path / "stream.csv"
    began = pd.Timestamp.now(tz="UTC").floor("ms")
    code, out = run("--input", url, "--results", str(table))
    assert code == 0
    assert out.startswith("Stream: 2.4 s, 72 of 72 frames analysed\nFace 1 (0.0-2.4 s): Detected Emotion: Happy")
    faces = pd.read_csv(table, comment="#")
    assert set(faces.source) == {url} and faces.frame.tolist() == list(range(72))
    assert faces.time.iloc[0] == 0 and faces.time.iloc[-1] == pytest.approx(71 / 30, abs=0.01)  # from its first frame
    clocks = pd.to_datetime(faces.clock, utc=True)  # the wall clock: when the stream began, plus the time
    assert began <= clocks.iloc[0] <= pd.Timestamp.now(tz="UTC")
    assert ((clocks - clocks.iloc[0]).dt.total_seconds() - faces.time).abs().max() < 0.002
    code, _ = run("--input", str(VIDEOS / "single_face.mp4"), "--results", str(table))
    assert code == 0 and pd.read_csv(table, comment="#").clock.isna().all()  # a file's own clock is unknown


def test_a_password_in_a_stream_url_is_not_written_anywhere(stream_server, tmp_path, capsys):
    secret = stream_server.url.replace("http://", "http://viewer:s3cret@")
    shown = stream_server.url.replace("http://", "http://viewer:***@")
    table = tmp_path / "stream.json"
    code, out = run("--input", f"{secret}/single_face.ts?token=t0ken", "--json", "--every", "12", "--results", str(table))
    assert code == 0 and json.loads(out)["type"] == "stream"
    assert json.loads(out)["input"] == f"{shown}/single_face.ts?token=***"
    assert set(pd.DataFrame(json.loads(table.read_text())["results"]).source) == {f"{shown}/single_face.ts?token=***"}
    assert run("--input", f"{secret}/missing.ts")[0] == 1
    assert run("batch", f"{secret}/single_face.ts", "--out", str(tmp_path / "batch"))[0] == 1
    err = capsys.readouterr().err
    assert f"error: The stream {shown}/missing.ts could not be opened (server returned 404 not found).\n" in err
    assert f"error: Batch jobs read files, folders and patterns, not addresses such as {shown}/single_face.ts" in err
    for text in (out, table.read_text(), err):
        assert "s3cret" not in text and "t0ken" not in text


def test_a_stream_that_goes_silent_ends_with_what_it_sent(stream_server, monkeypatch, capsys):
    monkeypatch.setattr("fer_core.video.STREAM_TIMEOUT", 1.0)
    url = f"{stream_server.url}/stalled.ts"
    started = time.time()
    code, out = run("--input", url)
    assert code == 0 and time.time() - started < STALL_SECONDS / 2  # the 1 s timeout ended it, not the server
    frames = int(out.split(" of ")[1].split()[0])
    assert 0 < frames < 72 and "Detected Emotion:" in out
    assert capsys.readouterr().err == (f"note: {url} broke off after {frames} frames (damaged, or a stream silent "
                                       "for too long); the results cover those frames\n")


def test_ctrl_c_while_a_stream_is_silent_stops_it_at_once_with_its_results(stream_server, tmp_path):
    """The first Ctrl-C does not wait for the stream's 10 s timeout: the run ends within about a second,
    keeps what arrived, and exits 130 (and does not crash with the stream's read still under way)."""
    stream_server.stalled.clear()
    table = tmp_path / "faces.csv"
    proc = subprocess.Popen([sys.executable, str(ROOT / "emotion_recognition.py"), "--input",
                             f"{stream_server.url}/stalled.ts", "--results", str(table)], cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_default_ctrl_c)
    assert stream_server.stalled.wait(60)
    time.sleep(1.5)  # the CLI decodes and analyses what arrived, then waits for more
    pressed = time.time()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130 and time.time() - pressed < 5, stderr
    assert stderr.startswith("stopped by Ctrl-C after ") and stderr.endswith(f"; results so far in {table}\n")
    assert stdout.startswith("Stream: ") and len(pd.read_csv(table, comment="#")) > 0


def test_a_stream_run_killed_outright_keeps_the_faces_it_had_seen(stream_server, tmp_path):
    """A .csv results file grows while the stream is read: a run killed with no chance to clean up (SIGKILL,
    as a crash or a power cut would end it) during the stream's silence still leaves a valid table with a
    row for every frame that arrived, written within about a second of it."""
    from fer_core.results import COLUMNS

    stream_server.stalled.clear()
    table = tmp_path / "faces.csv"
    proc = subprocess.Popen([sys.executable, str(ROOT / "emotion_recognition.py"), "--input",
                             f"{stream_server.url}/stalled.ts", "--results", str(table)], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert stream_server.stalled.wait(60)
    deadline = time.time() + 6  # the CLI waits 10 s for more before it ends by itself
    while time.time() < deadline and (not table.exists() or table.read_text().count("\n") < 2):
        time.sleep(0.1)
    time.sleep(1.5)  # the rest of what arrived, analysed, and its next write a second later
    assert proc.poll() is None  # still waiting for the stream
    proc.kill()
    assert proc.wait(timeout=30) == -signal.SIGKILL
    faces = pd.read_csv(table, comment="#")
    assert list(faces.columns) == list(COLUMNS) and not faces.short_track.any()
    assert len(faces) > 10 and faces.frame.tolist() == list(range(len(faces)))


BAD_ADDRESSES = {
    "unsupported scheme": ("ftp://viewer:s3cret@10.0.0.5/clip.mp4", "ftp://viewer:***@10.0.0.5/clip.mp4 is not a "
                           "stream this tool reads: use rtsp, rtsps, rtmp, rtmps, http, https, udp, tcp or rtp (://) "
                           "addresses, or give a file."),
    "a photo's address": ("https://example.org/faces/happy.JPG?size=big", "https://example.org/faces/happy.JPG?size=big "
                          "is the address of a photo, and addresses are read as video streams: save the photo and give "
                          "its file."),
    "not a well-formed URL": ("rtsp://[::1/stream", "The rtsp:// address given is not a well-formed URL; check it."),
}


@pytest.mark.parametrize("case", BAD_ADDRESSES, ids=list(BAD_ADDRESSES))
def test_an_address_this_tool_cannot_read_is_one_line(case, capsys):
    address, message = BAD_ADDRESSES[case]
    assert run("--input", address)[0] == 1
    assert capsys.readouterr().err == f"error: {message}\n"


def test_a_stream_that_cannot_be_opened_is_one_line(capsys):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}/live.ts"
    assert run("--input", closed)[0] == 1
    assert capsys.readouterr().err == f"error: The stream {closed} could not be opened (connection refused).\n"


# --- unusual but valid images ----------------------------------------------------------------------------

def _happy_face_variants(tmp_path):
    bgr = cv2.imread(str(PHOTOS / "happy_posed.jpg"))
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    paths = {
        "16-bit png": tmp_path / "deep.png",
        "rgba png": tmp_path / "alpha.png",
        "grayscale jpeg": tmp_path / "gray.jpg",
        "webp": tmp_path / "face.webp",
        "bmp": tmp_path / "face.bmp",
    }
    cv2.imwrite(str(paths["16-bit png"]), gray.astype(np.uint16) * 257)
    cv2.imwrite(str(paths["rgba png"]), np.dstack([bgr, np.full(gray.shape, 255, np.uint8)]))
    cv2.imwrite(str(paths["grayscale jpeg"]), gray)
    cv2.imwrite(str(paths["webp"]), bgr)
    cv2.imwrite(str(paths["bmp"]), bgr)
    return paths


def test_unusual_image_formats_still_work(tmp_path):
    for kind, path in _happy_face_variants(tmp_path).items():
        image = load_image(path)
        assert image.dtype == np.uint8 and image.shape == (512, 512, 3), kind
        code, out = run("--input", str(path))
        assert (code, out) == (0, "Detected Emotion: Happy\n"), kind


def test_sixteen_bit_values_are_rescaled_not_clipped(tmp_path):
    path = _happy_face_variants(tmp_path)["16-bit png"]
    gray = cv2.cvtColor(cv2.imread(str(PHOTOS / "happy_posed.jpg")), cv2.COLOR_BGR2GRAY)
    assert np.abs(load_image(path)[:, :, 0].astype(int) - gray).max() <= 1


def test_exif_orientation_is_applied(tmp_path):
    # As a phone held sideways stores it: pixels turned a quarter left, EXIF saying "turn right to view".
    photo = Image.open(PHOTOS / "happy_single_face.jpg").rotate(90, expand=True)  # 562 wide, 572 high
    exif = Image.Exif()
    exif[0x0112] = 6
    photo.save(tmp_path / "turned.jpg", exif=exif)
    assert load_image(tmp_path / "turned.jpg").shape == (562, 572, 3)
    assert run("--input", str(tmp_path / "turned.jpg")) == (0, "Detected Emotion: Happy\n")


def test_bytes_input_and_library_errors():
    assert load_image((PHOTOS / "happy_posed.jpg").read_bytes()).shape == (512, 512, 3)
    with pytest.raises(InvalidImageError, match="empty"):
        load_image(b"")


def test_big_photo_is_downscaled_once_at_decode_and_boxes_map_back(tmp_path, yunet_recognizer):
    """A 4096x4096 JPEG (the 512-pixel sample enlarged 8x) is decoded straight to 2048 pixels; the face found
    there, mapped back with `Photo.scale`, is where it is in the full-size decode."""
    from fer_core.io import PHOTO_MAX_SIDE, decode_photo
    from fer_core.results import faces_table, scale_faces

    big = tmp_path / "big.jpg"
    Image.open(PHOTOS / "happy_posed.jpg").resize((4096, 4096), Image.Resampling.BICUBIC).save(big, quality=92)
    data = big.read_bytes()
    photo = decode_photo(data, "big.jpg")
    assert photo.image.shape == (PHOTO_MAX_SIDE, PHOTO_MAX_SIDE, 3) and (photo.width, photo.height) == (4096, 4096)
    assert photo.scale == 2.0 and photo.downscaled
    small_faces = yunet_recognizer.analyze(photo.image)
    full_faces = yunet_recognizer.analyze(load_image(big))
    assert [f.label for f in small_faces] == ["happy"] == [f.label for f in full_faces]
    mapped = faces_table(scale_faces(small_faces, photo.scale), "big.jpg").iloc[0]
    full = full_faces[0].box
    for got, want in zip((mapped.x, mapped.y, mapped.w, mapped.h), (full.x, full.y, full.w, full.h)):
        assert abs(got - want) <= 0.03 * full.w
    # A big phone photo stored sideways with an EXIF turn: turned, and its own size is the turned one.
    turned = tmp_path / "turned.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.open(PHOTOS / "happy_single_face.jpg").resize((3000, 4500)).rotate(90, expand=True).save(turned, exif=exif)
    photo = decode_photo(turned.read_bytes(), "turned.jpg")
    assert (photo.width, photo.height) == (3000, 4500) and photo.image.shape == (2048, 1365, 3)
    assert photo.image.shape[0] / photo.image.shape[1] == pytest.approx(4500 / 3000, rel=0.01)
    assert yunet_recognizer.analyze(photo.image)[0].label == "happy", "the face upright, as the full decode shows it"
    # A photo that fits is decoded as it is, and the messages are decode_image's.
    assert decode_photo((PHOTOS / "happy_posed.jpg").read_bytes()).scale == 1.0
    with pytest.raises(InvalidImageError, match="big.jpg could not be decoded: it is damaged or truncated.$"):
        decode_photo(data[: len(data) // 2], "big.jpg")


def test_truncated_jpeg_message_has_no_library_detail(tmp_path):
    data = (PHOTOS / "happy_posed.jpg").read_bytes()
    with pytest.raises(InvalidImageError) as error:
        load_image(data[: len(data) - 21])
    assert str(error.value) == "the image could not be decoded: it is damaged or truncated."
