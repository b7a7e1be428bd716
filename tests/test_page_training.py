"""The Training page under AppTest: train on the bundled sample (in a child process), see the result, the
model is registered (in a temporary user-models folder, never in models/), downloadable, and selectable; the
server (this test process, where AppTest runs the page) never imports TensorFlow; a sidebar change or a visit
to another page does not touch a run; bad zips get one clear message. Stop, which keeps the best finished
epoch, is tested in a real browser (tests/browser/test_daily_tool_browser.py)."""

from __future__ import annotations

import io
import json
import os
import sys
import time
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from module_checks import newly_imported

if "tensorflow" not in sys.modules:
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")
PAGE = "pages/6_Training.py"
FER_MINI = REPO / "samples" / "fer2013_mini"


@pytest.fixture
def user_models(tmp_path, monkeypatch):
    folder = tmp_path / "user_models"
    monkeypatch.setenv("FER_USER_MODELS_DIR", str(folder))
    monkeypatch.setenv("FER_MODELS_DIRS", "")
    return folder


def open_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240).run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def wait_for_run(at: AppTest, until=lambda at: "training_job" not in at.session_state, timeout: float = 300) -> None:
    """Rerun the page (as its fragment does every second in a browser) until `until(at)`: by default, until the
    child process's run is over and its result (or error) is on the page."""
    deadline = time.time() + timeout
    while not until(at):
        assert time.time() < deadline, "the training run did not end in time"
        time.sleep(0.5)
        at.run()
        assert not at.exception, [e.value for e in at.exception]


def test_training_page_trains_on_the_sample_and_registers_the_model(user_models):
    modules_before = set(sys.modules)
    at = open_page()
    assert "Training" in at.title[0].value
    at.radio(key="train_mode").set_value("Scratch (Mini-XCEPTION wide, 48x48)").run()
    at.slider(key="train_epochs").set_value(1)
    at.text_input(key="train_name").set_value("page_test_model")
    at.button(key="train_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "training_job" in at.session_state  # running in its child process
    wait_for_run(at)
    assert not newly_imported(modules_before, "tensorflow", "keras")  # the page's process never loaded them
    assert not at.error, [e.value for e in at.error]
    folder = user_models / "page_test_model"
    assert (folder / "model.tflite").exists() and (folder / "model.json").exists()
    labels = [m.label for m in at.metric]
    assert "Validation accuracy" in labels and "Cost per face" in labels
    assert any(b.label.startswith("Use this model") for b in at.button)
    # The new model is in the sidebar's list and can be made the one in use.
    assert any(o.startswith("page_test_model ") for o in at.sidebar.selectbox(key="_sb_model").options)
    at.button(key="train_use").click().run()
    assert not at.exception
    assert at.sidebar.selectbox(key="_sb_model").value == "page_test_model"
    assert any("is the model in use" in s.value for s in at.success)
    assert not (REPO / "models" / "page_test_model").exists()


def test_a_run_goes_on_through_a_sidebar_change_and_a_visit_to_another_page(user_models):
    """The run is a child process kept in the session: a sidebar change reruns the page and another page
    replaces it, and neither touches the run; the page says it runs with the recipe it started with, and the
    result is there on coming back, compared with its base model. A second run under the same name is saved
    under a free name, the first model's files untouched. (Stop is tested in a browser:
    tests/browser/test_daily_tool_browser.py.)"""
    modules_before = set(sys.modules)
    at = open_page()
    at.slider(key="train_epochs").set_value(2)
    at.text_input(key="train_name").set_value("through_clicks").run()
    at.button(key="train_start").click().run()
    pid = at.session_state["training_job"]["job"].process.pid
    at.sidebar.toggle(key="_sb_tta").set_value(True).run()  # a sidebar setting changes mid-run
    assert not at.exception
    assert at.session_state["training_job"]["job"].process.pid == pid and at.session_state["training_job"]["job"].running
    assert any("with the recipe it started with" in c.value for c in at.caption)
    assert at.button(key="train_start").disabled
    at.switch_page("pages/1_Image.py").run()  # another page while it trains
    assert not at.exception
    at.switch_page(PAGE).run()
    assert at.slider(key="train_epochs").value == 2  # the recipe's inputs came back too
    wait_for_run(at)
    assert not at.error, [e.value for e in at.error]
    assert (user_models / "through_clicks" / "model.tflite").exists()
    assert at.session_state["training_result"]["name"] == "through_clicks"
    # The result stands beside the base model on the same faces, says 14 validation faces are too few, and
    # its curves tick whole epochs.
    labels = {m.label: m for m in at.metric}
    assert "Base model, same faces" in labels and (labels["Validation accuracy"].delta.endswith(" points")
                                                   or labels["Validation accuracy"].delta == "same as before")
    assert any("Only 14 validation faces" in w.value for w in at.warning)
    layout = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]
    assert layout["xaxis"]["dtick"] == 1 and layout["xaxis"]["tick0"] == 1
    # The same name again never overwrites: the page says where this run will go, and it goes there.
    first = user_models / "through_clicks" / "model.tflite"
    stamp = first.stat().st_mtime_ns
    at.text_input(key="train_name").set_value("through_clicks")
    at.slider(key="train_epochs").set_value(1).run()
    assert any("will be saved as 'through_clicks_2'" in i.value for i in at.info)
    at.button(key="train_start").click().run()
    wait_for_run(at)
    assert not at.exception and not at.error, [e.value for e in at.exception] + [e.value for e in at.error]
    assert (user_models / "through_clicks_2" / "model.tflite").exists() and first.stat().st_mtime_ns == stamp
    assert not newly_imported(modules_before, "tensorflow")


