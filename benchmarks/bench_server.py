"""The dashboard server as users meet it: idle CPU with a tab open, N video analyses at once, a huge photo.

    .venv/bin/python -m benchmarks.bench_server [--idle 30] [--users 1,6] [--configs make_run,watcher_on]

Each configuration starts `streamlit run app.py` exactly as `make run` does (its flags read from the
Makefile) on a free 127.0.0.1 port; `watcher_on` is the same with `--server.fileWatcherType auto`, the file
watcher as it was before issue 12 (it watched the whole checkout, .venv included). Debian's headless
Chromium (Playwright) is the user. For each configuration:

- idle: one tab on the home page, the page loaded, then `--idle` seconds of nothing: the server process's
  CPU time (utime + stime from /proc/<pid>/stat, all its threads) over that window, as a share of one core;
  the inotify watches the server holds (/proc/<pid>/fdinfo); the "Inotify queue overflowed" lines it logged;
- idle_with_writes: the same, while another process writes small files in the checkout (about 2,000 a
  second in benchmarks/.cache/churn/: what a training run's checkpoints and logs or a test run's output do
  to the folder the server is started from);
- users: for N in `--users`, N tabs (separate sessions) each upload the 20 s 640x360 clip
  (benchmarks/.cache, made from the sample videos) to the Video page and press "Analyse video" with the
  page's defaults (every 2nd frame, an annotated H.264 copy); the wall time from the first press until every
  tab shows its results, and each tab's own time;
- photo (make_run only): the server's resident memory before and after a 42.7-megapixel JPEG (8000x5336, the
  group sample enlarged) is analysed on the Image page: VmRSS before, VmHWM (peak) and VmRSS after.

An ordinary checkout has its own `.venv` (thousands of folders) that the watcher walked and watched. Where
`.venv` is a symbolic link (as in a git worktree sharing one environment), the watcher does not follow it; the
benchmark then puts a stand-in in the checkout for the run, `benchmarks/.cache/venv_dirs/`, holding the same
folders (empty) as the environment the link points to, and removes it at the end (`--no-venv-stand-in`: not).

`library_photo` compares, each in a fresh process, the peak memory of the Image page's work on that photo
(decode, detect, classify, annotate, PNG for the download) with the photo decoded at full size (as before
issue 12: `decode_image`) and downscaled once at decode (`decode_photo`, 2048 px).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from benchmarks.common import CACHE_DIR, PROJECT_PYTHON, ROOT, load, make_concat_clip, stop_process, wait_idle, write_result

CHROMIUM = next((p for p in (os.environ.get("FER_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser")
                 if p and Path(p).exists()), None)
TICK = os.sysconf("SC_CLK_TCK")


def make_run_command(port: int, watcher: str | None = None) -> list[str]:
    out = subprocess.run(["make", "-s", "-n", "run"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    args = next(line for line in out.splitlines() if "streamlit run " in line).split()
    args = args[args.index("run"):]
    if watcher:
        i = args.index("--server.fileWatcherType")
        args[i + 1] = watcher
    python = str(PROJECT_PYTHON if PROJECT_PYTHON.exists() else sys.executable)
    return [python, "-m", "streamlit", *args, "--server.port", str(port)]


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of the whole line)


def memory_mb(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    return {key: round(int(re.search(rf"{key}:\s+(\d+)", status).group(1)) / 1024, 1) for key in ("VmRSS", "VmHWM")}


def inotify_watches(pid: int) -> int:
    """How many paths the process watches with inotify (one "inotify wd:" line per watch in fdinfo)."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if "inotify" in os.readlink(fd):
                count += Path(f"/proc/{pid}/fdinfo/{fd.name}").read_text().count("inotify wd:")
        except OSError:
            continue
    return count


