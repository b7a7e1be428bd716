"""The Webcam page's WebRTC set-up: which ICE servers (STUN/TURN) to use, and what the browser said about the camera.

**ICE servers.** On the same machine (`make run`, http://127.0.0.1:8501) no STUN or TURN server is needed and
none is contacted: the list is empty. A deployment where browser and server are on different networks needs
a STUN server, and behind strict NATs or firewalls a TURN server, which relays the video (it needs a user
name and a credential). They are read, first found wins, from:

1. `.streamlit/secrets.toml`, a `[webrtc]` table with `ice_servers`, a list of RTCIceServer tables::

       [webrtc]
       ice_servers = [
         { urls = ["stun:stun.example.org:3478"] },
         { urls = ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349"],
           username = "fer", credential = "s3cret" },
       ]

2. the environment variable `FER_ICE_SERVERS`, the same list as JSON;
3. the environment variables `FER_STUN_URLS` (comma-separated `stun:` URLs) and `FER_TURN_URLS`
   (comma-separated `turn:`/`turns:` URLs) with `FER_TURN_USERNAME` and `FER_TURN_CREDENTIAL`.

The same servers go to the browser and to the server's WebRTC stack (aiortc). A TURN credential sent to the
browser can be read by its user: use a TURN server with short-lived credentials (coturn's `use-auth-secret`)
for a public deployment. A malformed setting is one sentence on the page (`IceConfigError`), never a
traceback, and the stream is not started with it.

**The camera.** streamlit-webrtc shows a failed `getUserMedia` only as the browser's raw error inside its
frame ("NotAllowedError: Permission denied"). `camera_problem()` mounts a small script (a Streamlit v2
component, no network) that notices the same failure, and a missing camera or media API before START is
pressed, and reports the error's name to Python, so the page can say what happened and what to do next
(`CAMERA_HELP`).
"""

from __future__ import annotations

import json
import os
from typing import Any, Mapping

from fer_core.errors import FerError

SECRETS_TABLE = "webrtc"
ENV_ICE_SERVERS = "FER_ICE_SERVERS"
ENV_STUN_URLS = "FER_STUN_URLS"
ENV_TURN_URLS = "FER_TURN_URLS"
ENV_TURN_USERNAME = "FER_TURN_USERNAME"
ENV_TURN_CREDENTIAL = "FER_TURN_CREDENTIAL"
SCHEMES = ("stun:", "stuns:", "turn:", "turns:")


class IceConfigError(FerError):
    """The ICE server settings cannot be used as they are."""


def _urls(value: Any, where: str) -> list[str]:
    urls = [value] if isinstance(value, str) else list(value) if isinstance(value, (list, tuple)) else None
    if not urls or not all(isinstance(u, str) and u.strip() for u in urls):
        raise IceConfigError(f"{where}: every ICE server needs 'urls', a URL or a list of URLs.")
    urls = [u.strip() for u in urls]
    bad = [u for u in urls if not u.lower().startswith(SCHEMES)]
    if bad:
        raise IceConfigError(f"{where}: {bad[0]} is not a STUN or TURN URL (stun:, stuns:, turn: or turns:).")
    return urls


def _server(entry: Any, where: str) -> dict[str, Any]:
    if not isinstance(entry, Mapping):
        raise IceConfigError(f"{where}: every ICE server must be a table/object with 'urls'.")
    server: dict[str, Any] = {"urls": _urls(entry.get("urls"), where)}
    if any(u.lower().startswith(("turn:", "turns:")) for u in server["urls"]):
        if not entry.get("username") or not entry.get("credential"):
            raise IceConfigError(f"{where}: a TURN server needs a username and a credential.")
    for key in ("username", "credential"):
        if entry.get(key):
            server[key] = str(entry[key])
    return server


def ice_servers(environ: Mapping[str, str] | None = None, secrets: Mapping[str, Any] | None = None) -> list[dict]:
    """The configured ICE servers (see the module's help), validated; [] when none is configured."""
    environ = os.environ if environ is None else environ
    table = (secrets or {}).get(SECRETS_TABLE) if secrets is not None else None
    if table and table.get("ice_servers") is not None:
        where = "secrets.toml [webrtc] ice_servers"
        entries = table["ice_servers"]
        if not isinstance(entries, (list, tuple)):
            raise IceConfigError(f"{where} must be a list of ICE servers.")
        return [_server(e, where) for e in entries]
    if environ.get(ENV_ICE_SERVERS, "").strip():
        try:
            entries = json.loads(environ[ENV_ICE_SERVERS])
        except json.JSONDecodeError:
            raise IceConfigError(f"{ENV_ICE_SERVERS} is not valid JSON; give a list such as "
                                 '[{"urls": ["stun:stun.example.org:3478"]}].') from None
        if not isinstance(entries, list):
            raise IceConfigError(f"{ENV_ICE_SERVERS} must be a JSON list of ICE servers.")
        return [_server(e, ENV_ICE_SERVERS) for e in entries]
    servers = []
    stun = [u for u in environ.get(ENV_STUN_URLS, "").split(",") if u.strip()]
    if stun:
        servers.append(_server({"urls": stun}, ENV_STUN_URLS))
    turn = [u for u in environ.get(ENV_TURN_URLS, "").split(",") if u.strip()]
    if turn:
        servers.append(_server({"urls": turn, "username": environ.get(ENV_TURN_USERNAME),
                                "credential": environ.get(ENV_TURN_CREDENTIAL)},
                               f"{ENV_TURN_URLS} (with {ENV_TURN_USERNAME} and {ENV_TURN_CREDENTIAL})"))
    return servers


