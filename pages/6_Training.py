"""Training: fine-tune a model or train one from scratch on your own labelled faces, watch it learn, use it.

The data is a zip of class folders (happy/, sad/, ... named after the seven emotions) or the bundled sample
(70 FER2013 faces). Training runs in a child process (`fer_core.training.job`, started by `dashboard.jobs`):
TensorFlow never loads in the server, whose speed and memory are what they were when the child ends. The page
polls the child's progress (live curves); a sidebar change or a visit to another page does not touch the run,
and Stop ends the child and keeps the best finished epoch. The finished model is written as a registry folder
(weights, card, log, curves) under `user_models/` (or `models/` if asked), appears in the sidebar's model list
at once, and can be downloaded as a zip.
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

from dashboard import files, kept, ui
from dashboard import settings as settings_mod
from dashboard.jobs import ChildJob
from fer_core.emotions import EMOTIONS, display_name
from fer_core.models import list_models
from fer_core.training.data import extract_zip
from fer_core.training.job import kept_epochs, read_events, write_spec

USER_MODELS = Path(os.environ.get("FER_USER_MODELS_DIR") or files.REPO_ROOT / "user_models")
SAMPLE = files.SAMPLES / "fer2013_mini"
RESULT_KEY = "training_result"
ERROR_KEY = "training_error"  # how the last run failed, shown until the next one starts
JOB_KEY = "training_job"  # the run going on: its child process and what the page needs to show it
JOB_MODULE = "fer_core.training.job"
SPLITS = {"random": "At random, per emotion",
          "subfolder": "By group: the subfolder inside each class folder",
          "prefix": "By group: the file-name prefix (before the first _, - or space)"}


def _register_user_models_dir() -> None:
    """Make models trained here visible to the registry (and so to every page's model list)."""
    dirs = [p for p in os.environ.get("FER_MODELS_DIRS", "").split(os.pathsep) if p]
    if str(USER_MODELS) not in dirs:
        os.environ["FER_MODELS_DIRS"] = os.pathsep.join(dirs + [str(USER_MODELS)])


_register_user_models_dir()

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
                  key=kept.remember("train_source"), horizontal=True, label_visibility="collapsed")
upload = None  # (name, bytes): the uploader's zip, or the one it held before a visit to another page
if source.startswith("Upload"):
    st.file_uploader(
        "Zip of class folders", type=["zip"], key="train_zip", on_change=kept.upload_changed, args=("train_zip",),
        help=f"One folder per emotion, named {', '.join(EMOTIONS)} (at least two), each holding face "
             f"images (.jpg, .png, ...). Faces are turned grey and resized to the model's input size. "
             f"Up to {files.upload_limit_mb()} MB.")
    upload = next(iter(kept.uploads("train_zip")), None)
    if upload is not None and st.session_state.get("train_zip") is None:
        st.caption(f"Using {upload[0]}, uploaded earlier in this session; drop another zip to replace it.")
    st.caption("Faces should be cropped to the face (as the detector's box with a small margin) like FER2013.")