def idle_window(pid: int, seconds: float, log_path: Path, writes: bool = False) -> dict:
    """The server's CPU over `seconds` with one tab open and nothing asked of it (optionally while files are
    written in the checkout by another process)."""
    writer = None
    if writes:
        churn = CACHE_DIR / "churn"
        churn.mkdir(parents=True, exist_ok=True)
        code = ("import itertools, pathlib, time\n"
                f"d = pathlib.Path({str(churn)!r})\n"
                "for i in itertools.count():\n"
                "    (d / f'f{i % 200}.tmp').write_bytes(b'x')\n"
                "    if i % 100 == 0: time.sleep(0.05)\n")
        writer = subprocess.Popen([sys.executable, "-c", code])
        time.sleep(1)
    before = log_path.read_text(errors="replace").count("Inotify queue overflowed")
    t0, c0 = time.perf_counter(), cpu_ticks(pid)
    w0 = cpu_ticks(writer.pid) if writer else 0
    time.sleep(seconds)
    t1, c1 = time.perf_counter(), cpu_ticks(pid)
    out = {"seconds": round(t1 - t0, 1), "cpu_seconds": round((c1 - c0) / TICK, 2),
           "cpu_percent_of_one_core": round((c1 - c0) / TICK / (t1 - t0) * 100, 1),
           "inotify_watches": inotify_watches(pid),
           "inotify_overflow_lines": log_path.read_text(errors="replace").count("Inotify queue overflowed") - before}
    if writer:
        out["writer_cpu_percent"] = round((cpu_ticks(writer.pid) - w0) / TICK / (t1 - t0) * 100, 1)
        writer.terminate()
        writer.wait()
        shutil.rmtree(CACHE_DIR / "churn", ignore_errors=True)
    return out


def mirror_directories(source: Path, target: Path) -> int:
    """The folders of `source` (no files) under `target`; how many."""
    count = 0
    for root, dirs, _ in os.walk(source):
        for name in dirs:
            (target / Path(root).relative_to(source) / name).mkdir(parents=True, exist_ok=True)
            count += 1
    return count


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def big_photo() -> Path:
    from PIL import Image

    path = CACHE_DIR / "group_8000x5336.jpg"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.open(ROOT / "samples" / "photos" / "unlabelled_multi_face.jpg").resize(
            (8000, 5336), Image.Resampling.BICUBIC).save(path, quality=88)
    return path


def one_config(browser, name: str, watcher: str | None, idle_s: float, users: list[int], clip: Path) -> dict:
    port = free_port()
    log_path = CACHE_DIR / f"server_{name}.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(make_run_command(port, watcher), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    out: dict = {"command": " ".join(make_run_command(port, watcher)[2:])}
    try:
        for _ in range(600):
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
            except OSError:
                time.sleep(0.1)
        # One tab, as a user leaves it open.
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(url + "/")
        page.locator('[data-testid="stMain"] h1').first.wait_for(timeout=120_000)
        wait_idle(page, timeout=120)
        page.wait_for_timeout(3000)
        out["idle"] = idle_window(proc.pid, idle_s, log_path)
        out["idle_with_writes"] = idle_window(proc.pid, idle_s, log_path, writes=True)
        if watcher is None:
            photo = big_photo()
            page.goto(url + "/Image")
            page.locator("h1", has_text="Image").first.wait_for()
            wait_idle(page, timeout=120)
            before = memory_mb(proc.pid)
            t = time.perf_counter()
            page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(photo))
            page.get_by_text("analysed and shown at").wait_for(timeout=120_000)
            wait_idle(page, timeout=120)
            seconds = time.perf_counter() - t
            after = memory_mb(proc.pid)
            out["photo_42mp"] = {"upload_to_results_s": round(seconds, 2), "rss_before_mb": before["VmRSS"],
                                 "peak_mb": after["VmHWM"], "rss_after_mb": after["VmRSS"],
                                 "peak_increase_mb": round(after["VmHWM"] - before["VmRSS"], 1)}
        context.close()
        out["users"] = {}
        for n in users:
            contexts = [browser.new_context(viewport={"width": 1280, "height": 900}) for _ in range(n)]
            pages = [c.new_page() for c in contexts]
            for p in pages:
                p.goto(url + "/Video")
                p.locator("h1", has_text="Video").first.wait_for(timeout=120_000)
                wait_idle(p, timeout=120)
                p.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(clip))
                wait_idle(p, timeout=120)
            start = time.perf_counter()
            for p in pages:
                p.get_by_role("button", name="Analyse video").click()
            done = []
            for p in pages:
                p.get_by_text(f"Results: {clip.name}").wait_for(timeout=600_000)
                done.append(time.perf_counter() - start)
            out["users"][str(n)] = {"all_done_s": round(max(done), 2), "each_s": [round(d, 2) for d in done]}
            for c in contexts:
                c.close()
    finally:
        stop_process(proc, timeout=15)
        log.close()
    return out


