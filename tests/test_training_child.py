"""Training in a child process (`fer_core.training.job` started by `dashboard.jobs.ChildJob`), and validation
faces split by group with near-copies counted, on the bundled FER2013 sample (samples/fer2013_mini)."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from dashboard.jobs import ChildJob
from fer_core.errors import DatasetError
from fer_core.training.data import face_groups, load_folder, near_duplicates, split_by_group, split_validation
from fer_core.training.job import kept_epochs, read_events, write_spec
from module_checks import newly_imported

REPO = Path(__file__).resolve().parents[1]
FER_MINI = REPO / "samples" / "fer2013_mini"
JOB = "fer_core.training.job"


def sequences(tmp_path: Path) -> Path:
    """CK+-style data: 3 subjects x 2 emotions, each a 'sequence' of 4 frames that are one face shifted by a
    pixel, named S<subject>_<sequence>_<frame>.png."""
    faces = sorted((FER_MINI / "happy").glob("*.jpg"))[:3] + sorted((FER_MINI / "sad").glob("*.jpg"))[:3]
    root = tmp_path / "ck"
    for i, path in enumerate(faces):
        emotion, subject = ("happy" if i < 3 else "sad"), f"S{i % 3:03d}"
        face = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        (root / emotion).mkdir(parents=True, exist_ok=True)
        for frame in range(4):
            moved = np.roll(face, frame % 2, axis=1)
            cv2.imwrite(str(root / emotion / f"{subject}_{i:03d}_{frame:08d}.png"), moved)
    return root


def test_a_random_split_puts_frames_of_one_sequence_on_both_sides_and_a_group_split_does_not(tmp_path):
    ds = load_folder(sequences(tmp_path))
    train, val = split_validation(ds, 0.25, seed=0)
    assert near_duplicates(train.x, val.x) == len(val)  # every validation frame has its twin in training
    groups = face_groups(ds, "prefix")
    assert sorted(set(groups)) == ["s000", "s001", "s002"]
    train, val = split_by_group(ds, groups, 0.25, seed=0)
    subjects = lambda d: {Path(s).name[:4] for s in d.sources}  # noqa: E731
    assert len(val) == 8 and not subjects(train) & subjects(val)
    assert near_duplicates(train.x, val.x) == 0


def test_distinct_faces_are_not_near_duplicates():
    ds = load_folder(FER_MINI)
    train, val = split_validation(ds, 0.2, seed=0)
    assert near_duplicates(train.x, val.x) == 0


def test_groups_by_subfolder_and_one_sentence_when_there_is_none(tmp_path):
    for emotion in ("happy", "sad"):
        for subject in ("anna", "ben"):
            folder = tmp_path / "faces" / emotion / subject
            folder.mkdir(parents=True)
            shutil.copy(sorted((FER_MINI / emotion).glob("*.jpg"))[0], folder / "1.jpg")
    ds = load_folder(tmp_path / "faces")
    assert face_groups(ds, "subfolder") == ["anna", "ben", "anna", "ben"]
    with pytest.raises(DatasetError, match="no subfolders"):
        face_groups(load_folder(FER_MINI), "subfolder")
    one = load_folder(tmp_path / "faces")
    with pytest.raises(DatasetError, match="one group"):
        split_by_group(one, ["x"] * len(one), 0.2)


def _spec(folder: Path, out: Path, epochs: int, split: str = "random", data: Path = FER_MINI) -> Path:
    from fer_core.training import TrainConfig

    cfg = TrainConfig(data=str(data), val_split=0.2, name=out.name, out=str(out), epochs=epochs, batch_size=32,
                      finetune="mini_xception_wide48", freeze_blocks=2, lr=3e-4, augment="none", warmup_epochs=0,
                      patience=0, checkpoint_dir=str(folder / "checkpoints"), verbose=0)
    return write_spec(folder, cfg, None, split)


def _wait(job: ChildJob, until, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while not until():
        assert time.time() < deadline, (job.folder / "log.txt").read_text()[-3000:]
        time.sleep(0.3)


def test_a_killed_run_keeps_its_finished_epochs_and_finish_writes_their_model(tmp_path):
    """The child is killed after its first epoch (as the page's Stop does): the copies it kept are whole, and
    `--finish` writes a working model folder from the best finished epoch; this process never loads TensorFlow."""
    modules_before = set(sys.modules)
    folder, out = tmp_path / "job", tmp_path / "models" / "killed"
    _spec(folder, out, epochs=50, split="prefix", data=sequences(tmp_path))
    job = ChildJob.start(JOB, folder)
    _wait(job, lambda: any(e["event"] == "epoch" for e in read_events(folder)) or not job.running)
    job.kill()
    assert not job.running
    events = read_events(folder)
    assert [e["event"] for e in events][:4] == ["status", "faces", "groups", "duplicates"]
    assert any(e["event"] == "groups" for e in events) and any(e["event"] == "duplicates" for e in events)
    done = kept_epochs(folder)
    assert 1 <= done < 50
    finish = ChildJob.start(JOB, folder, "--finish")
    _wait(finish, lambda: not finish.running)
    final = read_events(folder)[-1]
    assert final["event"] == "done", (folder / "log.txt").read_text()[-3000:]
    assert final["result"]["stopped"] and len(final["result"]["history"]) == done
    assert (out / "model.tflite").exists()
    assert json.loads((out / "training.json").read_text())["stopped_early"] is True
    from fer_core.classifier import EmotionClassifier
    from fer_core.models import load_spec

    probabilities = EmotionClassifier(load_spec(out)).predict(np.zeros((1, 48, 48, 1), np.float32))
    assert probabilities.shape == (1, 7) and abs(float(probabilities.sum()) - 1) < 1e-3
    assert not newly_imported(modules_before, "tensorflow")


def test_a_bad_dataset_comes_back_as_one_sentence(tmp_path):
    data = tmp_path / "one_class" / "happy"
    data.mkdir(parents=True)
    shutil.copy(sorted((FER_MINI / "happy").glob("*.jpg"))[0], data / "a.jpg")
    folder = tmp_path / "job"
    _spec(folder, tmp_path / "out", epochs=1, data=tmp_path / "one_class")
    job = ChildJob.start(JOB, folder)
    _wait(job, lambda: not job.running, timeout=120)
    final = read_events(folder)[-1]
    assert final["event"] == "error" and final["user_error"] and "needs at least 2" in final["message"]
    assert job.returncode == 2
