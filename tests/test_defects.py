"""The smaller defects of issue 27 (item 7), each on real inputs: a huge image in a training zip, photos over
the pixel bound, face numbers in reading order, labels readable at phone width, the webcam summary's length,
and the network camera's "Connected" box."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from fer_core.errors import DatasetError, InvalidImageError
from fer_core.io import MAX_PIXELS, PHOTO_MAX_SIDE, decode_image, decode_photo, load_image
from fer_core.results import Box
from sample_media import FER_MINI, PHOTOS, ROOT, VIDEOS

LIMIT = "more than the 50 megapixel limit; downscale it first."


def png_of_zeros(width: int, height: int) -> bytes:
    """A valid black 1-bit PNG of width x height, built in a fraction of a second (a 40000x40000 one is 195 KB):
    one compressed block of 1000 rows, flushed so that the same bytes stand for every further 1000 rows."""
    row = bytes(width // 8 + 1)  # the filter byte and the row's bits, all 0
    assert width % 8 == 0 and height % 1000 == 0
    packer = zlib.compressobj(9)
    first = packer.compress(row * 1000) + packer.flush(zlib.Z_FULL_FLUSH)
    block = packer.compress(row * 1000) + packer.flush(zlib.Z_FULL_FLUSH)
    assert first[2:] == block  # after the 2-byte zlib header
    total = len(row) * height
    adler = struct.pack(">I", ((total % 65521) << 16) | 1)  # Adler-32 of `total` zero bytes
    data = first + block * (height // 1000 - 1) + packer.flush()[:-4] + adler

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


# --- a huge or broken image in a training zip --------------------------------------------------------------

def test_png_of_zeros_is_a_real_png():
    image = Image.open(io.BytesIO(png_of_zeros(4000, 3000)))
    image.load()  # decodes every row and checks the checksum
    assert image.size == (4000, 3000) and image.getextrema() == (0, 0)


def test_a_training_zip_with_a_40000_pixel_png_is_one_sentence(tmp_path):
    """The Training page unpacks the zip and reads it with `load_folder` before anything heavy: the 40000x40000
    PNG (which OpenCV refuses with a cv2.error) is one sentence naming the file, as every other bad image is."""
    from fer_core.training.data import extract_zip, load_folder

    huge = png_of_zeros(40000, 40000)
    assert len(huge) < 300_000
    faces = {f"faces/{e}/{p.name}": p.read_bytes() for e in ("happy", "sad")
             for p in sorted((FER_MINI / e).glob("*.jpg"))[:3]}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in {**faces, "faces/happy/huge.png": huge}.items():
            archive.writestr(name, data)
    root = extract_zip(buf.getvalue(), tmp_path / "unpacked", name="faces.zip")
    with pytest.raises(DatasetError) as error:
        load_folder(root)
    path = root / "faces" / "happy" / "huge.png"
    assert str(error.value) == f"Cannot read the image {path}: it is 40000x40000 pixels, {LIMIT}"
    # The other ways an image in a dataset can be bad: one sentence each, naming the file.
    face = sorted((FER_MINI / "happy").glob("*.jpg"))[0].read_bytes()
    for name, data, reason in [("empty.jpg", b"", "it is empty (0 bytes)."),
                               ("text.jpg", b"not an image", "it is not an image this tool can read."),
                               ("cut.jpg", face[: len(face) // 2], "it could not be decoded: it is damaged or "
                                                                   "truncated.")]:
        path.unlink()
        path = root / "faces" / "happy" / name
        path.write_bytes(data)
        with pytest.raises(DatasetError) as error:
            load_folder(root)
        assert str(error.value) == f"Cannot read the image {path}: {reason}"
    path.unlink()
    assert len(load_folder(root)) == 6  # the good faces read as before


def test_a_huge_png_is_one_sentence_wherever_an_image_is_read():
    huge = png_of_zeros(40000, 40000)
    for read in (lambda: decode_image(huge, "huge.png"), lambda: decode_photo(huge, "huge.png"),
                 lambda: decode_photo(huge, "huge.png", max_side=None), lambda: load_image(huge)):
        with pytest.raises(InvalidImageError, match=r"^(huge.png|the image) is 40000x40000 pixels, more than the 50 "):
            read()


# --- photos over the pixel bound -----------------------------------------------------------------------------

def _jpeg_of_size(width: int, height: int) -> bytes:
    """A small JPEG whose header says width x height (its SOF0 patched): Pillow reads its size, nothing more."""
    buf = io.BytesIO()
    Image.new("L", (16, 16)).save(buf, "JPEG")
    data = bytearray(buf.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@pytest.fixture(scope="module")
def group_61mp(tmp_path_factory) -> Path:
    """The sample group photo enlarged to 9600x6400 (61 megapixels), a JPEG of 2.9 MB."""
    path = tmp_path_factory.mktemp("big") / "group.jpg"
    Image.open(PHOTOS / "unlabelled_multi_face.jpg").resize((9600, 6400), Image.Resampling.BILINEAR).save(path,
                                                                                                          quality=85)
    return path


def _same_faces_scaled(boxes: list[Box], small: list[Box], factor: float = 9.6) -> None:
    """The same faces in the same order, where the 1000-pixel photo's are, `factor` times as far."""
    assert len(boxes) == len(small) == 5
    for box, face in zip(boxes, small):
        assert abs(box.x - face.x * factor) < 0.05 * face.w * factor
        assert abs(box.y - face.y * factor) < 0.05 * face.h * factor


