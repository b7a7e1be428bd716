"""fer_core.explore: the evaluation table on the bundled FER2013 sample with the real model, its cache, its
sets (folders, zips, photos where no face is found) and the analyses against hand-computed figures."""

from __future__ import annotations

import io
import shutil
import warnings
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from sample_media import PHOTOS, VIDEOS
from fer_core.calibration import apply_temperature
from fer_core.emotions import EMOTIONS
from fer_core.errors import DatasetError, FerError
from fer_core.explore import (
    FACE_COLUMNS, PROB_COLUMNS, RAW_PROB_COLUMNS, VOTE_COLUMNS, bundled_sample, calibration, compare, confusion,
    embed_2d, evaluate_set, likely_label_errors, macro_recall, mcnemar_p, open_folder, open_zip, per_class,
    read_table, slice_mask, slices, wilson_interval, write_table,
)
from fer_core.explore.facts import yaw_degrees
from fer_core.explore.features import FeatureExtractor
from fer_core.models import get_model
from fer_core.results import Box
from fer_core.video import iter_frames


NETWORK = "resnet_m_distilled_resnet18_150ep"
"""A single network (the `fast` role is a pair), so its features are its own pooled channels."""


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    return evaluate_set(bundled_sample(), NETWORK, cache_dir=tmp_path_factory.mktemp("cache"))


def test_the_bundled_sample_has_fifty_faces_per_class_with_votes():
    sample = bundled_sample()
    assert sample.kind == "crops" and sample.class_counts() == {e: 50 for e in EMOTIONS}
    assert sum(p.stat().st_size for p in sample.root.rglob("*")) < 3_000_000


def test_the_table_on_the_bundled_sample(sample_run):
    table, spec = sample_run.table, get_model(NETWORK)
    assert list(table.columns) == FACE_COLUMNS and len(table) == 350 and sample_run.model == spec.name
    assert table["file"].iloc[0] == "angry/" + sorted(p.name for p in (bundled_sample().root / "angry").iterdir())[0]
    assert (table["set"] == "bundled sample").all() and table["face_found"].all()
    p, raw = table[PROB_COLUMNS].to_numpy(), table[RAW_PROB_COLUMNS].to_numpy()
    np.testing.assert_allclose(p.sum(axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(p, apply_temperature(raw, spec.temperature), atol=1e-6)
    assert (table["predicted"] == [EMOTIONS[i] for i in p.argmax(axis=1)]).all()
    assert (p.argmax(axis=1) == raw.argmax(axis=1)).all()  # the temperature changes no answer
    np.testing.assert_allclose(table["confidence"], p.max(axis=1))
    assert (table["correct"] == (table["predicted"] == table["true_label"])).all()
    assert 0.6 <= table["correct"].mean() <= 0.8  # fast: 69.6 % on all of PublicTest
    # Crops: the 48x48 FER2013 files are what the fast (48-pixel) model saw, pixel for pixel.
    first = cv2.imread(str(bundled_sample().root / table["file"].iloc[0]), cv2.IMREAD_GRAYSCALE)
    assert sample_run.crops.shape == (350, 48, 48) and sample_run.crops.dtype == np.uint8
    assert np.abs(sample_run.crops[0].astype(int) - first).max() <= 1
    assert (table["face_px"] == 48).all() and table[["detector_score", "roll", "yaw"]].isna().all().all()
    np.testing.assert_allclose(table["brightness"].iloc[0], first.mean(), atol=0.5)
    np.testing.assert_allclose(table["contrast"].iloc[0], first.std(), atol=0.5)
    assert (table["blur"] > 0).all()
    # FER+ votes from the sample's own CSV: 346 of the 350 faces got an emotion vote.
    votes = table[VOTE_COLUMNS].to_numpy()
    has_votes = np.isfinite(votes).all(axis=1)
    assert has_votes.sum() == 346
    np.testing.assert_allclose(votes[has_votes].sum(axis=1), 1)


def test_features_are_the_models_global_average_pool(sample_run):
    """The map's features are the network's own 256 pooled channels, read as the interpreter computes them."""
    from ai_edge_litert.interpreter import Interpreter

    assert sample_run.features.shape == (350, 256) and np.isfinite(sample_run.features).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interpreter = Interpreter(model_path=str(get_model(NETWORK).weights_path),
                                  experimental_preserve_all_tensors=True)
    batch = (sample_run.crops[:4].astype(np.float32) / 127.5 - 1)[..., None]
    interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], list(batch.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], batch)
    interpreter.invoke()
    pool = next(t for t in interpreter.get_tensor_details()
                if "global_average_pooling" in t["name"] and list(t["shape"]) == [4, 256])
    np.testing.assert_allclose(sample_run.features[:4], interpreter.get_tensor(pool["index"]), rtol=1e-4, atol=1e-4)
    # Probabilities and features come from one call of the model's file: the classifier's numbers exactly.
    from fer_core.classifier import EmotionClassifier

    full = (sample_run.crops.astype(np.float32) / 127.5 - 1)[..., None]
    np.testing.assert_allclose(sample_run.table[RAW_PROB_COLUMNS].to_numpy(),
                               EmotionClassifier(NETWORK).predict(full, calibrated=False), atol=1e-6)
    # An ensemble's features are its members' side by side.
    best = FeatureExtractor("best")
    assert best.dimensions == sum(FeatureExtractor(m).dimensions for m in get_model("best").members)


