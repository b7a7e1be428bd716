"""Training: fine-tune a model or train one from scratch on your own labelled faces, watch it learn, use it.

The data is a zip of class folders (happy/, sad/, ... named after the seven emotions) or the bundled sample
(70 FER2013 faces). Training runs in this page's session with live curves; the finished model is written
as a registry folder (weights, card, log, curves) under `user_models/` (or `models/` if asked), appears in
the sidebar's model list at once, and can be downloaded as a zip.
"""

from __future__ import annotations

import io
import math
import os
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import files, ui
from dashboard import settings as settings_mod
from fer_core.emotions import EMOTIONS, display_name
from fer_core.models import list_models
from fer_core.training.data import extract_zip

USER_MODELS = Path(os.environ.get("FER_USER_MODELS_DIR") or files.REPO_ROOT / "user_models")
SAMPLE = files.SAMPLES / "fer2013_mini"
RESULT_KEY = "training_result"


def _register_user_models_dir() -> None:
    """Make models trained here visible to the registry (and so to every page's model list)."""
    dirs = [p for p in os.environ.get("FER_MODELS_DIRS", "").split(os.pathsep) if p]
    if str(USER_MODELS) not in dirs:
        os.environ["FER_MODELS_DIRS"] = os.pathsep.join(dirs + [str(USER_MODELS)])


_register_user_models_dir()
# oneDNN crashes 64x64 Mini-XCEPTION training on some CPUs, and TensorFlow reads this once, at import: the
# dashboard trains small datasets, so the safe kernels everywhere cost little.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
# aiortc (the Webcam page's WebRTC stack) segfaults when it is first imported after TensorFlow in the same
# process; the other order is fine. Load it now, before training can import TensorFlow, so one server can
# train and then stream.
try:
    import aiortc  # noqa: F401
except ImportError:
    pass

settings = ui.setup_page(
    "Training", ":material/model_training:",
    "Teach a model your own faces: upload labelled faces (or use the bundled sample), fine-tune a model or "
    "train one from scratch, watch the loss and accuracy as it learns, then use it on the other pages or "
    "download it.",
)


def model_zip(folder: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.iterdir()):
            if path.is_file():
                zf.write(path, f"{folder.name}/{path.name}")
    return buf.getvalue()


def curves(history: list[dict]) -> object:
    from fer_core.training.reports import learning_curves_figure

    fig = learning_curves_figure(history)
    fig.update_layout(height=340, margin={"t": 40, "b": 30, "l": 10, "r": 10},
                      legend={"orientation": "h", "y": -0.25})
    # Whole epochs only (plotly would tick 1, 1.5, 2 on a short run), about ten ticks at most.
    fig.update_xaxes(tickmode="linear", tick0=1, dtick=max(1, math.ceil(len(history) / 10)), tickformat="d")
    return fig


def clean_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text.strip()).strip("._") or "my_model"


def taken_names(out_root: Path) -> set[str]:
    """Names a new model must not silently take: every registry model's, and every folder in `out_root`."""
    names = {spec.name for spec in list_models()}
    if out_root.is_dir():
        names |= {p.name for p in out_root.iterdir() if p.is_dir()}
    return names


def free_name(stem: str, taken: set[str]) -> str:
    if stem not in taken:
        return stem
    n = 2
    while f"{stem}_{n}" in taken:
        n += 1
    return f"{stem}_{n}"


def reference_accuracy(cfg: object, reference: str) -> dict | None:
    """The accuracy of an existing model (the base of a fine-tuning, else the model in use) on exactly the
    validation faces this run held out (the same split: same data, share and seed), so the new model's
    score has something to be compared with."""
    import numpy as np

    from fer_core.classifier import EmotionClassifier
    from fer_core.models import get_model
    from fer_core.preprocess import prepare_face
    from fer_core.training.loop import prepare_data

    spec = get_model(reference)
    _, val_ds = prepare_data(cfg, spec.input_size)
    if not len(val_ds):
        return None
    classifier = EmotionClassifier(reference)
    probabilities = classifier.predict(np.stack([prepare_face(face, classifier.input_size) for face in val_ds.x]))
    predicted = [classifier.classes[i] for i in probabilities.argmax(axis=1)]
    truth = [EMOTIONS[i] for i in val_ds.y]
    return {"name": spec.name, "title": spec.title, "n": len(truth),
            "accuracy": float(np.mean([p == t for p, t in zip(predicted, truth)])),
            "recorded": spec.metrics.get("val_accuracy"), "recorded_on": spec.metrics.get("val_data")}


