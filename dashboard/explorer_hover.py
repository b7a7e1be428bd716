"""A face picture beside the mouse when it hovers a point of a Plotly chart (the embedding map).

Why a component: Plotly's hover label takes text only, and Streamlit sends no hover events to Python. This
small `st.components.v2` component (no iframe, no download: inline JavaScript) finds the chart by its key,
listens to Plotly's own `plotly_hover` / `plotly_unhover` events, and shows the hovered point's face (its
row, `customdata[0]`) cut from one picture of every face (`face_atlas`). It sends nothing back to Python.
"""

from __future__ import annotations

import base64

import cv2
import numpy as np
import streamlit as st

_JS = """
export default function (component) {
  const { data } = component;
  const selector = `.st-key-${data.chart_key} .js-plotly-plot`;
  const show = 96, scale = show / data.tile;
  let tip = document.getElementById('fer-hover-face');
  if (!tip) {
    tip = document.createElement('div');
    tip.id = 'fer-hover-face';
    tip.style.cssText = 'position:fixed;z-index:100000;pointer-events:none;display:none;padding:4px;' +
      'background:#fff;border:1px solid #CBD2D9;border-radius:8px;box-shadow:0 4px 14px rgba(0,0,0,.18)';
    const face = document.createElement('div');
    face.style.cssText = `width:${show}px;height:${show}px;border-radius:4px;background-repeat:no-repeat`;
    tip.appendChild(face);
    document.body.appendChild(tip);
  }
  const face = tip.firstChild;
  face.style.backgroundImage = `url(${data.atlas})`;
  face.style.backgroundSize = `${data.columns * show}px auto`;
  const attach = () => {
    document.querySelectorAll(selector).forEach((plot) => {
      if (plot.__ferHover || typeof plot.on !== 'function') return;
      plot.__ferHover = true;
      plot.on('plotly_hover', (event) => {
        const point = event.points && event.points[0];
        if (!point || !point.customdata) return;
        const row = Number(point.customdata[0]);
        face.style.backgroundPosition =
          `-${(row % data.columns) * show}px -${Math.floor(row / data.columns) * show}px`;
        const e = event.event || {};
        // Left of the pointer: Plotly's own hover label (true, predicted, file) opens on its right.
        const x = (e.clientX || 0), y = (e.clientY || 0);
        tip.style.left = (x > 130 ? x - 124 : x + 18) + 'px';
        tip.style.top = Math.min(Math.max(8, y - 52), window.innerHeight - 112) + 'px';
        tip.style.display = 'block';
      });
      plot.on('plotly_unhover', () => { tip.style.display = 'none'; });
    });
  };
  attach();
  const timer = setInterval(attach, 400);
  return () => { clearInterval(timer); tip.style.display = 'none'; };
}
"""

_component = st.components.v2.component("fer_hover_pictures", js=_JS, isolate_styles=False)


@st.cache_data(show_spinner=False, max_entries=4)
def face_atlas(run_key: tuple, _crops: np.ndarray, tile: int = 48) -> tuple[str, int]:
    """Every face of a run in one grey JPEG (tiles of `tile` pixels, row-major), as a data URI, and its number
    of columns. One JPEG of 3,589 faces is about 1 MB, a tenth of as many separate pictures."""
    n = max(1, len(_crops))
    columns = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / columns))
    atlas = np.zeros((rows * tile, columns * tile), dtype=np.uint8)
    for i, face in enumerate(_crops):
        if face.shape[0] != tile:
            face = cv2.resize(face, (tile, tile), interpolation=cv2.INTER_AREA)
        r, c = divmod(i, columns)
        atlas[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile] = face
    ok, buf = cv2.imencode(".jpg", atlas, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii"), columns


def hover_pictures(chart_key: str, run_key: tuple, crops: np.ndarray) -> None:
    """Show the hovered point's face for the Plotly chart drawn with `key=chart_key`, whose points carry their
    row of the evaluation table as customdata[0]."""
    atlas, columns = face_atlas(run_key, crops)
    _component(key=f"{chart_key}_hover", data={"chart_key": chart_key, "atlas": atlas, "columns": columns,
                                                "tile": 48}, height=0)