# --- 2. Recipe -------------------------------------------------------------------------------------------
st.markdown("#### 2. Recipe")
bases = {s.name: s for s in list_models() if s.keras_path and s.keras_path.exists()}
c1, c2, c3 = st.columns(3)
with c1:
    mode = st.radio("Start from", ["Fine-tune a model", "Scratch (Mini-XCEPTION wide, 48x48)"],
                    key=kept.remember("train_mode"),
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
    epochs = st.slider("Epochs", 1, 50, key=kept.remember("train_epochs", 3),
                       help="Passes over the training faces; the best epoch on the validation faces is kept.")
    val_split = st.slider("Validation share", 0.1, 0.5, step=0.05, key=kept.remember("train_val", 0.2),
                          help="Faces held out to measure accuracy and choose the best epoch.")
    split = st.selectbox(
        "Validation faces", list(SPLITS), format_func=SPLITS.get, key=kept.remember("train_split", "random"),
        help="At random suits faces that are all different (FER2013). Frames of one video or photos of one person "
             "are near-copies: split at random, their twins land on both sides and the validation accuracy "
             "flatters the model (CK+-style sequences scored 100 %). Then keep each group on one side: by "
             "subfolder (happy/S005/001.png: group S005) or by file-name prefix (S005_001_00000011.png: group S005).")
    freeze = st.slider("Frozen blocks", 0, 5, 2 if finetune else 0, key="train_freeze", disabled=not finetune,
                       help="Keep the first blocks' weights as they are (the stem is block 1); fewer weights to "
                            "learn means less overfitting on a small dataset.")
with c3:
    lr = st.select_slider("Learning rate", [1e-4, 3e-4, 1e-3, 2e-3, 5e-3], value=3e-4 if finetune else 2e-3,
                          key="train_lr", format_func=lambda v: f"{v:g}")
    augment = st.selectbox("Augmentation", ["none", "light", "standard", "strong"],
                           key=kept.remember("train_aug", "light"),
                           help="Random flips, shifts, small rotations and zooms, brightness and contrast, and "
                                "(standard, strong) random erasing of a patch.")
    into_models = st.checkbox("Save into models/ (shared with the project)", key=kept.remember("train_into_models"),
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

def stop_training() -> None:
    """on_click of Stop: end the child now; if an epoch had finished, a second child writes the model of the best
    finished epoch (from the copies the run keeps after every epoch, which a kill cannot tear)."""
    job = st.session_state.get(JOB_KEY)
    if job is None or not job["job"].running:
        return  # it ended on its own meanwhile: its result stands
    job["job"].kill()
    job["stopped_after"] = kept_epochs(job["work"])
    if job["stopped_after"]:
        job["job"] = ChildJob.start(JOB_MODULE, job["work"], "--finish")


def finish_job(job: dict, final: dict) -> None:
    """The run is over: keep its result (or its error) for the page, remove its temporary folder."""
    events = read_events(job["work"])
    st.session_state.pop(JOB_KEY, None)
    if final["event"] != "done":
        log = Path(job["work"]) / "log.txt"
        if log.exists() and log.stat().st_size:
            ui.log.warning("training process output:\n%s", log.read_text(errors="replace")[-20_000:])
    shutil.rmtree(job["work"], ignore_errors=True)
    if final["event"] == "done":
        found = {e["event"]: e for e in events}
        st.session_state[RESULT_KEY] = final["result"] | {
            "into_models": job["into_models"], "finetune": job["finetune"], "epochs": job["epochs"],
            "duplicates": found.get("duplicates"), "groups": found.get("groups"), "split": job["split"]}
    elif job.get("stopped_after") == 0:
        st.session_state[ERROR_KEY] = {"message": "Training stopped before its first epoch finished: there was "
                                                  "nothing to keep.", "user_error": True, "shown": job["shown"],
                                       "info": True}
    else:
        st.session_state[ERROR_KEY] = {"message": final["message"], "user_error": final["user_error"],
                                       "shown": job["shown"], "paths": job["paths"]}


def job_panel() -> None:
    """The run going on: what it does, its epochs and curves, Stop. Polled every second (a fragment), so the
    rest of the page stays usable and a finished run shows its result at once."""
    job = st.session_state.get(JOB_KEY)
    if job is None:
        return
    child: ChildJob = job["job"]
    events = read_events(job["work"])
    final = next((e for e in reversed(events) if e["event"] in ("done", "error")), None)
    if not child.running:
        if final is None:
            final = {"event": "error", "user_error": True,
                     "message": f"The training process ended without a result (exit code {child.returncode}); "
                                "the server log has its output."}
        finish_job(job, final)
        st.rerun()
    records = [e["record"] for e in events if e["event"] == "epoch"]
    epochs = job["epochs"]
    label = job["first_status"]
    for e in events:  # the latest of: what the child says it does, the last epoch done
        if e["event"] == "status":
            label = e["text"]
        elif e["event"] == "epoch":
            label = f"Training: epoch {e['record']['epoch']} of {epochs} done"
    with st.status(label, expanded=True):
        for e in events:
            if e["event"] == "faces":
                st.write(f"{sum(e['counts'].values())} faces: "
                         + ", ".join(f"{display_name(k)} {v}" for k, v in e["counts"].items() if v))
            elif e["event"] == "groups":
                st.write(f"{e['val_groups']} of {e['n']} groups ({SPLITS[e['how']].split(': ')[1]}) held out for "
                         "validation, each group on one side only.")
            elif e["event"] == "duplicates":
                duplicates_note(e)
        st.caption(f"Runs in its own process with the recipe it started with ({job['recipe']}). Changing the "
                   "sidebar or the recipe, or opening another page, does not touch it; **Stop** ends it and keeps "
                   "the best finished epoch.")
    if job.get("stopped_after"):
        st.progress(1.0, text=f"Stopped after {job['stopped_after']} finished epoch"
                              f"{'s' if job['stopped_after'] > 1 else ''}: writing that model...")
    elif records:
        last = records[-1]
        st.progress(min(1.0, last["epoch"] / epochs), text=f"Epoch {last['epoch']}/{epochs}: validation accuracy "
                                                            f"{last['val_accuracy']:.0%}, loss {last['loss']:.3f}")
    else:
        st.progress(0.0, text=f"Epoch 1/{epochs} starting...")
    if records:
        st.plotly_chart(curves(records), key="train_live", config={"displayModeBar": False}, width="stretch")
    if not job.get("stopped_after"):
        st.button("Stop", key="train_stop", icon=":material/stop:", on_click=stop_training,
                  help="Ends the training now; the best finished epoch is kept as the model.")


def duplicates_note(event: dict) -> None:
    """A warning when many validation faces have a near-copy among the training faces (`data.near_duplicates`)."""
    n, of = event["n"], event["of"]
    if n >= 2 and n >= 0.1 * of:
        advice = ("Train again with **Validation faces** set to a group (subject or sequence) so that no group is on "
                  "both sides." if event.get("split") == "random" else
                  "The groups chosen do not keep them apart: try the other grouping.")
        st.warning(f"{n} of {of} validation faces have a near-copy among the training faces (frames of one video, or "
                   f"one person's photos): the validation accuracy flatters the model. {advice}",
                   icon=":material/content_copy:")


job = st.session_state.get(JOB_KEY)
start = st.button("Train", type="primary", icon=":material/play_arrow:", key="train_start", disabled=job is not None,
                  help="One run at a time: this one is still going." if job is not None else None)

# --- 3. Training -----------------------------------------------------------------------------------------
if start and job is None:
    if upload is None and source.startswith("Upload"):
        st.warning("Upload a zip of class folders first, or choose the bundled sample.", icon=":material/upload:")
        st.stop()
    shown = upload[0] if upload is not None else "the bundled sample"
    work = Path(tempfile.mkdtemp(prefix="fer-train-"))
    data_dir = work / "data"
    paths = {str(data_dir): shown, str(data_dir.resolve()): shown, str(work): shown, str(work.resolve()): shown}
    try:
        if upload is not None:
            with st.spinner(f"Unpacking {shown}..."):
                extract_zip(upload[1], data_dir, name=shown)
        else:
            data_dir = SAMPLE
        from fer_core.training import TrainConfig

        recipe = (f"{'fine-tune ' + base if finetune else 'from scratch'}, {epochs} epochs, lr {lr:g}, augmentation "
                  f"{augment}, validation share {val_split:g} {SPLITS[split].lower()}, frozen blocks "
                  f"{freeze if finetune else 0}")
        cfg = TrainConfig(
            data=str(data_dir), val_split=val_split, name=save_as, out=str(out_root / save_as),
            title=f"{save_as} (trained in the dashboard)", finetune=base if finetune else None,
            freeze_blocks=freeze if finetune else 0, epochs=epochs, batch_size=32, lr=lr, augment=augment,
            warmup_epochs=0 if finetune else min(2, epochs - 1), patience=0,
            checkpoint_dir=str(work / "checkpoints"), verbose=0,
            command=f"dashboard Training page: {recipe}, data "
                    f"{'bundled sample' if upload is None else shown}")
        write_spec(work, cfg, base if finetune else settings.model, split)
        st.session_state.pop(ERROR_KEY, None)
        st.session_state[JOB_KEY] = {
            "job": ChildJob.start(JOB_MODULE, work), "work": str(work), "shown": shown, "paths": paths,
            "epochs": epochs, "into_models": into_models, "finetune": finetune, "split": split, "recipe": recipe,
            "first_status": "Reading the bundled sample..." if upload is None else f"Checking the faces in {shown}...",
        }
    except Exception as error:  # noqa: BLE001
        shutil.rmtree(work, ignore_errors=True)
        ui.show_error(user_text(error, paths), shown)

if st.session_state.get(JOB_KEY) is not None:
    st.fragment(job_panel, run_every=1.0)()

failed = st.session_state.get(ERROR_KEY)
if failed:
    if failed.get("info"):
        st.info(failed["message"], icon=":material/stop_circle:")
    else:
        from fer_core.errors import FerError

        kind = failed["message"] if failed["message"].isidentifier() else "RuntimeError"
        error = FerError(failed["message"]) if failed["user_error"] else type(kind, (Exception,), {})()
        ui.show_error(user_text(error, failed.get("paths", {})), failed["shown"])

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
    if done.get("stopped"):
        st.info(f"Stopped after {len(done['history'])} of {done.get('epochs', len(done['history']))} epochs: the "
                f"model of the best finished epoch ({done['best_epoch']}) was kept.", icon=":material/stop_circle:")
    if done.get("groups"):
        g = done["groups"]
        st.caption(f"Validated on whole groups: {g['val_groups']} of {g['n']} groups "
                   f"({SPLITS[g['how']].split(': ')[1]}), none of them in training.")
    if done.get("duplicates"):
        duplicates_note(done["duplicates"])
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