def user_text(error: BaseException, paths: dict[str, str]) -> BaseException:
    """The same error with the server's temporary paths replaced by what the user knows (their upload)."""
    from fer_core.errors import FerError

    if not isinstance(error, FerError):
        return error
    text = str(error)
    for path, shown in sorted(paths.items(), key=lambda item: -len(item[0])):
        text = text.replace(path, shown)
    return type(error)(text)


def use_model(name: str) -> None:
    """on_click: make the new model the one every page uses."""
    st.session_state.setdefault(settings_mod.VALUES_KEY, {})["model"] = name


# --- 1. Data ---------------------------------------------------------------------------------------------
st.markdown("#### 1. Faces")
source = st.radio("Data", ["Bundled sample (70 FER2013 faces, 10 per emotion)", "Upload a zip of class folders"],
                  key="train_source", horizontal=True, label_visibility="collapsed")
upload = None
if source.startswith("Upload"):
    upload = st.file_uploader(
        "Zip of class folders", type=["zip"], key="train_zip",
        help=f"One folder per emotion, named {', '.join(EMOTIONS)} (at least two), each holding face "
             f"images (.jpg, .png, ...). Faces are turned grey and resized to the model's input size. "
             f"Up to {files.upload_limit_mb()} MB.")
    st.caption("Faces should be cropped to the face (as the detector's box with a small margin) like FER2013.")

# --- 2. Recipe -------------------------------------------------------------------------------------------
st.markdown("#### 2. Recipe")
bases = {s.name: s for s in list_models() if s.keras_path and s.keras_path.exists()}
c1, c2, c3 = st.columns(3)
with c1:
    mode = st.radio("Start from", ["Fine-tune a model", "Scratch (Mini-XCEPTION wide, 48x48)"], key="train_mode",
                    help="Fine-tuning starts from a trained model's weights and needs few faces and epochs; "
                         "from scratch needs thousands of faces.")
    finetune = mode.startswith("Fine")
    base = None
    if finetune:
        if not bases:
            st.error("No model with Keras weights to fine-tune from.", icon=":material/error:")
            st.stop()
        names = list(bases)
        base = st.selectbox("Base model", names, key="train_base", format_func=lambda n: bases[n].title,
                            index=names.index(settings.model) if settings.model in names else 0)
with c2:
    epochs = st.slider("Epochs", 1, 50, 3, key="train_epochs",
                       help="Passes over the training faces; the best epoch on the validation faces is kept.")
    val_split = st.slider("Validation share", 0.1, 0.5, 0.2, 0.05, key="train_val",
                          help="Faces of each class held out to measure accuracy and choose the best epoch.")
    freeze = st.slider("Frozen blocks", 0, 5, 2 if finetune else 0, key="train_freeze", disabled=not finetune,
                       help="Keep the first blocks' weights as they are (the stem is block 1); fewer weights to "
                            "learn means less overfitting on a small dataset.")
with c3:
    lr = st.select_slider("Learning rate", [1e-4, 3e-4, 1e-3, 2e-3, 5e-3], value=3e-4 if finetune else 2e-3,
                          key="train_lr", format_func=lambda v: f"{v:g}")
    augment = st.selectbox("Augmentation", ["none", "light", "standard", "strong"], index=1, key="train_aug",
                           help="Random flips, shifts, small rotations and zooms, brightness and contrast, and "
                                "(standard, strong) random erasing of a patch.")
    into_models = st.checkbox("Save into models/ (shared with the project)", value=False, key="train_into_models",
                              help="Otherwise the model goes to user_models/, which is not part of the repository.")
    out_root = files.REPO_ROOT / "models" if into_models else USER_MODELS
    where = "models/" if into_models else "user_models/"
    taken = taken_names(out_root)
    name = st.text_input("Model name", free_name(f"{base}_custom" if finetune else "my_model", taken),
                         key="train_name", max_chars=60)
    wanted = clean_name(name)
    save_as, replace = wanted, False
    if wanted in taken:
        # Only a model trained here, in user_models/, may be replaced; models/ holds the project's own.
        ours = not into_models and (USER_MODELS / wanted).is_dir()
        if ours:
            replace = st.checkbox("Replace the existing model", value=False, key="train_replace",
                                  help=f"A model named '{wanted}' is already in {where}.")
        if replace:
            st.warning(f"Training will overwrite the model '{wanted}' in {where}.", icon=":material/warning:")
        else:
            save_as = free_name(wanted, taken)
            st.info(f"A model named '{wanted}' is already in {where}: this run will be saved as '{save_as}' unless "
                    "you tick Replace." if ours else f"'{wanted}' is the name of another model: this run will be "
                    f"saved as '{save_as}'.", icon=":material/info:")

