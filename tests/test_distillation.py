"""Distillation, on-device augmentation, time budgets and the carry-home path of the GPU job, on the CPU.

Runs on the real faces in samples/fer2013_mini (70 FER2013 faces) with the real Keras (TensorFlow backend,
as in CI); the GPU machine runs the same code on the torch backend (tools/gpu_job/).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

if "tensorflow" not in sys.modules:
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from fer_core.emotions import EMOTIONS
from fer_core.errors import DatasetError
from fer_core.train import main, parse_config
from fer_core.training.data import load_folder, load_soft_targets, save_soft_targets

ROOT = Path(__file__).resolve().parent.parent
FER_MINI = ROOT / "samples" / "fer2013_mini"


# ------------------------------------------------------------------------------------------------ the loss
def test_distillation_loss_matches_its_formula():
    from fer_core.training.distillation import DistillationLoss

    rng = np.random.default_rng(0)
    student = rng.dirichlet(np.ones(7), 5).astype(np.float32)
    teacher = rng.dirichlet(np.ones(7), 5).astype(np.float32)
    labels = np.eye(7, dtype=np.float32)[rng.integers(0, 7, 5)]
    t, w = 2.0, 0.7

    def tempered(p):
        z = np.log(p) / t
        return np.exp(z - z.max(1, keepdims=True)) / np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True)

    q, p = tempered(teacher), tempered(student)
    kl = (q * (np.log(q) - np.log(p))).sum(1) * t * t
    ce = -(labels * np.log(student)).sum(1)
    expected = ((1 - w) * ce + w * kl).mean()
    loss = DistillationLoss(weight=w, temperature=t)(np.concatenate([labels, teacher], 1), student)
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    # Rows without a teacher (validation) fall back to plain cross-entropy.
    plain = DistillationLoss(weight=w, temperature=t)(np.concatenate([labels, np.zeros_like(teacher)], 1), student)
    assert float(plain) == pytest.approx(ce.mean(), rel=1e-5)


def test_distillation_moves_a_student_towards_the_soft_targets():
    import keras

    from fer_core.training.distillation import DistillationLoss

    rng = np.random.default_rng(0)
    features = rng.normal(size=(32, 32)).astype(np.float32)
    teacher = rng.dirichlet(np.full(7, 0.5), 32).astype(np.float32)
    targets = np.concatenate([np.eye(7, dtype=np.float32)[teacher.argmax(1)], teacher], 1)

    def trained_distance(weight: float) -> float:
        keras.utils.set_random_seed(0)
        student = keras.Sequential([keras.Input((32,)), keras.layers.Dense(7, activation="softmax")])
        student.compile(optimizer=keras.optimizers.Adam(0.05), loss=DistillationLoss(weight=weight, temperature=2.0))
        # 200 steps over the 32 examples, as 10 epochs of 20 copies (Keras's per-epoch overhead, not the steps,
        # was most of this test's time).
        student.fit(np.tile(features, (20, 1)), np.tile(targets, (20, 1)), epochs=10, batch_size=32, shuffle=False,
                    verbose=0)
        return float(np.abs(student.predict(features, verbose=0) - teacher).sum(1).mean())

    labels_only, distilled = trained_distance(0.0), trained_distance(1.0)
    # Same labels, same argmax: only the distillation term makes the student's distributions the teacher's.
    assert distilled < 0.2 and distilled < 0.25 * labels_only


# ------------------------------------------------------------------------------------------------ augmentation
def test_augmentation_layer_is_identity_at_inference_and_batched_in_training():
    from fer_core.training.augmentation import AugmentConfig
    from fer_core.training.augmentation_layer import FaceAugmentation

    faces = load_folder(FER_MINI).x[:8]
    x = (faces.astype(np.float32) / 127.5 - 1.0)[..., None]
    still = AugmentConfig(flip=0, shift=0, rotate=0, zoom=0, brightness=0, contrast=0, erase=0).to_json()
    np.testing.assert_allclose(np.asarray(FaceAugmentation(still)(x, training=True)), x, atol=1e-6)
    mirror = FaceAugmentation(dict(still, flip=1.0))(x, training=True)
    np.testing.assert_allclose(np.asarray(mirror), x[:, :, ::-1], atol=1e-6)
    layer = FaceAugmentation(seed=1)  # no config: the `standard` preset
    assert layer.config == AugmentConfig().to_json()
    assert np.array_equal(np.asarray(layer(x, training=False)), x)
    out = np.asarray(layer(x, training=True))
    assert out.shape == x.shape and out.min() >= -1 and out.max() <= 1
    changed = np.abs(out - x).reshape(8, -1).mean(1)
    assert (changed > 0.01).all()  # every face is altered, each differently
    assert len(np.unique(changed.round(4))) == 8


def test_reference_preset_moves_pixels_but_keeps_their_values():
    """`reference` (the issue's reference run) has no brightness or contrast jitter, unlike `standard`."""
    from fer_core.training.augmentation import PRESETS
    from fer_core.training.augmentation_layer import FaceAugmentation

    flat = np.full((64, 48, 48, 1), 0.3, np.float32)  # a warp of a flat face leaves it flat
    out = np.asarray(FaceAugmentation(PRESETS["reference"].to_json(), seed=0)(flat, training=True))
    erased = ~np.isclose(out, 0.3, atol=1e-4).reshape(64, -1)
    assert 0.25 < erased.any(1).mean() < 0.75            # erasing with probability 0.5
    assert erased.mean(1).max() <= 0.34                  # at most a third of a face
    standard = np.asarray(FaceAugmentation(PRESETS["standard"].to_json(), seed=0)(flat, training=True))
    assert (~np.isclose(standard, 0.3, atol=1e-4)).reshape(64, -1).all(1).mean() > 0.9  # jitter moves every pixel


# ------------------------------------------------------------------------------------------------ targets file
def test_soft_targets_follow_faces_by_file_name(tmp_path):
    ds = load_folder(FER_MINI)
    probs = np.random.default_rng(0).dirichlet(np.ones(7), len(ds)).astype(np.float32)
    path = save_soft_targets(tmp_path / "t.npz", list(reversed(ds.sources)), probs[::-1], ["t"])
    np.testing.assert_allclose(load_soft_targets(path, ds), probs, atol=2e-3)  # float16 storage
    partial = save_soft_targets(tmp_path / "p.npz", ds.sources[:10], probs[:10], ["t"])
    with pytest.raises(DatasetError, match="60 of 70 training faces have no teacher probabilities"):
        load_soft_targets(partial, ds)


def test_faces_that_share_a_file_name_keep_their_own_targets_and_votes(tmp_path):
    """FER2013 Training has two file names in two class folders each, with different faces."""
    import shutil

    from fer_core.training.data import ferplus_soft_labels

    mini = load_folder(FER_MINI)
    for emotion, source in (("angry", mini.sources[0]), ("surprise", mini.sources[-1])):
        (tmp_path / "faces" / emotion).mkdir(parents=True)
        shutil.copy(source, tmp_path / "faces" / emotion / "Training_8475486.jpg")
    ds = load_folder(tmp_path / "faces")
    assert [Path(s).name for s in ds.sources] == ["Training_8475486.jpg"] * 2 and not (ds.x[0] == ds.x[1]).all()
    probs = np.eye(7, dtype=np.float32)[[0, 5]]
    path = save_soft_targets(tmp_path / "t.npz", ds.sources, probs, ["t"])
    np.testing.assert_allclose(load_soft_targets(path, ds), probs)
    votes = tmp_path / "votes.csv"  # the FER+ CSV names the class folder: only the surprised face has votes
    votes.write_text(
        "usage,file,fer2013_label,votes_neutral_happiness_surprise_sadness_anger_disgust_fear_contempt,"
        "votes_unknown,votes_not_face\n"
        "Training,Training/surprise/Training_8475486.jpg,surprise,5 0 5 0 0 0 0 0,0,0\n")
    soft = ferplus_soft_labels(votes, ds, weight=0.5)
    np.testing.assert_allclose(soft[0], np.eye(7)[0])  # the angry face keeps its one-hot label
    np.testing.assert_allclose(soft[1][[EMOTIONS.index("surprise"), EMOTIONS.index("neutral")]], [0.75, 0.25])


# ------------------------------------------------------------------------------------------------ the command
def test_recipe_fills_options_and_flags_override_it():
    cfg = parse_config(["--recipe", "accurate", "--data", "d", "--lr", "0.05"])
    assert (cfg.arch, cfg.optimizer, cfg.batch_size, cfg.label_smoothing, cfg.lr) == ("resnet18", "sgd", 128, 0.1, 0.05)
    assert cfg.command.startswith("python -m fer_core.train --recipe accurate")


def test_cli_distils_a_student_from_stored_teacher_targets(tmp_path, capsys):
    from fer_core.models import get_model
    from fer_core.training.distillation import export_soft_targets

    # The teacher: the pre-trained registry model (TFLite), its mirror-TTA probabilities stored by file name.
    targets = export_soft_targets(["mini_xception_fer2013"], FER_MINI, tmp_path / "teacher.npz")
    with np.load(targets) as stored:
        assert stored["probs"].shape == (70, 7) and list(stored["teachers"]) == ["mini_xception_fer2013"]
    out = tmp_path / "models" / "student"
    code = main(["--recipe", "fast", "--arch", "resnet_s", "--data", str(FER_MINI), "--val-split", "0.2",
                 "--teacher", str(targets), "--epochs", "2", "--batch-size", "16", "--lr", "0.02",
                 "--out", str(out), "--checkpoint-dir", str(tmp_path / "ckpt"), "--quiet"])
    assert code == 0, capsys.readouterr().err
    record = json.loads((out / "training.json").read_text())
    assert record["config"]["teacher"] == str(targets) and len(record["history"]) == 2
    spec = get_model("student", extra_dirs=[out.parent])
    assert spec.metrics["params"] < 400_000 and spec.metrics["ms_per_face"] > 0
    assert "distilled from the stored teacher probabilities" in spec.card()


def test_time_budget_fits_the_epochs_and_resume_continues(tmp_path):
    from fer_core.training import TrainConfig, train

    ckpt = tmp_path / "ckpt"
    cfg = TrainConfig(data=str(FER_MINI), val_split=0.2, arch="resnet_s", epochs=500, batch_size=16,
                      augment="light", time_budget=0.5, out=str(tmp_path / "m"), checkpoint_dir=str(ckpt),
                      verbose=0, warmup_epochs=1, patience=0)
    result = train(cfg)
    state = json.loads((ckpt / "state.json").read_text())
    assert 2 <= len(result.history) == state["planned_epochs"] < 500  # refitted after epoch 2, then kept to
    assert result.history[-1]["lr"] < result.history[2]["lr"]       # the cosine schedule ends within it
    cfg.resume, cfg.time_budget, cfg.epochs = True, None, len(result.history) + 1
    resumed = train(cfg)
    assert [h["epoch"] for h in resumed.history] == list(range(1, len(result.history) + 2))


def test_large_models_travel_as_float16_weights_fine_tune_and_publish_here(tmp_path, capsys):
    """The GPU job shrinks a model to float16 weights (weights.f16.npz + training.json); --finetune starts from
    such a folder, and publishing rebuilds, converts and evaluates it."""
    import keras

    from fer_core.classifier import EmotionClassifier
    from fer_core.models import load_spec
    from fer_core.training import TrainConfig
    from fer_core.training.conversion import load_trained
    from fer_core.training.conversion import main as convert_main
    from fer_core.training.loop import build_model

    out = tmp_path / "m"
    assert main(["--arch", "resnet_s", "--data", str(FER_MINI), "--val-split", "0.2", "--epochs", "1",
                 "--batch-size", "16", "--out", str(out), "--checkpoint-dir", str(tmp_path / "c"), "--quiet"]) == 0
    faces = (load_folder(FER_MINI).x[:6].astype(np.float32) / 127.5 - 1.0)[..., None]
    reference = keras.models.load_model(str(out / "model.keras"), compile=False).predict(faces, verbose=0)
    for name in ("model.tflite", "model.json", "README.md"):
        (out / name).unlink()
    assert convert_main(["--shrink", str(out)]) == 0
    assert not (out / "model.keras").exists() and (out / "weights.f16.npz").exists()

    # Fine-tuning starts from the float16 folder: the same network, then a run of its own.
    cfg = TrainConfig(data=str(FER_MINI), finetune=str(out))
    np.testing.assert_allclose(build_model(cfg, 48).predict(faces, verbose=0),
                               load_trained(out).predict(faces, verbose=0), atol=1e-6)
    assert cfg.resolved_name() == "m_finetuned"
    tuned = tmp_path / "models" / "m_finetuned"
    assert main(["--finetune", str(out), "--data", str(FER_MINI), "--val-split", "0.2", "--epochs", "1",
                 "--batch-size", "16", "--lr", "1e-3", "--out", str(tuned), "--checkpoint-dir", str(tmp_path / "c2"),
                 "--quiet"]) == 0
    record = json.loads((tuned / "training.json").read_text())
    assert record["config"]["finetune"] == str(out) and record["title"] == "m fine-tuned"
    assert main(["--finetune", str(tmp_path / "c2"), "--data", str(FER_MINI), "--epochs", "1"]) != 0
    assert "is not a trained model folder" in capsys.readouterr().err

    # Publishing here rebuilds the float16 weights, converts and evaluates them.
    assert convert_main(["--publish", str(out), "--val", str(FER_MINI), "--float16", "--no-keras",
                         "--name", "resnet_s_shipped", "--title", "ResNet-s, shipped"]) == 0
    assert not (out / "weights.f16.npz").exists()
    spec = load_spec(out)
    assert (spec.name, spec.title) == ("resnet_s_shipped", "ResNet-s, shipped")
    assert (out / "README.md").read_text().startswith("# ResNet-s, shipped\n\n`resnet_s_shipped`:")
    probs = EmotionClassifier(spec).predict(faces)
    np.testing.assert_allclose(probs, reference, atol=2e-2)
    assert (probs.argmax(1) == reference.argmax(1)).all()
    assert len(EMOTIONS) == probs.shape[1]
