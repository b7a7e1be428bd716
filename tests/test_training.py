"""Training, fine-tuning and the dataset readers, on the real faces in the repo (samples/fer2013_mini).

`fixtures/fer2013_small.csv` holds the first three faces (sorted by file name) of every class of
samples/fer2013_mini in the FER2013 CSV format: two as Training, one as PublicTest.
Every model is written under pytest's tmp_path, never into models/.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

# Mini-XCEPTION training at 64x64 with oneDNN crashes on some CPUs; the switch must precede TF's import.
if "tensorflow" not in sys.modules:
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from fer_core.emotions import EMOTIONS
from fer_core.errors import DatasetError
from fer_core.train import main
from fer_core.training import TrainConfig, lr_at, train
from fer_core.training.data import FaceDataset, ferplus_soft_labels, load_dataset, load_fer2013_csv, load_folder, \
    split_validation
from fer_core.training.loop import build_model
from fer_core.training.schedule import class_weight_vector

ROOT = Path(__file__).resolve().parent.parent
FER_MINI = ROOT / "samples" / "fer2013_mini"
CSV_FIXTURE = ROOT / "tests" / "fixtures" / "fer2013_small.csv"


# ------------------------------------------------------------------------------------------------ readers
def test_folder_reader_reads_every_class_in_emotions_order():
    ds = load_folder(FER_MINI)
    assert len(ds) == 70 and ds.x.shape == (70, 48, 48) and ds.x.dtype == np.uint8
    assert ds.class_counts() == {e: 10 for e in EMOTIONS}
    first_happy = sorted((FER_MINI / "happy").glob("*.jpg"))[0]
    i = ds.sources.index(str(first_happy))
    assert ds.y[i] == EMOTIONS.index("happy")
    assert np.array_equal(ds.x[i], cv2.imread(str(first_happy), cv2.IMREAD_GRAYSCALE))
    assert load_folder(FER_MINI, size=64).x.shape == (70, 64, 64)


def test_csv_reader_parses_the_fixture():
    every = load_fer2013_csv(CSV_FIXTURE)
    assert len(every) == 21 and every.x.shape == (21, 48, 48)
    training = load_fer2013_csv(CSV_FIXTURE, usage="Training")
    public = load_dataset(CSV_FIXTURE, usage="PublicTest", min_classes=1)
    assert len(training) == 14 and len(public) == 7
    assert training.class_counts() == {e: 2 for e in EMOTIONS}
    # Row 2 of the CSV is the first angry face of the sample folder, pixel for pixel.
    angry = sorted((FER_MINI / "angry").glob("*.jpg"))[0]
    assert training.y[0] == 0
    assert np.array_equal(training.x[0], cv2.imread(str(angry), cv2.IMREAD_GRAYSCALE))
    assert load_fer2013_csv(CSV_FIXTURE, size=64).x.shape == (21, 64, 64)


def test_validation_split_is_stratified_and_seeded():
    ds = load_folder(FER_MINI)
    tr, va = split_validation(ds, 0.2, seed=3)
    assert len(tr) + len(va) == 70 and set(va.class_counts().values()) == {2}
    tr2, va2 = split_validation(ds, 0.2, seed=3)
    assert va.sources == va2.sources


def test_ferplus_soft_labels_blend_votes_into_one_hot(tmp_path):
    ds = load_folder(FER_MINI)
    name = Path(ds.sources[0]).name  # an angry face
    votes = tmp_path / "votes.csv"
    votes.write_text(
        "usage,file,fer2013_label,votes_neutral_happiness_surprise_sadness_anger_disgust_fear_contempt,"
        "votes_unknown,votes_not_face\n"
        f"PublicTest,PublicTest/angry/{name},angry,5 0 0 0 5 0 0 3,0,0\n")
    soft = ferplus_soft_labels(votes, ds, weight=0.5)
    assert soft.shape == (70, 7)
    np.testing.assert_allclose(soft.sum(1), 1, atol=1e-6)
    np.testing.assert_allclose(soft[0][[EMOTIONS.index("angry"), EMOTIONS.index("neutral")]], [0.75, 0.25])
    np.testing.assert_allclose(soft[1:], np.eye(7)[ds.y[1:]])  # no votes: one-hot


def test_class_weights_and_schedule():
    w = class_weight_vector(np.array([0, 0, 0, 1]))
    assert w[0] < w[1] and w[2] == 0
    cfg = TrainConfig(data="x", epochs=10, lr=1e-3, warmup_epochs=2)
    lrs = [lr_at(cfg, e) for e in range(10)]
    assert lrs[0] < lrs[1] < lrs[2] == pytest.approx(1e-3) and lrs[-1] < lrs[3]
    # SGD recipes decay to zero; a time budget that allows 6 epochs compresses the same curve into them.
    sgd = TrainConfig(data="x", epochs=10, lr=0.2, warmup_epochs=2, optimizer="sgd")
    assert lr_at(sgd, 9 + 1) == 0.0 and lr_at(sgd, 6, total_epochs=6) == 0.0 < lr_at(sgd, 6)


# ------------------------------------------------------------------------------------------------ bad data
def _copy_mini(tmp_path: Path, classes=EMOTIONS) -> Path:
    root = tmp_path / "faces"
    for e in classes:
        shutil.copytree(FER_MINI / e, root / e)
    return root


@pytest.mark.parametrize("case, message", [
    ("empty_class", "has no images"),
    ("unreadable", "Cannot read the image"),
    ("one_class", "needs at least 2"),
    ("unknown_class", "Unknown class folder(s) smiling"),
    ("missing", "does not exist"),
])
def test_bad_folders_fail_before_training(tmp_path, case, message):
    if case == "empty_class":
        root = _copy_mini(tmp_path, ("happy", "sad"))
        (root / "angry").mkdir()
    elif case == "unreadable":
        root = _copy_mini(tmp_path, ("happy", "sad"))
        (root / "sad" / "broken.jpg").write_bytes(b"not a jpeg at all")
    elif case == "one_class":
        root = _copy_mini(tmp_path, ("happy",))
    elif case == "unknown_class":
        root = _copy_mini(tmp_path, ("happy", "sad"))
        (root / "smiling").mkdir()
    else:
        root = tmp_path / "nowhere"
    with pytest.raises(DatasetError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_dataset(root)


@pytest.mark.parametrize("content, message", [
    ("label,image,split\n0,1 2 3,Training\n", "expected 'emotion,pixels,Usage'"),
    ("emotion,pixels,Usage\n0,1 2 3,Training\n", "expected 2304 pixel values"),
    ("emotion,pixels,Usage\n9," + " ".join(["0"] * 2304) + ",Training\n", "outside 0-6"),
    ("emotion,pixels,Usage\n", "has no rows"),
])
def test_bad_csv_fails_with_a_clear_message(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DatasetError, match=message):
        load_fer2013_csv(path)


def test_cli_bad_data_one_line_and_non_zero_exit(tmp_path, capsys):
    root = _copy_mini(tmp_path, ("happy",))
    assert main(["--data", str(root), "--epochs", "1", "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: ") and "needs at least 2" in err
    assert not (tmp_path / "m").exists()


# ------------------------------------------------------------------------------------------------ training
def _tflite_accuracy(spec, ds: FaceDataset) -> float:
    from fer_core.classifier import EmotionClassifier

    clf = EmotionClassifier(spec)
    faces = ds.resized(spec.input_size)
    probs = clf.predict((faces.x.astype(np.float32) / 127.5 - 1.0)[..., None])
    assert probs.shape == (len(ds), 7)
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-4)
    return float((probs.argmax(1) == ds.y).mean())


def test_train_from_scratch_writes_a_registry_model_and_resumes(tmp_path):
    from fer_core.models import get_model

    models = tmp_path / "models"
    seen = []
    cfg = TrainConfig(data=str(FER_MINI), val_split=0.2, arch="mini_xception", epochs=1, batch_size=16,
                      lr=3e-3, augment="light", name="tiny_scratch", out=str(models / "tiny_scratch"),
                      checkpoint_dir=str(tmp_path / "ckpt"), verbose=0, command="pytest")
    first = train(cfg, on_epoch_end=lambda record, history: seen.append(record["epoch"]))
    assert seen == [1] and len(first.history) == 1
    cfg.epochs, cfg.resume = 2, True
    result = train(cfg, on_epoch_end=lambda record, history: seen.append(record["epoch"]))
    assert seen == [1, 2] and [h["epoch"] for h in result.history] == [1, 2]

    folder = models / "tiny_scratch"
    for name in ("model.tflite", "model.keras", "model.json", "README.md", "training_log.csv", "training.json"):
        assert (folder / name).exists(), name
    assert len((folder / "training_log.csv").read_text().strip().splitlines()) == 3
    spec = get_model("tiny_scratch", extra_dirs=[models])
    assert spec.input_size == 48 and spec.face_margin == 0.1
    assert 0 <= spec.metrics["val_accuracy"] <= 1 and spec.metrics["ms_per_face"] > 0
    assert "pytest" in spec.card() and "| accuracy (recall per class) |" in spec.card()
    assert "Confusion matrix" in spec.card() and f"{spec.metrics['ms_per_face']} ms" in spec.card()
    _tflite_accuracy(spec, load_folder(FER_MINI))


def test_finetune_starts_from_pretrained_weights_and_beats_chance(tmp_path):
    import keras

    from fer_core.models import get_model

    faces = load_folder(FER_MINI, size=64)
    x = (faces.x[:5].astype(np.float32) / 127.5 - 1.0)[..., None]
    pretrained = get_model("mini_xception_fer2013")
    reference = keras.models.load_model(str(pretrained.keras_path), compile=False).predict(x, verbose=0)
    cfg = TrainConfig(data=str(FER_MINI), finetune="mini_xception_fer2013", freeze_blocks=2)
    model = build_model(cfg, 64)
    np.testing.assert_allclose(model.predict(x, verbose=0), reference, atol=1e-5)
    assert sum(not layer.trainable for layer in model.layers) > 0

    models = tmp_path / "models"
    cfg = TrainConfig(data=str(FER_MINI), val_split=0.2, finetune="mini_xception_fer2013", freeze_blocks=2,
                      epochs=2, batch_size=16, lr=1e-4, augment="light", name="tiny_finetuned",
                      out=str(models / "tiny_finetuned"), checkpoint_dir=str(tmp_path / "ckpt"), verbose=0)
    result = train(cfg)
    assert len(result.history) == 2
    spec = get_model("tiny_finetuned", extra_dirs=[models])
    assert spec.input_size == 64
    assert json.loads((spec.directory / "model.json").read_text())["metrics"]["input_size"] == 64
    assert _tflite_accuracy(spec, load_folder(FER_MINI)) > 2 / 7  # chance is 1/7


# ------------------------------------------------------------------------------------------------ --ema
def test_weight_average_follows_the_weights_and_swaps_them_in_and_out(tmp_path):
    import keras

    from fer_core.training.weight_average import WeightAverage

    net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), keras.layers.BatchNormalization()])
    first = [np.full_like(w, 1.0) for w in net.get_weights()]
    second = [np.full_like(w, 3.0) for w in net.get_weights()]
    average = WeightAverage(net, decay=0.75)
    net.set_weights(first)
    average.update()  # the first update copies, batch-norm statistics included
    assert all(np.allclose(a, 1.0) for a in average.values())
    net.set_weights(second)
    average.update()
    assert all(np.allclose(a, 0.75 * 1.0 + 0.25 * 3.0) for a in average.values())
    with average.applied() as inside:
        assert all(np.allclose(w, 1.5) for w in inside.get_weights())
    assert all(np.allclose(w, 3.0) for w in net.get_weights())  # the running weights are back

    average.save(tmp_path / "average.npz")
    again = WeightAverage(net, decay=0.75)
    again.load(tmp_path / "average.npz")
    assert again.updates == 2 and all(np.allclose(a, 1.5) for a in again.values())


def test_ema_run_validates_and_keeps_the_average_and_resumes_it(tmp_path):
    import keras

    ckpt = tmp_path / "ckpt"
    argv = ["--data", str(FER_MINI), "--val-split", "0.2", "--arch", "resnet_s", "--epochs", "1", "--batch-size", "16",
            "--lr", "0.05", "--optimizer", "sgd", "--ema", "0.8", "--keep", "last", "--augment", "light", "--out", str(tmp_path / "m"),
            "--checkpoint-dir", str(ckpt), "--quiet"]
    assert main(argv) == 0
    updates_after_one = int(np.load(ckpt / "average.npz")["updates"])
    assert main([a if a != "1" else "2" for a in argv] + ["--resume"]) == 0
    saved = np.load(ckpt / "average.npz")
    assert int(saved["updates"]) == 2 * updates_after_one > 0  # the average went on from the checkpoint

    record = json.loads((tmp_path / "m" / "training.json").read_text())
    assert [sorted(h) for h in record["history"]] == [sorted(record["history"][0])] * 2
    assert all(0 <= h["raw_val_accuracy"] <= 1 for h in record["history"])
    kept = keras.models.load_model(str(tmp_path / "m" / "model.keras"), compile=False)
    running = keras.models.load_model(str(ckpt / "last.keras"), compile=False).get_layer(kept.name)
    average = [saved[f"w{i}"] for i in range(len(saved.files) - 1)]
    assert all(np.allclose(k, a, atol=1e-6) for k, a in zip(kept.get_weights(), average))
    assert not all(np.allclose(k, r, atol=1e-6) for k, r in zip(kept.get_weights(), running.get_weights()))


def test_ema_decay_out_of_range_is_one_line_and_a_non_zero_exit(capsys):
    assert main(["--data", str(FER_MINI), "--ema", "1.0"]) == 2
    assert capsys.readouterr().err.strip() == "error: --ema must be at least 0 and below 1 (0.999 averages about 1,000 steps)."
