"""Which paths on the server a visitor may name, and the one switch for a public deployment.

Why: the Batch page (and the Model Explorer's "folder on the server") open folders and tables, and run
batches, from a path typed in the browser. Left open, any visitor could read any file the server can, and
tell from the answers what exists. So a typed path is resolved first (`~`, `..` and every symlink) and then
allowed only under the configured roots: the batch results folder and the data folder, plus the folders in
`FER_SERVER_ROOTS` (separated like PATH: `:` on Linux and macOS). A path outside gets one sentence, the same
whether it exists or not.

`FER_PUBLIC=1` is the switch for a deployment open to anyone: no server paths at all, nothing saved on the
server (the Webcam page's "save every row", batches run from the page), and no network addresses (what
`FER_NETWORK_STREAMS=off` alone turns off). docs/deployment.md says the same for the people who deploy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from fer_core.errors import FerError

REPO_ROOT = Path(__file__).resolve().parent.parent
ROOTS_SETTING = "FER_SERVER_ROOTS"
PUBLIC_SETTING = "FER_PUBLIC"
BATCH_ROOT_SETTING = "FER_BATCH_ROOT"


class PathNotAllowedError(FerError):
    """A typed path the server does not open: outside the allowed roots, or server paths are off."""


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def _on(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "on", "true", "yes")


def public(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this is a public deployment (`FER_PUBLIC=1`): no server paths, no saving on the server, no
    network addresses."""
    return _on(_env(environ).get(PUBLIC_SETTING))


def server_paths_allowed(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the pages offer inputs for paths on the server and save on it (off on a public deployment)."""
    return not public(environ)


def batch_root(environ: Mapping[str, str] | None = None) -> Path:
    """Where the Batch page writes the batches it runs: $FER_BATCH_ROOT, else batch_results/ in the checkout
    (the command line's default --out)."""
    return Path(_env(environ).get(BATCH_ROOT_SETTING) or REPO_ROOT / "batch_results").expanduser()


def data_root() -> Path:
    """The checkout's data/ folder (the datasets the command lines read)."""
    return REPO_ROOT / "data"


def roots(environ: Mapping[str, str] | None = None) -> list[Path]:
    """The folders under which typed paths are allowed, resolved (symlinks followed), without repeats."""
    env = _env(environ)
    extra = [Path(p).expanduser() for p in env.get(ROOTS_SETTING, "").split(os.pathsep) if p.strip()]
    found: list[Path] = []
    for root in [batch_root(env), data_root(), *extra]:
        try:
            resolved = (root if root.is_absolute() else REPO_ROOT / root).resolve()
        except (OSError, RuntimeError, ValueError):
            continue
        if resolved not in found:
            found.append(resolved)
    return found


def describe_roots(environ: Mapping[str, str] | None = None) -> str:
    """The allowed roots in words, for help texts: "/srv/fer/batch_results or /srv/fer/data"."""
    names = [str(r) for r in roots(environ)]
    return ", ".join(names[:-1]) + (" or " if len(names) > 1 else "") + names[-1] if names else "no folder"


def resolve_allowed(path_text: str, environ: Mapping[str, str] | None = None) -> Path:
    """The typed path, resolved (`~`, `..`, symlinks; relative paths from the checkout), if it lies under an
    allowed root; else `PathNotAllowedError` with one sentence that does not say whether the path exists.
    Nothing is read beyond resolving the path: the caller opens it and reports what it finds there."""
    env = _env(environ)
    if not server_paths_allowed(env):
        raise PathNotAllowedError("Paths on the server are turned off on this deployment; upload the file instead.")
    text = (path_text or "").strip()
    refused = PathNotAllowedError(f"Only paths under {describe_roots(env)} can be opened on this server.")
    if not text:
        raise refused
    try:
        path = Path(text).expanduser()
        resolved = (path if path.is_absolute() else REPO_ROOT / path).resolve()
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL byte, an unknown ~user
        raise refused from None
    if any(resolved == root or resolved.is_relative_to(root) for root in roots(env)):
        return resolved
    raise refused
