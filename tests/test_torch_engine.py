"""The native PyTorch engine (`--engine torch`, run on the GPU machine) against the Keras side, on the CPU.

PyTorch is not installed here, so PyTorch's answers come from tests/fixtures/torch_twin_{resnet_s,vgg_s}.npz
(written by tests/fixtures/make_torch_twin.py where torch is): the real TensorFlow build of the same architecture must
reproduce them once given the twin's weights by name, which is exactly how a GPU-trained model reaches the
TFLite runtime. The time-budget planner both engines share is tested directly.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

if "tensorflow" not in sys.modules:
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from fer_core.training import TrainConfig, TrainingError
from fer_core.training.schedule import plan_epochs

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "torch_twin_resnet_s.npz"


def _twin_weights(data) -> dict[str, list[np.ndarray]]:
    weights: dict[str, list[np.ndarray]] = {}
    for key in sorted((k for k in data.files if "/" in k), key=lambda k: (k.split("/")[0], int(k.split("/")[1]))):
        weights.setdefault(key.split("/")[0], []).append(data[key].astype(np.float32))
    return weights


@pytest.mark.parametrize("arch", ["resnet_s", "vgg_s"])
def test_keras_build_reproduces_the_pytorch_twin(arch):
    from fer_core.training.architectures import build, set_named_weights
    from fer_core.training.reports import predict

    with np.load(FIXTURE.with_name(f"torch_twin_{arch}.npz")) as data:
        model = set_named_weights(build(arch, 48), _twin_weights(data))
        probs = predict(model, data["faces"])
        expected = data["probs"]
    # TensorFlow's stride-2 "same" convolutions pad only bottom and right, and Keras flattens channels last:
    # the twins must do the same.
    assert np.abs(probs - expected).max() < 1e-4
    assert np.abs(expected - expected.mean(0)).max() > 5e-3  # the answers depend on the face, not a constant


def test_named_weights_refuse_a_missing_layer():
    from fer_core.training.architectures import build, set_named_weights

    with np.load(FIXTURE) as data:
        weights = _twin_weights(data)
    weights.pop("stage4_block1_shortcut_bn")
    with pytest.raises(ValueError, match="stage4_block1_shortcut_bn"):
        set_named_weights(build("resnet_s", 48), weights)


def test_keras_distillation_loss_equals_the_torch_engines():
    from fer_core.training.distillation import DistillationLoss

    with np.load(FIXTURE) as data:
        logits, targets, expected = data["logits"], data["targets"], data["loss"]
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    loss = np.asarray(DistillationLoss(0.7, 2.0, 0.1).call(targets, probs))
    assert np.allclose(loss, expected, rtol=1e-4, atol=1e-5)
    assert not np.allclose(expected[:2], expected[2:4])  # rows without a teacher get plain cross-entropy


def test_engine_torch_without_pytorch_is_one_line():
    code = ("import sys; sys.modules['torch'] = None; from fer_core.train import main; "
            f"raise SystemExit(main(['--engine', 'torch', '--recipe', 'accurate', '--data', "
            f"'{ROOT / 'samples' / 'fer2013_mini'}', '--val-split', '0.2', '--epochs', '1']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: --engine torch needs PyTorch (pip install torch)."


def test_unknown_engine_is_refused():
    with pytest.raises(TrainingError, match="Unknown engine 'jax'"):
        TrainConfig(data="d", engine="jax").validate()


def test_time_budget_plan_skips_the_first_epoch_then_only_shortens():
    cfg = TrainConfig(data="d", epochs=150, time_budget=5.0)
    assert plan_epochs(cfg, 150, 1, [12.0], 30.0) == 150           # the first epoch (start-up) plans nothing
    first = plan_epochs(cfg, 150, 2, [12.0, 2.5], 35.0)            # epoch 2 alone sets the pace
    assert first == 2 + int((300 - 35) // (2.5 * 1.03))
    assert plan_epochs(cfg, first, 3, [12.0, 2.5, 2.0], 37.0) > first  # may still grow while early
    assert plan_epochs(cfg, 60, 40, [1.0, 1.0, 1.0], 120.0) == 60   # never grows late (the schedule is set)
    assert plan_epochs(cfg, 120, 40, [5.0, 5.0, 5.0], 120.0) == 40 + int(180 // (5.0 * 1.03))
    assert plan_epochs(TrainConfig(data="d", epochs=150), 150, 5, [3.0], 20.0) == 150  # no budget, no plan


def test_gpu_job_students_only_call_without_targets_stops_at_once(tmp_path):
    """A students-only call (TEACHER_SEEDS="") on a machine that lost the teacher's targets must cost seconds
    of the device slot, not start students without a teacher: it stops before training, naming the file."""
    env = os.environ | {"TEACHER_SEEDS": "", "STUDENT_ARCHS": "resnet_m resnet_m:1", "SKIP_WHEELS": "1",
                        "PY": sys.executable, "JOB": str(tmp_path / "job"), "OUT": str(tmp_path / "out"),
                        "TRAIN_DIR": str(ROOT / "samples" / "fer2013_mini")}
    proc = subprocess.run(["bash", "tools/gpu_job/run.sh"], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=120)
    assert proc.returncode == 1
    missing = tmp_path / "job" / "teacher_probs.npz"
    assert f"no distillation targets at {missing}" in proc.stdout
    assert "teachers:" not in proc.stdout and "students:" not in proc.stdout
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["job.log"]


def test_resnet_m_fullres_has_resnet_m_parameters_at_twice_the_resolution():
    from fer_core.training.architectures import build

    half, full = build("resnet_m", 48), build("resnet_m_fullres", 48)
    assert 1.2e6 < full.count_params() <= half.count_params() < 1.5e6  # the student's cap is 1.5M
    assert half.get_layer("stage4_block1_bn2").output.shape[1:3] == (3, 3)
    assert full.get_layer("stage4_block1_bn2").output.shape[1:3] == (6, 6)


def test_vgg_is_a_teacher_sized_network_with_a_torch_twin_for_every_layer():
    from fer_core.training.architectures import build

    model = build("vgg", 48)
    assert 5e6 <= model.count_params() <= 15e6  # issue 9's teacher size
    assert model.get_layer("stage4_bn2").output.shape[1:] == (6, 6, 512)
    assert model.get_layer("fc1").input.shape[1:] == (3 * 3 * 512,)
    with np.load(FIXTURE.with_name("torch_twin_vgg_s.npz")) as data:  # written from the twin's own layers
        twin_layers = {k.split("/")[0] for k in data.files if "/" in k}
    assert twin_layers == {layer.name for layer in build("vgg_s", 48).layers if layer.weights}
