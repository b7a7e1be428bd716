"""`pip install .`: the wheel holds fer_core with its models, and its `emotion-recognition` command works
like `python emotion_recognition.py` from any folder. Built and installed for real into a fresh virtual
environment (without re-downloading the dependencies: the project's own are put on its path)."""

from __future__ import annotations

import site
import subprocess
import sys
import venv
import zipfile

import pytest

from sample_media import PHOTOS, ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    work = tmp_path_factory.mktemp("install")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(work / "dist"), str(ROOT)], check=True, capture_output=True, timeout=300)
    wheel = next((work / "dist").glob("emotion_recognition_fer-*.whl"))
    env_dir = work / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    target_site = subprocess.run([str(python), "-c", "import site; print(site.getsitepackages()[0])"],
                                 capture_output=True, text=True, check=True).stdout.strip()
    # The dependencies: this interpreter's site-packages, put on the new environment's path.
    (work / "venv" / target_site.split(str(env_dir) + "/", 1)[1] / "project_deps.pth").write_text(
        "\n".join(site.getsitepackages()) + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    return wheel, env_dir, work


def test_wheel_holds_the_package_its_models_and_the_command(installed):
    wheel, _, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    assert "emotion_recognition_fer/fer_core/pipeline.py" in names
    assert "emotion_recognition_fer/models/aliases.json" in names
    assert "emotion_recognition_fer/fer_core/batch/__main__.py" in names  # python -m fer_core.batch
    assert "emotion_recognition_fer/models/detectors/face_detection_yunet_2026may.onnx" in names
    assert "emotion_recognition_fer.pth" in names
    assert not any(n.startswith(("tests/", "pages/", "dashboard/", "samples/")) for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "emotion-recognition = fer_core.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "emotion_recognition_fer/fer_core/py.typed" in names  # type checkers read fer_core's hints


def test_one_version_in_the_wheel_and_the_command(installed):
    """fer_core.__version__ is the one place the version is written; the wheel and --version both show it."""
    from fer_core import __version__

    wheel, env_dir, work = installed
    assert wheel.name.startswith(f"emotion_recognition_fer-{__version__}-")
    shown = subprocess.run([str(env_dir / "bin" / "emotion-recognition"), "--version"], capture_output=True,
                           text=True, cwd=work, timeout=120)
    assert shown.returncode == 0 and shown.stdout == f"emotion-recognition {__version__}\n"


def test_installed_command_matches_the_script(installed):
    _, env_dir, work = installed
    photo = str(PHOTOS / "unlabelled_multi_face.jpg")
    command = subprocess.run([str(env_dir / "bin" / "emotion-recognition"), "--input", photo],
                             capture_output=True, text=True, cwd=work, timeout=120)
    script = subprocess.run([sys.executable, str(ROOT / "emotion_recognition.py"), "--input", photo],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert command.returncode == script.returncode == 0
    assert command.stdout == script.stdout and command.stdout.count("Detected Emotion:") == 5
    where = subprocess.run([str(env_dir / "bin" / "python"), "-c", "import fer_core, fer_core.models as m; "
                            "print(fer_core.__file__); print(m.MODELS_DIR.is_dir())"],
                           capture_output=True, text=True, cwd=work, timeout=60).stdout.split()
    assert where[0].startswith(str(env_dir)) and where[1] == "True"  # the installed copy, not this checkout
    missing = subprocess.run([str(env_dir / "bin" / "emotion-recognition"), "--input", "nope.jpg"],
                             capture_output=True, text=True, cwd=work, timeout=60)
    assert missing.returncode == 1 and missing.stderr == "error: nope.jpg does not exist.\n"