def test_a_cached_run_reopens_and_a_changed_face_is_evaluated_again(tmp_path):
    root = tmp_path / "faces"
    for emotion in ("happy", "sad"):
        (root / emotion).mkdir(parents=True)
        for path in sorted((bundled_sample().root / emotion).glob("*.jpg"))[:5]:
            shutil.copy(path, root / emotion / path.name)
    cache = tmp_path / "cache"
    first = evaluate_set(open_folder(root), NETWORK, cache_dir=cache)
    again = evaluate_set(open_folder(root), NETWORK, cache_dir=cache)
    assert not first.from_cache and again.from_cache
    pd.testing.assert_frame_equal(first.table, again.table)
    assert np.array_equal(first.crops, again.crops) and np.allclose(first.features, again.features)
    moved = tmp_path / "moved"
    shutil.copytree(root, moved)  # the same faces elsewhere (a zip unpacked again): still the cached run
    elsewhere = evaluate_set(open_folder(moved, name="moved"), NETWORK, cache_dir=cache)
    assert elsewhere.from_cache and elsewhere.root == moved and (elsewhere.table["set"] == "moved").all()
    changed = next((moved / "sad").glob("*.jpg"))
    changed.write_bytes((root / "happy" / next((root / "happy").glob("*.jpg")).name).read_bytes())
    assert not evaluate_set(open_folder(moved), NETWORK, cache_dir=cache).from_cache
    assert not evaluate_set(open_folder(root), NETWORK, tta=True, cache_dir=cache).from_cache