LIBRARY_PHOTO = """
import resource, sys, cv2, re
sys.path.insert(0, {root!r})
from fer_core.io import decode_image, decode_photo
from fer_core.pipeline import EmotionRecognizer
from fer_core.annotate import draw_faces
recognizer = EmotionRecognizer()
recognizer.analyze(cv2.imread({small!r}))  # warm: the model and detector loaded, their buffers allocated
rss = lambda: int(re.search(r"VmRSS:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) // 1024
base = rss()
data = open({photo!r}, "rb").read()
image = decode_image(data) if sys.argv[1] == "full" else decode_photo(data).image
faces = recognizer.analyze(image)
annotated = draw_faces(image, faces, numbered=True)
png = cv2.imencode(".png", annotated)[1]
rgb = cv2.cvtColor(annotated, cv2.COLOR_BGR2RGB)
print(len(faces), image.shape[1], image.shape[0], base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def library_photo() -> dict:
    """Peak memory of one process doing the Image page's work on the 42.7 MP photo, full size vs downscaled."""
    python = str(PROJECT_PYTHON if PROJECT_PYTHON.exists() else sys.executable)
    script = LIBRARY_PHOTO.format(root=str(ROOT), photo=str(big_photo()),
                                  small=str(ROOT / "samples" / "photos" / "unlabelled_multi_face.jpg"))
    out = {}
    for mode in ("full", "downscaled"):
        faces, w, h, base, peak = subprocess.run([python, "-c", script, mode], capture_output=True, text=True,
                                                 check=True).stdout.split()
        out[mode] = {"faces": int(faces), "analysed_size": f"{w}x{h}", "rss_before_mb": int(base),
                     "peak_mb": int(peak), "peak_increase_mb": int(peak) - int(base)}
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle", type=float, default=30.0)
    parser.add_argument("--users", default="1,6")
    parser.add_argument("--configs", default="make_run,watcher_on")
    parser.add_argument("--no-venv-stand-in", action="store_true")
    args = parser.parse_args(argv)
    users = [int(n) for n in args.users.split(",") if n]
    result: dict = {"load_at_start": load(), "method": __doc__.split("\n\n", 2)[2].strip(), "configs": {}}
    if CHROMIUM is None:
        raise SystemExit("Debian's chromium is needed (make browser-deps)")
    clip = make_concat_clip(CACHE_DIR / "clip20_640x360.mp4", seconds=20, width=640, height=360)
    result["library_photo"] = library_photo()
    from playwright.sync_api import sync_playwright

    stand_in = None
    venv = ROOT / ".venv"
    if venv.is_symlink() and not args.no_venv_stand_in:
        stand_in = CACHE_DIR / "venv_dirs"
        result["venv_stand_in"] = {"path": str(stand_in.relative_to(ROOT)), "mirrors": str(venv.resolve()),
                                   "directories": mirror_directories(venv.resolve(), stand_in)}
    with contextlib.ExitStack() as cleanup, sync_playwright() as p:
        if stand_in is not None:
            cleanup.callback(shutil.rmtree, stand_in, True)
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            for name in args.configs.split(","):
                watcher = {"make_run": None, "watcher_on": "auto"}[name]
                result["configs"][name] = one_config(browser, name, watcher, args.idle, users, clip)
                result["configs"][name]["load_after"] = load()
        finally:
            browser.close()
    configs = result["configs"]
    result["headline"] = {
        name: {"idle_cpu_percent": c["idle"]["cpu_percent_of_one_core"],
               "idle_with_writes_cpu_percent": c["idle_with_writes"]["cpu_percent_of_one_core"],
               "inotify_watches": c["idle"]["inotify_watches"],
               **{f"videos_{n}_at_once_s": c["users"][str(n)]["all_done_s"] for n in users}}
        for name, c in configs.items()}
    if "make_run" in configs and "photo_42mp" in configs["make_run"]:
        result["headline"]["photo_42mp_server_peak_increase_mb"] = configs["make_run"]["photo_42mp"]["peak_increase_mb"]
    result["headline"]["photo_42mp_library_peak_increase_mb"] = {
        k: v["peak_increase_mb"] for k, v in result["library_photo"].items()}
    return write_result("bench_server", result)


if __name__ == "__main__":
    main()