def streamlit_secrets() -> Mapping[str, Any] | None:
    """`st.secrets` as a plain mapping, or None where the app has no secrets file."""
    import streamlit as st

    try:
        return {key: st.secrets[key] for key in st.secrets} if len(st.secrets) else None
    except Exception:  # noqa: BLE001 - no secrets.toml: nothing configured there
        return None


def rtc_configuration(servers: list[dict]) -> dict[str, Any]:
    """streamlit-webrtc's `rtc_configuration` (browser and server alike). An empty list is kept as it is:
    streamlit-webrtc fills in public servers (and fetches credentials) only when `iceServers` is missing."""
    return {"iceServers": [dict(s) for s in servers]}


def describe(servers: list[dict]) -> str:
    """The servers in words for the page, without credentials."""
    if not servers:
        return "none (the browser and this server are on the same machine)"
    parts = []
    for server in servers:
        for url in server["urls"]:
            kind = "TURN" if url.lower().startswith(("turn:", "turns:")) else "STUN"
            host = url.split(":", 1)[1].split("?", 1)[0]
            parts.append(f"{kind} {host}" + (f" (user {server['username']})" if kind == "TURN" and
                                            server.get("username") else ""))
    return ", ".join(parts)


# --- the camera, as the browser sees it ----------------------------------------------------------------------

CAMERA_HELP: dict[str, tuple[str, str]] = {
    "NotAllowedError": (
        "The browser did not allow this page to use the camera.",
        "Allow the camera for this site (the camera icon at the right of the address bar, or the site's "
        "settings), then press START again."),
    "NotFoundError": (
        "No camera was found.",
        "Connect a camera or switch it on in the system settings, reload this page and press START. Without a "
        "camera you can still analyse a recorded video on the Video page."),
    "NotReadableError": (
        "The camera is in use by another program or could not be started.",
        "Close the other program or tab that uses it (a video call, another dashboard tab), then press START "
        "again."),
    "NoMediaAPI": (
        "This browser does not offer the camera to this page.",
        "Browsers only give the camera to secure pages: open the dashboard at http://localhost:8501 on this "
        "machine, or serve it over https for other machines (docs/dashboard.md, 'Webcam from another machine'), in a current browser."),
}
CAMERA_HELP["OverconstrainedError"] = CAMERA_HELP["NotFoundError"]
CAMERA_HELP["SecurityError"] = CAMERA_HELP["NoMediaAPI"]

_PROBE_JS = """
export default function (component) {
  const { setStateValue } = component;
  let last = undefined;
  const report = (problem) => {
    if (problem === last) return;
    last = problem;
    setStateValue("problem", problem);
  };
  const media = navigator.mediaDevices;
  if (!window.isSecureContext || !media || !media.getUserMedia) {
    report("NoMediaAPI");
    return;
  }
  // No camera at all: known before START (Chrome lists device kinds before any permission is given).
  media.enumerateDevices().then((devices) => {
    if (!devices.some((d) => d.kind === "videoinput")) report("NotFoundError");
  }).catch(() => {});
  // streamlit-webrtc asks for the camera inside its own frame (same origin): hear how that ends.
  const watch = () => {
    for (const frame of document.querySelectorAll('iframe[title*="webrtc"]')) {
      let inner;
      try { inner = frame.contentWindow && frame.contentWindow.navigator.mediaDevices; } catch (e) { continue; }
      if (!inner || inner.__ferWatched || !inner.getUserMedia) continue;
      const ask = inner.getUserMedia.bind(inner);
      inner.getUserMedia = (constraints) => ask(constraints).then(
        (stream) => { report(null); return stream; },
        (error) => { report((error && error.name) || "Error"); throw error; });
      inner.__ferWatched = true;
    }
  };
  watch();
  const timer = setInterval(watch, 400);
  return () => clearInterval(timer);
}
"""

_probe = None


def camera_problem(key: str = "camera_probe") -> str | None:
    """The name of the browser's last camera error (`CAMERA_HELP`'s keys), or None while all is well."""
    global _probe
    import streamlit as st

    if _probe is None:
        _probe = st.components.v2.component("fer_camera_probe", js=_PROBE_JS)
    result = _probe(key=key, default={"problem": None}, on_problem_change=lambda: None, height=0)
    return result.get("problem") if hasattr(result, "get") else getattr(result, "problem", None)


def camera_help(problem: str) -> tuple[str, str]:
    """(what happened, what to do next) for an error name from the browser."""
    return CAMERA_HELP.get(problem, (f"The camera could not be started ({problem}).",
                                     "Press START again; if it keeps failing, reload the page or try another "
                                     "browser."))
