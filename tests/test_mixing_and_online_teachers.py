"""Mixup/CutMix (`--mix`) and online teachers (`--teacher-model`), on the CPU with the real Keras and faces.

The GPU machine runs the same options through `--engine torch`, which shares the mixing plans and the loss;
its twin of an online teacher is checked against the Keras teacher when a run starts (torch_engine.py).
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

from fer_core.train import main
from fer_core.training.data import ONLINE_TEACHER_MARK, load_folder
from fer_core.training.mixing import batch_rng, mix_plan

ROOT = Path(__file__).resolve().parent.parent
FER_MINI = ROOT / "samples" / "fer2013_mini"
TEACHER = "resnet_m_distilled_resnet18_150ep"  # a shipped model with Keras weights


def _faces_and_targets(n: int = 16) -> tuple[np.ndarray, np.ndarray]:
    ds = load_folder(FER_MINI)
    faces = (ds.x[:n].astype(np.float32) / 127.5 - 1.0)[..., None]
    rng = np.random.default_rng(1)
    targets = np.concatenate([np.eye(7, dtype=np.float32)[ds.y[:n]],
                              rng.dirichlet(np.ones(7), n).astype(np.float32)], 1)
    return faces, targets


# ------------------------------------------------------------------------------------------------ mixing
def test_cutmix_pastes_a_box_and_blends_the_targets_by_its_area():
    faces, targets = _faces_and_targets()
    plan = mix_plan(batch_rng(0, 3, 5), 16, 48, "cutmix", prob=1.0)
    mixed, blended = plan.apply(faces, targets)
    assert set(np.unique(plan.mask)) <= {0.0, 1.0}
    np.testing.assert_allclose(plan.share, plan.mask.mean(axis=(1, 2)), atol=1e-6)
    assert 0 < plan.share.min() and plan.share.max() <= 1 and (plan.share < 1).sum() >= 12  # boxes of any size
    own = plan.mask[..., None] == 1
    np.testing.assert_array_equal(mixed[own], np.broadcast_to(faces, mixed.shape)[own])       # outside the box
    np.testing.assert_array_equal(mixed[~own], faces[plan.partner][~own])                      # inside it
    np.testing.assert_allclose(blended, plan.share[:, None] * targets
                               + (1 - plan.share[:, None]) * targets[plan.partner], atol=1e-6)
    np.testing.assert_allclose(blended[:, :7].sum(1), 1, atol=1e-6)
    np.testing.assert_allclose(blended[:, 7:].sum(1), 1, atol=1e-6)  # still a teacher row: the loss distils


def test_mixup_blends_whole_faces_and_leaves_unchosen_faces_alone():
    faces, targets = _faces_and_targets()
    plan = mix_plan(batch_rng(0, 0, 0), 16, 48, "mixup", prob=0.5)
    mixed, blended = plan.apply(faces, targets)
    kept = plan.share == 1
    assert 2 <= kept.sum() <= 14  # about half the faces are mixed
    np.testing.assert_array_equal(mixed[kept], faces[kept])
    np.testing.assert_array_equal(blended[kept], targets[kept])
    lam = plan.share[~kept][:, None, None, None]
    np.testing.assert_allclose(mixed[~kept], lam * faces[~kept] + (1 - lam) * faces[plan.partner][~kept], atol=1e-6)
    # The same run, epoch and batch draw the same plan: both engines and a resumed run mix alike.
    again = mix_plan(batch_rng(0, 0, 0), 16, 48, "mixup", prob=0.5)
    np.testing.assert_array_equal(again.mask, plan.mask)
    assert mix_plan(batch_rng(0, 0, 0), 16, 48, "none") is None


# ------------------------------------------------------------------------------------------------ online teacher
def test_online_teacher_loss_equals_the_stored_teacher_loss():
    from fer_core.training.distillation import DistillationLoss

    rng = np.random.default_rng(0)
    student = rng.dirichlet(np.ones(7), 6).astype(np.float32)
    teacher = rng.dirichlet(np.ones(7), 6).astype(np.float32)
    labels = np.eye(7, dtype=np.float32)[rng.integers(0, 7, 6)]
    loss = DistillationLoss(weight=0.7, temperature=2.0)
    stored = float(loss(np.concatenate([labels, teacher], 1), student))
    mark = np.full_like(teacher, ONLINE_TEACHER_MARK)
    online = float(loss(np.concatenate([labels, mark], 1), np.concatenate([student, teacher], 1)))
    assert online == pytest.approx(stored, rel=1e-5)
    # Validation faces (no teacher row) are scored on the labels alone, whatever the teacher says.
    ce = float(-(labels * np.log(student)).sum(1).mean())
    val = float(loss(np.concatenate([labels, np.zeros_like(teacher)], 1), np.concatenate([student, teacher], 1)))
    assert val == pytest.approx(ce, rel=1e-5)


def test_online_teacher_answers_on_the_faces_the_student_sees():
    from fer_core.training import TrainConfig
    from fer_core.training.architectures import build
    from fer_core.training.distillation import load_teacher_network
    from fer_core.training.loop import _training_model

    faces, _ = _faces_and_targets(8)
    teacher = load_teacher_network(TEACHER)
    clean = np.asarray(teacher(faces, training=False))
    plain = _training_model(build("resnet_s", 48), TrainConfig(data="", augment="none", teacher_models=[TEACHER]))
    out = np.asarray(plain(faces, training=True))
    assert out.shape == (8, 14)
    np.testing.assert_allclose(out[:, 7:], clean, atol=1e-5)  # frozen: batch norm keeps its moving statistics
    augmented = _training_model(build("resnet_s", 48),
                                TrainConfig(data="", augment="standard", teacher_models=[TEACHER]))
    moved = np.asarray(augmented(faces, training=True))[:, 7:]
    assert np.abs(moved - clean).max() > 0.05  # it answered on the warped, erased faces, not the stored ones
    np.testing.assert_allclose(moved.sum(1), 1, atol=1e-5)


def test_cli_distils_online_with_cutmix_writes_the_card_and_resumes(tmp_path, capsys):
    from fer_core.models import get_model

    out, ckpt = tmp_path / "models" / "student", tmp_path / "ckpt"
    args = ["--recipe", "fast", "--arch", "resnet_s", "--data", str(FER_MINI), "--val-split", "0.2",
            "--teacher-model", TEACHER, "--mix", "cutmix", "--batch-size", "16", "--lr", "0.02",
            "--out", str(out), "--checkpoint-dir", str(ckpt), "--quiet"]
    assert main(args + ["--epochs", "2"]) == 0, capsys.readouterr().err
    record = json.loads((out / "training.json").read_text())
    assert record["config"]["teacher_models"] == [TEACHER] and record["config"]["mix"] == "cutmix"
    assert all(np.isfinite(h["loss"]) for h in record["history"])
    card = get_model("student", extra_dirs=[out.parent]).card()
    assert f"the teacher networks `{TEACHER}` run online" in card and "mixed by cutmix" in card
    assert main(args + ["--epochs", "3", "--resume"]) == 0, capsys.readouterr().err
    assert [h["epoch"] for h in json.loads((out / "training.json").read_text())["history"]] == [1, 2, 3]


@pytest.mark.parametrize("extra, message", [
    (["--teacher-model", "no_such_model"], "neither a Keras file, a model folder nor a registry model"),
    (["--teacher-model", "mini_xception_fer2013"], "takes 64px faces"),
    (["--teacher-model", TEACHER, "--teacher", "t.npz"], "not both"),
    (["--mix", "cutmix", "--mix-prob", "0"], "--mix-prob must be above 0"),
])
def test_bad_teacher_or_mix_options_fail_in_one_line(tmp_path, capsys, extra, message):
    code = main(["--arch", "resnet_s", "--data", str(FER_MINI), "--val-split", "0.2", "--epochs", "1",
                 "--out", str(tmp_path / "m"), "--checkpoint-dir", str(tmp_path / "c"), "--quiet", *extra])
    err = capsys.readouterr().err
    assert code != 0 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