def test_a_jpeg_over_the_pixel_bound_is_decoded_reduced_and_its_faces_map_back(group_61mp, yunet_recognizer):
    """A 61-megapixel group photo: no longer refused; decoded straight at a reduced size (at most 2048 pixels
    for the page, or at half size, 15 megapixels, when no size is asked), five faces whose boxes map back to
    the photo's own pixels. The full-size decode (`decode_image`, `load_image`) still refuses it."""
    from fer_core.results import scale_faces

    data = group_61mp.read_bytes()
    assert 9600 * 6400 > MAX_PIXELS
    shown = decode_photo(data, "group.jpg")
    assert shown.image.shape == (1365, PHOTO_MAX_SIDE, 3) and (shown.width, shown.height) == (9600, 6400)
    whole = decode_photo(data, "group.jpg", max_side=None)
    assert whole.image.shape == (3200, 4800, 3) and whole.scale == 2.0  # the pixels decoded: 15.4 MP
    small = [f.box for f in yunet_recognizer.analyze(load_image(PHOTOS / "unlabelled_multi_face.jpg"))]
    _same_faces_scaled([f.box for f in scale_faces(yunet_recognizer.analyze(shown.image), shown.scale)], small)
    with pytest.raises(InvalidImageError, match=f"^group.jpg is 9600x6400 pixels, {LIMIT}$"):
        decode_image(data, "group.jpg")


def test_the_command_line_and_the_batch_job_read_it_too(group_61mp, tmp_path, yunet_recognizer):
    """`--input group.jpg --results` and a batch task: five faces, boxes in the file's pixels, its own size."""
    from fer_core.batch.tasks import analyze_photo
    from fer_core.cli import main
    from fer_core.results import read_table
    from fer_core.settings import Settings

    small = [f.box for f in yunet_recognizer.analyze(load_image(PHOTOS / "unlabelled_multi_face.jpg"))]
    results, annotated = tmp_path / "faces.csv", tmp_path / "annotated.jpg"
    assert main(["--input", str(group_61mp), "--results", str(results), "--output", str(annotated)],
                out=io.StringIO()) == 0
    table = read_table(results.read_bytes(), results.name)
    _same_faces_scaled([Box(r.x, r.y, r.w, r.h) for r in table.itertuples()], small)
    assert load_image(annotated).shape == (3200, 4800, 3)  # drawn on what was decoded
    done = analyze_photo(str(group_61mp), "group.jpg", "group.jpg", Settings())
    assert (done.summary["width"], done.summary["height"], done.summary["faces"]) == (9600, 6400, 5)


def test_the_bound_holds_on_the_pixels_actually_decoded():
    """A format without reduced decoding over the bound, and a JPEG whose smallest decode (1/8) is still over
    it, are refused in one sentence that gives their size, before any pixel is decoded."""
    png = png_of_zeros(9600, 6000)
    with pytest.raises(InvalidImageError, match=f"^big.png is 9600x6000 pixels, {LIMIT}$"):
        decode_photo(png, "big.png")
    giant = _jpeg_of_size(65000, 65000)  # 1/8: 8125x8125, 66 megapixels
    for max_side in (PHOTO_MAX_SIDE, None):
        with pytest.raises(InvalidImageError, match=f"^giant.jpg is 65000x65000 pixels, {LIMIT}$"):
            decode_photo(giant, "giant.jpg", max_side=max_side)


