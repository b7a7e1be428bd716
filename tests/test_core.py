"""The library on real photos: detection, preprocessing, classification, results."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from sample_media import FER_MINI, PHOTOS
from fer_core import EMOTIONS, Box, EmotionRecognizer, create_detector, get_model, list_models, load_image
from fer_core.calibration import apply_temperature
from fer_core.errors import FerError, ModelNotFoundError
from fer_core.preprocess import crop_faces, prepare_face, square_crop_region, to_gray


# --- detection -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("detector", ["haar", "yunet"])
@pytest.mark.parametrize("photo", ["happy_astronaut.png", "happy_posed.jpg", "happy_single_face.jpg", "surprise_posed.jpg"])
def test_single_face_photos_have_one_face(detector, photo):
    boxes = create_detector(detector).detect(load_image(PHOTOS / photo))
    assert len(boxes) == 1
    assert boxes[0].w > 80 and boxes[0].h > 80


def test_multi_face_photo_yields_several_faces_in_reading_order(haar_recognizer, yunet_recognizer):
    """Rows top to bottom, left to right in a row (`reading_order`; tests/test_defects.py has the rows)."""
    from fer_core.pipeline import reading_order

    image = load_image(PHOTOS / "unlabelled_multi_face.jpg")
    for recognizer, expected in ((haar_recognizer, 4), (yunet_recognizer, 5)):
        faces = recognizer.analyze(image)
        assert len(faces) >= expected
        boxes = [f.box for f in faces]
        assert boxes == reading_order(recognizer.detect(image))


def test_yunet_finds_the_turned_face_haar_misses():
    image = load_image(PHOTOS / "disgust_posed_45deg.jpg")
    assert len(create_detector("yunet").detect(image)) == 1
    assert create_detector("haar").detect(image) == []


def test_haar_parameters_change_detection():
    image = load_image(PHOTOS / "unlabelled_multi_face.jpg")
    assert create_detector("haar", min_size=400).detect(image) == []


def test_unknown_detector_and_bad_parameters_are_clear_errors():
    with pytest.raises(FerError, match="Unknown detector"):
        create_detector("mtcnn")
    with pytest.raises(FerError, match="Bad parameter"):
        create_detector("haar", colour="blue")
    with pytest.raises(FerError, match="greater than 1.0"):
        create_detector("haar", scale_factor=1.0)


def test_no_face_in_a_frame_without_people(yunet_recognizer, haar_recognizer):
    from sample_media import VIDEOS
    from fer_core.video import iter_frames

    frame = next(iter_frames(VIDEOS / "no_face.mp4")).image
    assert haar_recognizer.analyze(frame) == []
    assert yunet_recognizer.analyze(frame) == []


# --- preprocessing -------------------------------------------------------------------------------------

def test_square_region_adds_margin_and_stays_square_inside_the_frame():
    assert square_crop_region(Box(100, 100, 100, 100), 0.1, 640, 480) == (90, 90, 210, 210)
    # A tall box becomes a square on its longer side, centred.
    assert square_crop_region(Box(100, 100, 80, 120), 0.0, 640, 480) == (80, 100, 200, 220)
    # Near the edge the square is shifted inside, not cut.
    x0, y0, x1, y1 = square_crop_region(Box(0, 0, 100, 100), 0.2, 640, 480)
    assert (x0, y0) == (0, 0) and x1 - x0 == y1 - y0 == 140
    x0, y0, x1, y1 = square_crop_region(Box(590, 430, 50, 50), 0.5, 640, 480)
    assert (x1, y1) == (640, 480) and x1 - x0 == y1 - y0 == 100
    # Larger than the frame: clipped to the frame's shorter side.
    x0, y0, x1, y1 = square_crop_region(Box(0, 0, 60, 60), 1.0, 100, 50)
    assert x1 - x0 == y1 - y0 == 50


def test_crops_are_grey_64x64_scaled_to_minus_one_one():
    image = load_image(PHOTOS / "happy_posed.jpg")
    boxes = create_detector("haar").detect(image)
    batch = crop_faces(image, boxes, size=64, margin=0.1)
    assert batch.shape == (1, 64, 64, 1) and batch.dtype == np.float32
    assert -1.0 <= batch.min() < -0.5 and 0.5 < batch.max() <= 1.0
    # Same pixels as doing it by hand: grey, crop the square region, resize, x / 127.5 - 1.
    import cv2

    x0, y0, x1, y1 = square_crop_region(boxes[0], 0.1, image.shape[1], image.shape[0])
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)[y0:y1, x0:x1]
    manual = cv2.resize(gray, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float32) / 127.5 - 1
    np.testing.assert_allclose(batch[0, :, :, 0], manual, atol=1e-6)


def test_preprocessing_matches_training_accuracy_on_fer2013_faces(haar_recognizer):
    """FER2013 crops through our preprocessing keep the model's known accuracy (a silent mismatch would not)."""
    from fer_core.evaluate import evaluate

    result = evaluate(FER_MINI, haar_recognizer)
    assert result.n == 70
    assert result.accuracy >= 0.55
    # Feeding raw 0-255 pixels instead of [-1, 1] is the classic silent mistake: it must visibly hurt.
    faces, labels = [], []
    for index, emotion in enumerate(EMOTIONS):
        for path in sorted((FER_MINI / emotion).glob("*.jpg")):
            faces.append(prepare_face(to_gray(load_image(path)), haar_recognizer.model.input_size))
            labels.append(index)
    batch = np.stack(faces)
    right = (haar_recognizer.classify_crops(batch).argmax(1) == labels).mean()
    wrong = (haar_recognizer.classify_crops((batch + 1) * 127.5).argmax(1) == labels).mean()
    assert right >= wrong + 0.2


