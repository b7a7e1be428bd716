"""`dashboard.server_paths`: a typed path is allowed only under the configured roots, after `~`, `..` and
symlinks are resolved, and anything else is one sentence that does not tell whether the path exists."""

from __future__ import annotations

import os

import pytest

from dashboard import network_camera, server_paths
from dashboard.server_paths import PathNotAllowedError, resolve_allowed


@pytest.fixture()
def layout(tmp_path):
    """A batch root and an extra root, with a file outside both and a symlink inside pointing out."""
    root, extra, outside = tmp_path / "batch", tmp_path / "extra", tmp_path / "secret"
    for folder in (root, extra, outside):
        folder.mkdir()
    (root / "run").mkdir()
    (root / "run" / "table.csv").write_text("x\n")
    (outside / "passwords.txt").write_text("hunter2\n")
    (root / "link_out").symlink_to(outside)
    (extra / "cams.csv").write_text("x\n")
    env = {"FER_BATCH_ROOT": str(root), "FER_SERVER_ROOTS": os.pathsep.join([str(extra), ""])}
    return env, root, extra, outside


def refusal(path: str, env) -> str:
    with pytest.raises(PathNotAllowedError) as caught:
        resolve_allowed(path, env)
    return str(caught.value)


def test_paths_under_the_roots_are_allowed_resolved(layout):
    env, root, extra, _ = layout
    assert resolve_allowed(str(root / "run" / "table.csv"), env) == (root / "run" / "table.csv").resolve()
    assert resolve_allowed(f"  {root}/run/../run  ", env) == (root / "run").resolve()
    assert resolve_allowed(str(root), env) == root.resolve()
    assert resolve_allowed(str(extra / "cams.csv"), env) == (extra / "cams.csv").resolve()
    # Not there yet (a folder a batch will write) but under a root: allowed; the caller says it is missing.
    assert resolve_allowed(str(root / "not_yet"), env) == (root / "not_yet").resolve()
    assert resolve_allowed("data/Training", env) == (server_paths.REPO_ROOT / "data" / "Training").resolve()


def test_outside_dotdot_and_symlinks_out_are_one_sentence_that_does_not_tell_existence(layout):
    env, root, _, outside = layout
    sentences = {
        refusal(str(outside / "passwords.txt"), env),  # exists, outside
        refusal(str(outside / "missing.txt"), env),  # does not exist, outside
        refusal(f"{root}/run/../../secret/passwords.txt", env),  # .. climbing out
        refusal(str(root / "link_out" / "passwords.txt"), env),  # a symlink inside that points out
        refusal(str(root / "link_out"), env),
        refusal("/etc/passwd", env),
        refusal("~", env),
        refusal("", env),
        refusal("bad\0path", env),
    }
    assert len(sentences) == 1, sentences
    sentence = sentences.pop()
    assert sentence.startswith("Only paths under ") and sentence.endswith(" can be opened on this server.")
    assert "passwords" not in sentence and "exist" not in sentence
    assert str(root.resolve()) in sentence


def test_a_prefix_is_not_a_parent(layout):
    """/tmp/x/batch2 starts with the text /tmp/x/batch but is not under it."""
    env, root, _, _ = layout
    sibling = root.parent / (root.name + "2")
    sibling.mkdir()
    refusal(str(sibling), env)


def test_the_public_switch_turns_off_server_paths_and_network_addresses(layout):
    env, root, _, _ = layout
    public = {**env, "FER_PUBLIC": "1"}
    assert server_paths.public(public) and not server_paths.server_paths_allowed(public)
    assert refusal(str(root / "run"), public) == ("Paths on the server are turned off on this deployment; "
                                                  "upload the file instead.")
    assert not network_camera.streams_allowed(public)
    assert network_camera.streams_allowed(env)
    assert not network_camera.streams_allowed({**env, "FER_NETWORK_STREAMS": "off"})
    assert not network_camera.streams_allowed({"FER_PUBLIC": "1", "FER_NETWORK_STREAMS": "on"})
    assert server_paths.server_paths_allowed({**env, "FER_PUBLIC": "0"})