def test_photos_where_no_face_is_found_are_kept_and_counted(tmp_path):
    for name, emotion in [("happy_astronaut.png", "happy"), ("surprise_posed.jpg", "surprise"),
                          ("disgust_posed_45deg.jpg", "disgust")]:
        (tmp_path / emotion).mkdir(exist_ok=True)
        shutil.copy(PHOTOS / name, tmp_path / emotion / name)
    (tmp_path / "neutral").mkdir()
    cv2.imwrite(str(tmp_path / "neutral" / "empty_room.jpg"), next(iter_frames(VIDEOS / "no_face.mp4")).image)
    labelled = open_folder(tmp_path)
    assert labelled.kind == "photos"  # decided from the images: large, not square
    calls: list[tuple[int, int]] = []
    run = evaluate_set(labelled, NETWORK, cache=False, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (4, 4)
    table = run.table.set_index("file")
    assert not table.at["neutral/empty_room.jpg", "face_found"]
    assert table.loc["neutral/empty_room.jpg", PROB_COLUMNS].isna().all()
    assert pd.isna(table.at["neutral/empty_room.jpg", "predicted"]) and not table.at["neutral/empty_room.jpg", "correct"]
    found = table[table["face_found"]]
    assert len(found) == 3 and found["face_px"].min() > 48
    assert found["detector_score"].between(0.5, 1).all() and found[["roll", "yaw"]].notna().all().all()
    assert found.at["happy/happy_astronaut.png", "predicted"] == "happy"
    assert confusion(run.table).to_numpy().sum() == 3  # metrics count faces, not the photo without one
    assert (run.crops[~run.table["face_found"].to_numpy()] == 0).all()


def test_yaw_from_landmarks():
    frontal = Box(0, 0, 100, 100, 0.9, ((30, 40), (70, 40), (50, 60), (35, 80), (65, 80)))
    assert yaw_degrees(frontal) == pytest.approx(0)
    turned = Box(0, 0, 100, 100, 0.9, ((30, 40), (70, 40), (50 + 0.6 * 40, 60), (35, 80), (65, 80)))
    assert yaw_degrees(turned) == pytest.approx(45)  # offset / distance = NOSE_DEPTH * tan(45 degrees)
    assert np.isnan(yaw_degrees(Box(0, 0, 10, 10)))


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_zips_open_safely_and_refuse_in_one_sentence(tmp_path):
    faces = {f"faces/{e}/{p.name}": p.read_bytes() for e in ("happy", "angry")
             for p in sorted((bundled_sample().root / e).glob("*.jpg"))[:3]}
    labelled = open_zip(_zip(faces), tmp_path / "ok", name="faces.zip")
    assert labelled.name == "faces" and labelled.kind == "crops" and len(labelled) == 6
    assert labelled.class_counts()["happy"] == 3 and labelled.class_counts()["fear"] == 0
    refusals = {
        b"PK not really": "The upload is not a valid zip file.",
        _zip({"../evil/happy/a.jpg": b"x"}): "The upload contains an unsafe path: ../evil/happy/a.jpg.",
        _zip({"photos/a.jpg": faces["faces/happy/" + Path(next(iter(faces))).name]}):
            "The upload has none of the class folders angry, disgust, fear, happy, sad, surprise, neutral.",
        _zip({"happy/notes.txt": b"hello", "sad/a.jpg": next(iter(faces.values()))}):
            "The class folder happy in the upload has no images",
    }
    for i, (data, message) in enumerate(refusals.items()):
        with pytest.raises(DatasetError) as error:
            open_zip(data, tmp_path / f"bad{i}")
        assert message in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(DatasetError, match="holds too much data"):
        open_zip(_zip(faces), tmp_path / "many", max_files=3)
    assert not (tmp_path / "many").exists()  # nothing left behind


def test_folder_refusals(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        open_folder(tmp_path / "missing")
    with pytest.raises(DatasetError, match="has none of the class folders"):
        open_folder(tmp_path)
    (tmp_path / "happy").mkdir()
    (tmp_path / "happy" / "readme.txt").write_text("not an image")
    with pytest.raises(DatasetError, match="The class folder happy in .* has no images"):
        open_folder(tmp_path)


def test_confusion_per_class_and_macro_recall_by_hand():
    table = _table(["happy", "happy", "sad", "sad", "sad"], ["happy", "sad", "sad", "sad", "happy"])
    matrix = confusion(table)
    assert matrix.loc["happy", "happy"] == 1 and matrix.loc["happy", "sad"] == 1
    assert matrix.loc["sad", "sad"] == 2 and matrix.loc["sad", "happy"] == 1 and matrix.to_numpy().sum() == 5
    rows = per_class(table)
    assert rows.loc["sad", "recall"] == pytest.approx(2 / 3) and rows.loc["sad", "precision"] == pytest.approx(2 / 3)
    assert rows.loc["fear", "support"] == 0
    assert macro_recall(table) == pytest.approx((1 / 2 + 2 / 3) / 2)  # classes without faces left out


def _table(true: list[str], predicted: list[str], confidence: float = 0.8, raw_confidence: float = 0.95) -> pd.DataFrame:
    """A small evaluation table: the top probability at `confidence` (the rest shared out), raw at `raw_confidence`."""
    rows = []
    for t, p in zip(true, predicted):
        row = {"file": f"{t}/{len(rows)}.jpg", "set": "hand", "true_label": t, "predicted": p, "face_found": True,
               "correct": t == p, "confidence": confidence}
        for column, top in (("p_", confidence), ("raw_p_", raw_confidence)):
            for e in EMOTIONS:
                row[column + e] = top if e == p else (1 - top) / 6
        rows.append(row)
    return pd.DataFrame(rows)


def test_calibration_against_a_hand_computed_case():
    # Five faces, three right, all at 0.8 calibrated (raw 0.95): one bin each way.
    table = _table(["happy", "happy", "sad", "sad", "sad"], ["happy", "sad", "sad", "sad", "happy"])
    result = calibration(table, bins=15)
    assert result.n == 5 and result.votes_n == 0
    assert result.ece == pytest.approx(abs(0.8 - 3 / 5))
    assert result.ece_raw == pytest.approx(abs(0.95 - 3 / 5))
    assert result.nll == pytest.approx(-(3 * np.log(0.8) + 2 * np.log(0.2 / 6)) / 5)
    rows = result.reliability
    calibrated = rows[(rows["version"] == "calibrated") & (rows["count"] > 0)]
    assert len(calibrated) == 1 and calibrated["accuracy"].iloc[0] == pytest.approx(0.6)
    # Against crowd votes: the mean vote share of the predicted class stands for "right".
    for e in EMOTIONS:
        table[f"votes_{e}"] = 0.0
    table["votes_happy"], table["votes_sad"] = 0.5, 0.5
    voted = calibration(table)
    assert voted.votes_n == 5 and voted.ece_votes == pytest.approx(0.8 - 0.5)


def test_mcnemar_against_known_tables():
    # Exact: b = 5, c = 1 -> 2 * P(X <= 1 | n = 6, 1/2) = 2 * 7 / 64.
    assert mcnemar_p(5, 1) == pytest.approx(14 / 64)
    assert mcnemar_p(3, 3) == 1.0 and mcnemar_p(0, 0) == 1.0
    # The textbook table (McNemar 1947 style, Wikipedia's example): b = 121, c = 59.
    assert mcnemar_p(121, 59, exact=False) == pytest.approx(5.45e-6, rel=0.01)  # chi2 = 61^2 / 180 = 20.67
    from scipy import stats  # scikit-learn's dependency, here only as the reference

    assert mcnemar_p(121, 59) == pytest.approx(stats.binomtest(59, 180, 0.5).pvalue, rel=1e-9)
    assert mcnemar_p(59, 121) == mcnemar_p(121, 59)


def test_compare_two_models_on_the_same_faces(sample_run, tmp_path):
    other = evaluate_set(bundled_sample(), "mini_xception_fer2013", cache_dir=tmp_path)
    result = compare(sample_run, other)
    a, b = sample_run.table, other.table
    assert result.n == 350 and result.model_a == sample_run.model and result.model_b == "mini_xception_fer2013"
    assert result.accuracy_a == pytest.approx(a["correct"].mean()) and result.accuracy_b == pytest.approx(b["correct"].mean())
    assert result.agreement == pytest.approx((a["predicted"] == b["predicted"]).mean())
    assert result.only_a_right == int((a["correct"] & ~b["correct"]).sum())
    assert result.mcnemar_p == mcnemar_p(result.only_a_right, result.only_b_right)
    assert len(result.disagreements) == int((a["predicted"] != b["predicted"]).sum())
    assert result.per_class.loc["happy", "recall_a"] == pytest.approx(per_class(a).loc["happy", "recall"])
    assert set(result.to_dict()) >= {"agreement", "accuracy_a", "accuracy_b", "mcnemar_p", "per_class_recall"}


def test_wilson_interval_and_slices_worst_first(sample_run):
    low, high = wilson_interval(8, 10)
    assert float(low) == pytest.approx(0.4902, abs=1e-4) and float(high) == pytest.approx(0.9433, abs=1e-4)
    table = slices(sample_run.table, by=["brightness", "true_label", "yaw", "set", "face_px"])
    assert list(table["accuracy"]) == sorted(table["accuracy"])  # worst first
    assert set(table["by"]) == {"brightness", "true_label"}  # no pose on crops; one set, one size: no slices
    assert table[table["by"] == "true_label"]["n"].sum() == 350
    assert ((table["low"] <= table["accuracy"]) & (table["accuracy"] <= table["high"])).all()
    worst = table.iloc[0]
    mask = slice_mask(sample_run.table, worst["by"], worst["slice"])
    assert mask.sum() == worst["n"] and sample_run.table[mask]["correct"].sum() == worst["correct"]


def test_likely_label_errors_are_confidently_wrong_and_the_crowd_first(sample_run):
    errors = likely_label_errors(sample_run.table)
    assert len(errors) and not errors["correct"].any() and (errors["confidence"] >= 0.5).all()
    disputed = errors["crowd_disagrees"].to_numpy()
    assert disputed.any() and not (np.diff(disputed.astype(int)) > 0).any()  # disputed ones come first
    first = errors.iloc[0]
    assert first["votes_for_predicted"] > first["votes_for_label"]


def test_embed_2d(sample_run):
    features = sample_run.features.copy()
    features[5] = np.nan  # a photo without a face
    for method in ("pca", "tsne"):
        xy = embed_2d(features, method)
        assert xy.shape == (350, 2) and np.isnan(xy[5]).all() and np.isfinite(np.delete(xy, 5, axis=0)).all()
    np.testing.assert_allclose(embed_2d(features, "pca"), embed_2d(features, "pca"))
    with pytest.raises(ValueError):
        embed_2d(features, "lda")


def test_write_and_read_the_table(sample_run, tmp_path):
    for name in ("faces.csv", "faces.parquet"):
        back = read_table(write_table(sample_run, tmp_path / name))
        assert list(back.columns) == FACE_COLUMNS and len(back) == 350
        np.testing.assert_allclose(back["p_happy"], sample_run.table["p_happy"], rtol=1e-5)
    with pytest.raises(FerError, match="written as .csv or .parquet"):
        write_table(sample_run, tmp_path / "faces.xlsx")