# --- classification ------------------------------------------------------------------------------------

@pytest.mark.parametrize("photo", ["happy_astronaut.png", "happy_posed.jpg", "happy_single_face.jpg"])
def test_happy_photos_come_out_happy(haar_recognizer, photo):
    faces = haar_recognizer.analyze(load_image(PHOTOS / photo))
    assert [f.label for f in faces] == ["happy"]
    assert faces[0].confidence > 0.8


def test_surprise_photo_comes_out_surprise(yunet_recognizer):
    faces = yunet_recognizer.analyze(load_image(PHOTOS / "surprise_posed.jpg"))
    assert [f.label for f in faces] == ["surprise"]


def test_probabilities_cover_seven_emotions_and_sum_to_one(haar_recognizer):
    faces = haar_recognizer.analyze(load_image(PHOTOS / "unlabelled_multi_face.jpg"))
    for face in faces:
        assert list(face.probabilities) == list(EMOTIONS)
        assert sum(face.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
        assert face.confidence == max(face.probabilities.values())


def test_all_faces_of_a_frame_go_through_in_one_batch(haar_recognizer):
    image = load_image(PHOTOS / "unlabelled_multi_face.jpg")
    boxes = haar_recognizer.detect(image)
    batch = haar_recognizer.crops(image, boxes)
    together = haar_recognizer.classify_crops(batch)
    one_by_one = np.concatenate([haar_recognizer.classify_crops(batch[i : i + 1]) for i in range(len(boxes))])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


def test_mirror_tta_averages_the_face_and_its_mirror():
    plain = EmotionRecognizer(detector="haar")
    tta = EmotionRecognizer(detector="haar", tta=True)
    image = load_image(PHOTOS / "angry_posed.jpg")
    batch = plain.crops(image, plain.detect(image))
    # On the network's own outputs; the calibrated ones then get the mirror-TTA temperature.
    expected = (plain.classify_crops(batch, calibrated=False)
                + plain.classify_crops(batch[:, :, ::-1, :].copy(), calibrated=False)) / 2
    np.testing.assert_allclose(tta.classify_crops(batch, calibrated=False), expected, atol=1e-5)
    np.testing.assert_allclose(tta.classify_crops(batch), apply_temperature(expected, tta.model.temperature_tta),
                               atol=1e-5)


def test_results_are_json_serialisable(haar_recognizer):
    from fer_core.results import COLUMNS, face_rows, row_dicts

    faces = haar_recognizer.analyze(load_image(PHOTOS / "happy_astronaut.png"))
    data = json.loads(json.dumps(row_dicts(face_rows(faces, "happy_astronaut.png"))))
    assert data[0]["label"] == data[0]["smoothed_label"] == "happy"
    assert list(data[0]) == list(COLUMNS) and data[0]["face_id"] == 1 and data[0]["time"] is None
    assert sum(data[0][e] for e in EMOTIONS) == pytest.approx(1.0, abs=1e-3)


# --- the converted model agrees with the original Keras model -----------------------------------------

def test_tflite_model_agrees_with_the_keras_original_on_real_faces(haar_recognizer):
    keras = pytest.importorskip("keras")
    spec = get_model("mini_xception_fer2013")
    original = keras.models.load_model(str(spec.keras_path), compile=False)
    faces = [prepare_face(to_gray(load_image(p)), 64) for p in sorted(FER_MINI.rglob("*.jpg"))]
    pretrained = EmotionRecognizer(detector="haar", model="mini_xception_fer2013")
    for photo in ("happy_astronaut.png", "angry_posed.jpg", "surprise_posed.jpg"):
        image = load_image(PHOTOS / photo)
        faces.extend(pretrained.crops(image, pretrained.detect(image)))
    batch = np.stack(faces)
    fast = pretrained.classify_crops(batch, calibrated=False)  # the network itself, before its temperature
    reference = original.predict(batch, verbose=0)
    np.testing.assert_allclose(fast, reference, atol=1e-4)
    assert (fast.argmax(1) == reference.argmax(1)).all()


# --- registry ------------------------------------------------------------------------------------------

def test_registry_lists_the_pretrained_model_with_its_card():
    names = [spec.name for spec in list_models()]
    assert "mini_xception_fer2013" in names
    spec = get_model("mini_xception_fer2013")
    assert spec.input_size == 64 and spec.classes == EMOTIONS
    assert "Mini-XCEPTION" in spec.card()


def test_unknown_model_is_a_clear_error():
    with pytest.raises(ModelNotFoundError, match="Unknown model 'nope'"):
        get_model("nope")


# --- annotation ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("width", [500, 1000, 4000])
def test_labels_neither_collide_nor_cover_faces_at_any_size(yunet_recognizer, width):
    """The group photo at three sizes: every label is clear of every other label and of every face box."""
    from fer_core.annotate import _area, layout_labels

    photo = load_image(PHOTOS / "unlabelled_multi_face.jpg")
    image = cv2.resize(photo, (width, round(photo.shape[0] * width / photo.shape[1])), interpolation=cv2.INTER_CUBIC)
    faces = yunet_recognizer.analyze(image)
    assert len(faces) == 5
    labels = layout_labels(faces, image.shape, numbered=True)
    boxes = [(f.box.x, f.box.y, f.box.x + f.box.w, f.box.y + f.box.h) for f in faces]
    for i, label in enumerate(labels):
        assert label.text.startswith(f"#{i + 1} ")
        assert 0 <= label.rect[0] and label.rect[2] <= image.shape[1] and 0 <= label.rect[1] and label.rect[3] <= image.shape[0]
        assert not any(_area(label.rect, box) for box in boxes), f"{label.text} covers a face"
        assert not any(_area(label.rect, other.rect) for other in labels[i + 1:]), f"{label.text} covers a label"


def test_annotation_grows_with_the_image(yunet_recognizer):
    """Line width and text scale with the frame: on a 4000-pixel photo a label is 4x as tall as at 1000."""
    from fer_core.annotate import Style, draw_faces, layout_labels

    photo = load_image(PHOTOS / "unlabelled_multi_face.jpg")
    big = cv2.resize(photo, (4000, 2668), interpolation=cv2.INTER_CUBIC)
    small_faces, big_faces = yunet_recognizer.analyze(photo), yunet_recognizer.analyze(big)
    height = lambda labels: labels[0].rect[3] - labels[0].rect[1]  # noqa: E731
    ratio = height(layout_labels(big_faces, big.shape)) / height(layout_labels(small_faces, photo.shape))
    assert 3.5 < ratio < 4.5
    assert Style.for_frame(big.shape).line_width == 4 * Style.for_frame(photo.shape).line_width
    annotated = draw_faces(photo, small_faces, numbered=True)
    assert annotated.shape == photo.shape and not np.array_equal(annotated, photo)


def test_ensemble_averages_its_members_on_real_faces():
    from fer_core.classifier import EmotionClassifier, resize_batch

    spec = get_model("mini_xception_ensemble")
    assert spec.is_ensemble and spec.members == ("mini_xception_fer2013", "mini_xception_wide48_ft")
    faces = np.stack([prepare_face(to_gray(load_image(p)), 48) for p in sorted((FER_MINI / "happy").glob("*.jpg"))])
    ensemble = EmotionClassifier("mini_xception_ensemble").predict(faces)
    # The pre-trained member sees the 48x48 faces upscaled to its 64x64 input. The members' own outputs are
    # averaged, then the ensemble's temperature applies.
    pretrained = EmotionClassifier("mini_xception_fer2013").predict(resize_batch(faces, 64), calibrated=False)
    own = EmotionClassifier("mini_xception_wide48_ft").predict(faces, calibrated=False)
    assert resize_batch(faces, 64).shape[1:] == (64, 64, 1)
    np.testing.assert_allclose(ensemble, apply_temperature((pretrained + own) / 2, spec.temperature), atol=1e-5)
    faces_found = EmotionRecognizer(model="mini_xception_ensemble").analyze(load_image(PHOTOS / "happy_astronaut.png"))
    assert [f.label for f in faces_found] == ["happy"]


# --- eye-levelled crops --------------------------------------------------------------------------------

@pytest.mark.parametrize("degrees", [-20, 15])
def test_levelled_crop_of_a_tilted_face_looks_like_the_upright_face(yunet_recognizer, degrees):
    """Turn a real photo, detect the face: levelling its crop undoes most of the turn."""
    from fer_core.perturb import rotate

    image = load_image(PHOTOS / "happy_posed.jpg")
    upright_box = yunet_recognizer.detect(image, width=None)[0]
    reference = crop_faces(image, [upright_box], level_eyes=True)[0, :, :, 0]
    turned = rotate(image, degrees)
    box = yunet_recognizer.detect(turned, width=None)[0]
    assert box.landmarks is not None and len(box.landmarks) == 5
    assert np.sign(box.roll_degrees) == -np.sign(degrees) and abs(box.roll_degrees) > 5
    levelled = crop_faces(turned, [box], level_eyes=True)[0, :, :, 0]
    plain = crop_faces(turned, [box], level_eyes=False)[0, :, :, 0]

    def similarity(a, b):
        return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])

    assert similarity(levelled, reference) > similarity(plain, reference) + 0.1
    assert levelled.shape == (64, 64) and -1.0 <= levelled.min() and levelled.max() <= 1.0


def test_levelling_needs_landmarks_and_a_real_tilt(haar_recognizer):
    """Haar boxes have no landmarks: their crops are the upright ones, pixel for pixel."""
    image = load_image(PHOTOS / "happy_posed.jpg")
    boxes = haar_recognizer.detect(image)
    assert boxes[0].landmarks is None and boxes[0].roll_degrees == 0.0
    np.testing.assert_array_equal(crop_faces(image, boxes, level_eyes=True), crop_faces(image, boxes, level_eyes=False))
    level = Box(100, 100, 200, 200, landmarks=((150.0, 150.0), (250.0, 150.4)))  # 0.2 degrees: left upright
    np.testing.assert_array_equal(crop_faces(image, [level], level_eyes=True), crop_faces(image, [level], level_eyes=False))


def test_input_scaling_round_trips():
    from fer_core.preprocess import INPUT_RANGE, scale_pixels, unscale_pixels

    pixels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    scaled = scale_pixels(pixels)
    assert scaled.min() == INPUT_RANGE[0] and scaled.max() == INPUT_RANGE[1]
    np.testing.assert_array_equal(unscale_pixels(scaled[:, :, None]), pixels)