# --- face numbers in reading order ---------------------------------------------------------------------------

def test_reading_order_rows_top_to_bottom_then_left_to_right():
    from fer_core.pipeline import reading_order

    bottom_left, top_left = Box(10, 400, 100, 100), Box(60, 20, 100, 100)
    top_right, bottom_right = Box(400, 45, 100, 100), Box(300, 420, 90, 90)
    assert reading_order([bottom_left, top_left, top_right, bottom_right]) == [top_left, top_right, bottom_left,
                                                                                bottom_right]
    # Heads at slightly different heights (within half a face) are one row, read left to right.
    row = [Box(300, 90, 100, 100), Box(0, 100, 100, 100), Box(150, 140, 100, 100)]
    assert reading_order(row) == [row[1], row[2], row[0]]
    # Half a face lower or more is the next row.
    assert reading_order([Box(0, 160, 100, 100), Box(150, 100, 100, 100)]) == [Box(150, 100, 100, 100),
                                                                               Box(0, 160, 100, 100)]
    assert reading_order([]) == []


def test_a_photo_numbers_its_faces_in_reading_order(yunet_recognizer):
    """Two real faces, the upper one to the right of the lower one: #1 is the upper face (by x alone it was the
    lower one), on the picture and in the table."""
    from fer_core.annotate import layout_labels
    from fer_core.results import faces_table

    canvas = np.full((1100, 1000, 3), 255, np.uint8)
    canvas[0:512, 400:912] = load_image(PHOTOS / "happy_posed.jpg")
    canvas[560:1072, 0:512] = cv2.resize(load_image(PHOTOS / "surprise_posed.jpg"), (512, 512))
    faces = yunet_recognizer.analyze(canvas)
    assert [f.label for f in faces] == ["happy", "surprise"]
    assert faces[0].box.y < 512 < faces[1].box.y and faces[1].box.x < faces[0].box.x
    assert [label.text.split()[0] for label in layout_labels(faces, canvas.shape, numbered=True)] == ["#1", "#2"]
    assert faces_table(faces, "two.png")["face_id"].tolist() == [1, 2]


def test_the_group_photo_is_numbered_in_rows(yunet_recognizer, haar_recognizer):
    """The sample group photo: #1 is the man sitting high on the left, then the row of four below him, left to
    right (the Haar cascade misses the man in sunglasses: its four, left to right)."""
    image = load_image(PHOTOS / "unlabelled_multi_face.jpg")
    faces = yunet_recognizer.analyze(image)
    assert len(faces) == 5
    centres = [f.box.y + f.box.h / 2 for f in faces]
    assert all(centre - centres[0] > faces[0].box.h for centre in centres[1:]), "#1 is a row of its own, on top"
    xs = [f.box.x for f in faces]
    assert xs[1:] == sorted(xs[1:]) and xs[0] < xs[1]
    row = [f.box for f in haar_recognizer.analyze(image)]
    assert len(row) == 4 and [b.x for b in row] == sorted(b.x for b in row)
    assert [b.x for b in row] == pytest.approx(xs[1:], abs=40)


# --- labels readable at phone width --------------------------------------------------------------------------

@pytest.mark.parametrize("width, height", [(640, 360), (640, 480), (1000, 667), (2048, 1365), (1365, 2048),
                                           (4000, 2668), (8000, 5336)])