start = st.button("Train", type="primary", icon=":material/play_arrow:", key="train_start")

# --- 3. Training -----------------------------------------------------------------------------------------
if start:
    if upload is None and source.startswith("Upload"):
        st.warning("Upload a zip of class folders first, or choose the bundled sample.", icon=":material/upload:")
        st.stop()
    shown = upload.name if upload is not None else "the bundled sample"
    panel = st.empty()  # everything a run shows while it lasts; emptied if it fails
    with panel.container():
        status = st.status(f"Unpacking {shown}..." if upload is not None else "Reading the bundled sample...",
                           expanded=True)
        progress = st.empty()
        chart = st.empty()
    work = Path(tempfile.mkdtemp(prefix="fer-train-"))
    data_dir = work / "data"
    trained = False
    try:
        if upload is not None:
            extract_zip(upload.getvalue(), data_dir, name=upload.name)
        else:
            data_dir = SAMPLE
        from fer_core.training import TrainConfig, train
        from fer_core.training.data import load_folder

        status.update(label=f"Checking the faces in {shown}...")
        found = load_folder(data_dir)  # the checks, with a clear message, before anything heavy
        counts = found.class_counts()
        status.write(f"{len(found)} faces: " + ", ".join(f"{display_name(k)} {v}" for k, v in counts.items() if v))
        cfg = TrainConfig(
            data=str(data_dir), val_split=val_split, name=save_as, out=str(out_root / save_as),
            title=f"{save_as} (trained in the dashboard)", finetune=base if finetune else None,
            freeze_blocks=freeze if finetune else 0, epochs=epochs, batch_size=32, lr=lr, augment=augment,
            warmup_epochs=0 if finetune else min(2, epochs - 1), patience=0,
            checkpoint_dir=str(work / "checkpoints"), verbose=0,
            command=f"dashboard Training page: {'fine-tune ' + base if finetune else 'from scratch'}, "
                    f"{epochs} epochs, lr {lr:g}, augmentation {augment}, validation share {val_split:g}, "
                    f"frozen blocks {freeze if finetune else 0}, data "
                    f"{'bundled sample' if upload is None else upload.name}")
        status.update(label="Loading TensorFlow and building the model (a few seconds the first time)...")
        progress.progress(0.0, text=f"Epoch 1/{epochs} starting...")

        def on_epoch(record: dict, history: list[dict]) -> None:
            status.update(label=f"Training: epoch {record['epoch']} of {epochs} done")
            progress.progress(min(1.0, record["epoch"] / epochs),
                              text=f"Epoch {record['epoch']}/{epochs}: validation accuracy "
                                   f"{record['val_accuracy']:.0%}, loss {record['loss']:.3f}")
            chart.plotly_chart(curves(history), key=f"train_live_{record['epoch']}",
                               config={"displayModeBar": False}, width="stretch")

        result = train(cfg, on_epoch_end=on_epoch)
        status.update(label="Measuring the reference model on the same validation faces...")
        reference_name = base if finetune else settings.model
        try:
            reference = reference_accuracy(cfg, reference_name)
        except Exception:  # noqa: BLE001 - the comparison is a bonus; the new model is there
            ui.log.exception("reference accuracy of %s", reference_name)
            reference = None
        status.update(label="Done: the best epoch was kept and the model written.", state="complete")
        st.session_state[RESULT_KEY] = {
            "name": result.name, "dir": str(result.model_dir), "history": result.history,
            "best_epoch": result.best_epoch, "metrics": result.metrics, "seconds": result.seconds,
            "into_models": into_models, "reference": reference, "finetune": finetune,
        }
        trained = True
    except Exception as error:  # noqa: BLE001
        panel.empty()
        paths = {str(work / "data"): shown, str((work / "data").resolve()): shown, str(work): shown}
        ui.show_error(user_text(error, paths), shown)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if trained:
        st.rerun()  # redraw with the new model in the sidebar's list

