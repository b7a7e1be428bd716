"""Model Explorer: a lab for the model's behaviour on any labelled set. Views of one evaluation table
(`fer_core.explore`) hand their faces to one gallery; a face opens up close."""

from __future__ import annotations


import pandas as pd
import streamlit as st

from dashboard import explorer, explorer_views, model_card, resources, ui
from dashboard.explorer_gallery import gallery
from dashboard.explorer_sets import choose_set
from fer_core.emotions import display_name
from fer_core.models import ALIAS_ROLES

settings = ui.setup_page(
    "Model Explorer", ":material/biotech:",
    "Where does the model fail, and on what kind of face? Evaluate it on a labelled set (the bundled sample, "
    "your own zip or a folder on the server), then drill from any chart into the faces behind it.",
)

try:
    spec = resources.model_spec(settings)
except Exception as error:  # noqa: BLE001
    ui.show_error(error, "the model")
    st.stop()

source = choose_set(settings)
run = explorer.cached_run(source, settings)
if run is None:
    bar = st.progress(0.0, text="Evaluating...")
    try:
        run = explorer.evaluate(source, settings, progress=lambda d, t: bar.progress(
            min(1.0, d / max(t, 1)), text=f"Evaluating {spec.name} on {source.name}: {d:,} of {t:,} images"))
    except Exception as error:  # noqa: BLE001 - e.g. a folder removed since: back to the sample
        ui.show_error(error, source.name)
        st.session_state.pop(explorer.SOURCE_KEY, None)
        st.stop()
    finally:
        bar.empty()
table = explorer.table_of(run)
run_key = (source.key, settings.key())
explorer.follow_run(run_key)
explorer_views.summary(run, table, source, spec)

VIEWS = [":material/grid_on: Confusion", ":material/scatter_plot: Embedding map", ":material/speed: Calibration",
         ":material/compare_arrows: Model against model", ":material/segment: Slices",
         ":material/report: Likely label errors", ":material/description: Model card"]
tabs = st.tabs(VIEWS, key="explorer_view", on_change="rerun")
SHOW_VIEW = [lambda: explorer_views.confusion_view(run, table),
             lambda: explorer_views.map_view(run, table, run_key),
             lambda: explorer_views.calibration_view(run, table),
             lambda: explorer_views.compare_view(run, source, settings),
             lambda: explorer_views.slices_view(table, run_key),
             lambda: explorer_views.label_errors_view(table, source)]
for tab, show in zip(tabs, SHOW_VIEW):
    with tab:
        if tab.open:  # only the open view is computed
            show()

# --- Model card -----------------------------------------------------------------------------------------
with tabs[6]:
    if tabs[6].open:
        facts = pd.DataFrame(
            [("Name", spec.name), ("Title", spec.title),
             ("Input", f"{spec.input_size}x{spec.input_size} grey, [-1, 1]"),
             ("Face margin", f"{spec.face_margin:.0%} on each side of the detector's box, squared"),
             ("Classes", ", ".join(display_name(c) for c in spec.classes)),
             ("Temperature", f"{spec.temperature:.3g}"),
             ("Runtime weights", spec.weights), ("Keras weights", spec.keras_weights or "none"),
             ("Recorded accuracy and cost", spec.summary()),
             ("Accuracy on this set", f"{table.loc[table['face_found'], 'correct'].mean():.1%} "
                                      f"({int(table['face_found'].sum()):,} faces, {source.name})")],
            columns=["", "value"])
        st.markdown("##### At a glance")
        st.dataframe(facts, hide_index=True, width="stretch")
        st.markdown("##### Every model: accuracy and cost")
        st.dataframe(explorer.model_comparison(), hide_index=True, width="stretch",
                     column_config={"PublicTest": st.column_config.NumberColumn(format="percent"),
                                    "with mirror TTA": st.column_config.NumberColumn(format="percent"),
                                    "ms per face": st.column_config.NumberColumn(format="%.2f")})
        st.caption("FER2013 PublicTest (3,589 faces); cost per face: TFLite, batch 1, one CPU thread. Aliases: "
                   + "; ".join(f"{alias}: {role}" for alias, role in ALIAS_ROLES.items()) + ".")
        log = spec.directory / "training_log.csv"
        if log.exists():
            from fer_core.training.reports import learning_curves_figure

            st.markdown("##### How it learned")
            history = pd.read_csv(log).to_dict("records")
            fig = learning_curves_figure(history)
            fig.update_layout(height=320, margin={"t": 40, "b": 30, "l": 10, "r": 10},
                              legend={"orientation": "h", "y": -0.3})
            fig.update_xaxes(tickmode="linear", tick0=1, dtick=max(1, -(-len(history) // 10)), tickformat="d")
            st.plotly_chart(fig, key="explorer_curves", config={"displayModeBar": False}, width="stretch")
            st.caption(f"Loss and accuracy per epoch on the training faces (solid) and the validation faces "
                       f"(dashed), from the model's {log.name}.")
        if spec.metrics:
            with st.expander("Metrics recorded with the model"):
                st.json(spec.metrics, expanded=True)
        with st.container(border=True):
            model_card.show(spec)  # for users (no development history); the full card one click away

if not tabs[6].open:
    st.markdown("#### :material/photo_library: Gallery")
    gallery(run, explorer_views.slice_options(table, run_key))