def test_labels_are_readable_when_the_picture_is_shown_at_phone_width(width, height):
    """On a 390-pixel phone the Image page shows the picture 326 pixels wide (`PHONE_WIDTH` is 320): a label's
    letters are then at least 9.5 pixels tall (they were 6.5), the label itself at least 16, its lines 1."""
    from fer_core.annotate import PHONE_WIDTH, Style, layout_labels
    from fer_core.results import FaceResult

    style = Style.for_frame((height, width, 3))
    shown = PHONE_WIDTH / width
    assert style.text_height * shown >= 9.5
    assert style.text_height * shown <= 12, "and not much more: a group photo's labels must still fit"
    assert style.line_width * shown >= 1.0
    face = FaceResult(Box(width // 3, height // 3, width // 6, width // 6), {"happy": 0.9, "neutral": 0.1})
    label = layout_labels([face], (height, width, 3), numbered=True)[0]
    assert (label.rect[3] - label.rect[1]) * shown >= 16
    assert (label.rect[2] - label.rect[0]) < width / 2


def test_small_frames_keep_a_legible_minimum_and_panoramas_a_sane_maximum():
    from fer_core.annotate import Style

    tiny = Style.for_frame((120, 160, 3))
    assert tiny.font_scale == 0.5 and tiny.text_height >= 11 and tiny.line_width == 2
    panorama = Style.for_frame((600, 6000, 3))  # capped at a tenth of the height
    assert panorama.text_height <= 62 < Style.for_frame((4000, 6000, 3)).text_height


def test_an_annotated_photo_draws_the_larger_labels():
    """The letters drawn on the 1000-pixel group photo, from the top of '#' to the foot of 'y' (the dark rows in
    the label): at least 12 pixels at phone width (they were 26 pixels in the picture, 8 at phone width)."""
    from fer_core.annotate import PHONE_WIDTH, draw_faces, layout_labels
    from fer_core.pipeline import EmotionRecognizer

    photo = load_image(PHOTOS / "unlabelled_multi_face.jpg")
    faces = EmotionRecognizer().analyze(photo)
    drawn = draw_faces(photo, faces, numbered=True)
    label = layout_labels(faces, photo.shape, numbered=True)[0]
    x0, y0, x1, y1 = label.rect
    dark = (drawn[y0:y1, x0:x1].max(axis=2) < 80).any(axis=1)
    rows = np.flatnonzero(dark)
    assert (rows[-1] - rows[0] + 1) * PHONE_WIDTH / photo.shape[1] >= 12


# --- the webcam summary's length -----------------------------------------------------------------------------

def test_a_session_without_faces_is_measured_by_its_own_clock():
    """Real frames with no face through the webcam's frame callback: the history has no face row, and its length
    is the session's, from its first frame to its last."""
    import time

    import av

    from dashboard.live import LiveHistory, LiveSession
    from fer_core.pipeline import EmotionRecognizer

    session = LiveSession(EmotionRecognizer(detector="haar"))
    started = time.perf_counter()
    with av.open(str(VIDEOS / "no_face.mp4")) as container:
        for i, frame in enumerate(container.decode(video=0)):
            session.callback(frame)
            if i == 5:
                time.sleep(0.6)
            if i == 11:
                break
    elapsed = time.perf_counter() - started
    history = LiveHistory()
    history.absorb(session.drain())
    session.close()
    assert history.frames == 12 and len(history.table()) == 0
    assert 0.6 <= history.seconds <= elapsed and history.seconds == history.last.time


def _open_webcam_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page("pages/3_Webcam.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_summary_of_a_session_without_faces_gives_its_length():
    from dashboard.live import LiveHistory, LiveUpdate

    history = LiveHistory()
    history.absorb([LiveUpdate(frame=i, time=i / 10, faces=[], processing_ms=5.0, fps=10.0) for i in range(171)])
    at = _open_webcam_page()
    at.session_state["webcam_history"] = history
    at.run()
    assert not at.exception
    assert "No face was seen during the session (17 s)." in [i.value for i in at.info]


# --- the network camera's "Connected" box ----------------------------------------------------------------------

def test_the_connected_box_is_not_over_the_summary_of_that_camera(stream_server):
    """Before START the box says the camera answered; over the summary of a session of that camera it is gone
    (START and the session's own panels say the rest). A summary of another camera leaves it. The box's
    absence during a session is in the browser test (tests/browser/test_webcam_defects_browser.py)."""
    from dashboard.live import LiveHistory, LiveUpdate

    address = stream_server.url + "/single_face.ts"
    at = _open_webcam_page()
    at.radio(key="webcam_camera").set_value("A network camera").run()
    at.text_input(key="webcam_address").set_value(address).run()
    assert not at.exception
    assert [x.value for x in at.success] == [f"Connected to `{address}`: 640x360 at 30 fps. Press **START** to "
                                             "watch it live."]
    for source, shown in ((address, False), ("webcam", True)):
        history = LiveHistory(source=source)
        history.absorb([LiveUpdate(frame=i, time=i / 10, faces=[], processing_ms=5.0, fps=10.0) for i in range(30)])
        at.session_state["webcam_history"] = history
        at.run()
        assert not at.exception
        assert "Session summary" in [s.value for s in at.subheader]
        assert bool([x for x in at.success if x.value.startswith("Connected to")]) is shown, source