def test_upload_without_a_file_asks_for_one(user_models):
    at = open_page()
    at.radio(key="train_source").set_value("Upload a zip of class folders").run()
    at.button(key="train_start").click().run()
    assert not at.exception
    assert any("Upload a zip" in w.value for w in at.warning)
    assert not user_models.exists()


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_uploaded_zips_are_checked(tmp_path):
    """What the page does with an upload (AppTest cannot drive a file uploader): unpack, then read."""
    from fer_core.training.data import extract_zip, load_folder
    from fer_core.errors import DatasetError

    faces = {f"faces/{e}/{p.name}": p.read_bytes() for e in ("happy", "sad")
             for p in sorted((FER_MINI / e).glob("*.jpg"))[:3]}
    ds = load_folder(extract_zip(_zip(faces), tmp_path / "ok"))  # one wrapping folder is fine
    assert len(ds) == 6 and ds.present_classes() == ["happy", "sad"]
    with pytest.raises(DatasetError, match="not a valid zip"):
        extract_zip(b"PK not really", tmp_path / "bad")
    with pytest.raises(DatasetError, match="unsafe path"):
        extract_zip(_zip({"../evil.jpg": b"x"}), tmp_path / "evil")
    one_class = {k: v for k, v in faces.items() if "/happy/" in k}
    with pytest.raises(DatasetError, match="needs at least 2"):
        load_folder(extract_zip(_zip(one_class), tmp_path / "one"))


def _understated_zip(real_bytes: int, claimed: int = 1000) -> bytes:
    """A zip whose one member inflates to `real_bytes` while its headers (local and central) say `claimed`:
    a few kilobytes of upload."""
    import struct
    import zlib

    name = b"faces/happy/a.png"
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(2**20)
    body = b"".join(packer.compress(zeros) for _ in range(real_bytes // 2**20)) + packer.flush()
    crc = 0
    for _ in range(real_bytes // 2**20):
        crc = zlib.crc32(zeros, crc)
    local = struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(body), claimed, len(name), 0) + name
    central = struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(body), claimed, len(name),
                          0, 0, 0, 0, 0, 0) + name
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local) + len(body), 0)
    return local + body + central + end


def test_unzipping_counts_the_real_bytes_whatever_the_header_says(tmp_path):
    """200 MB of real data behind a header that says 1000 bytes: stopped at the limit (10 MB here), with at
    most the limit written, nothing left behind, and a message that names the upload."""
    from fer_core.errors import DatasetError
    from fer_core.training.data import extract_zip

    data = _understated_zip(200 * 2**20)
    assert len(data) < 300_000
    dest = tmp_path / "out"
    with pytest.raises(DatasetError) as error:
        extract_zip(data, dest, name="faces.zip", max_bytes=10 * 2**20)
    assert str(error.value) == "faces.zip holds too much data (at most 50000 files and 10 MB unpacked)."
    assert not dest.exists()
    # Under the limit, the understated member is refused as damaged: its contents do not match its header.
    with pytest.raises(DatasetError, match=r"^faces.zip is damaged: faces/happy/a.png does not match"):
        extract_zip(_understated_zip(3 * 2**20), dest, name="faces.zip", max_bytes=10 * 2**20)
    assert not dest.exists()
    # An honest header over the limit is refused before anything is unpacked.
    honest = _zip({"faces/happy/a.png": bytes(11 * 2**20)})
    with pytest.raises(DatasetError, match="holds too much data"):
        extract_zip(honest, dest, name="faces.zip", max_bytes=10 * 2**20)
    assert not dest.exists()