# --- 4. Result -------------------------------------------------------------------------------------------
done = st.session_state.get(RESULT_KEY)
if done and Path(done["dir"]).exists():
    st.markdown("#### 3. Result")
    val, tta = done["metrics"]["val"], done["metrics"]["val_tta"]
    reference = done.get("reference")
    m = st.columns(5)
    gain = round((val["accuracy"] - reference["accuracy"]) * 100) if reference else None
    m[0].metric("Validation accuracy", f"{val['accuracy']:.0%}", help=f"On {val['n']} held-out faces.",
                delta=None if gain is None else f"{gain:+d} points" if gain else "same as before",
                delta_color="normal" if gain else "off")
    if reference:
        which = "Base model" if done.get("finetune") else "Model in use"
        recorded = (f" Its own validation accuracy, recorded with it: {reference['recorded']:.1%}"
                    + (f" on {reference['recorded_on']}." if reference.get("recorded_on") else ".")
                    if reference.get("recorded") is not None else "")
        m[1].metric(f"{which}, same faces", f"{reference['accuracy']:.0%}",
                    help=f"{reference['title']} on the same {reference['n']} validation faces.{recorded}")
    m[2].metric("With mirror TTA", f"{tta['accuracy']:.0%}")
    m[3].metric("Best epoch", f"{done['best_epoch']} of {len(done['history'])}")
    m[4].metric("Cost per face", f"{done['metrics']['ms_per_face']:.2f} ms", help="TFLite, batch 1, one thread.")
    if val["n"] < 100:
        st.warning(f"Only {val['n']} validation faces: one face more or less right moves the accuracy by "
                   f"{100 / max(val['n'], 1):.0f} points, so these figures are rough. Validate on at least 100 faces "
                   "(a bigger upload or a larger validation share) before trusting a difference.",
                   icon=":material/warning:")
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.plotly_chart(curves(done["history"]), key="train_final_curves", config={"displayModeBar": False},
                        width="stretch")
    with right:
        table = pd.DataFrame({"emotion": [display_name(c) for c in val["per_class"]],
                              "recall": list(val["per_class"].values()),
                              "with TTA": [tta["per_class"].get(c) for c in val["per_class"]]})
        st.dataframe(table, hide_index=True, width="stretch", column_config={
            "emotion": st.column_config.TextColumn("emotion", width="small"),
            **{c: st.column_config.ProgressColumn(c, min_value=0.0, max_value=1.0, format="percent", width="small")
               for c in ("recall", "with TTA")}})
        st.caption(f"Recall per emotion on the {val['n']} validation faces (share of each emotion's faces "
                   "labelled right); with TTA, each face averaged with its mirror image.")
    folder = Path(done["dir"])
    b1, b2 = st.columns(2)
    with b1:
        st.download_button("Download the model (zip)", model_zip(folder), file_name=f"{done['name']}.zip",
                           mime="application/zip", icon=":material/download:", key="train_download")
    with b2:
        st.button("Use this model on every page", icon=":material/check_circle:", key="train_use",
                  on_click=use_model, args=(done["name"],))
    where = "models/" if done["into_models"] else "user_models/"
    if settings.model == done["name"]:
        st.success(f"'{done['name']}' is the model in use (sidebar).", icon=":material/check:")
    else:
        st.caption(f"Saved as '{done['name']}' in {where}; choose it in the sidebar's model list on any page.")
    with st.expander("Model card"):
        from dashboard import model_card
        from fer_core.models import load_spec

        model_card.show(load_spec(folder), in_expander=True)  # for users first, then the full card
