"""The model card the app shows users: generated from model.json, without development history, the full card
one click away; a model trained here says its score is not comparable."""

from __future__ import annotations

import json
import shutil

from streamlit.testing.v1 import AppTest

from fer_core.models import MODELS_DIR, get_model, load_spec
from fer_core.user_card import user_card

HISTORY = ("## How it was trained", "## Recipe", "teacher_targets", "learning rate", "Born-again")


def test_the_shipped_roles_cards_speak_to_users():
    for role, heading in (("fast", "##### Fast (default)"), ("accurate", "##### Accurate"), ("best", "##### Best")):
        spec = get_model(role)
        card = user_card(spec)
        assert card.startswith(heading + "\n") and not any(h in card for h in HISTORY), role
        assert f"Right on {spec.accuracy:.1%} of the 3,589 faces of FER2013 PublicTest" in card
        assert f"| right | {spec.metrics['val_per_class']['angry']:.0%} |" in card  # per emotion, Angry first
        assert f"{spec.ms_per_face:.2f} ms per face" in card and "do not use it to make decisions about people" in card
        assert f"temperature {spec.temperature:.2f}" in card
    best = get_model("best")
    assert f"It averages {len(best.members)} networks" in user_card(best)


def test_a_model_trained_here_says_its_score_is_not_comparable(tmp_path):
    mine = tmp_path / "mine"
    shutil.copytree(MODELS_DIR / get_model("fast").name, mine, ignore=shutil.ignore_patterns("*.keras", "*.csv"))
    spec = json.loads((mine / "model.json").read_text())
    spec.update(name="mine", temperature=1.0, metrics={"val_accuracy": 0.9, "val_data": "split", "ms_per_face": 0.1})
    (mine / "model.json").write_text(json.dumps(spec))
    card = user_card(load_spec(mine))
    assert "Trained on this computer" in card and "**not comparable**" in card and "not calibrated" in card


def _card_page() -> None:
    from dashboard import model_card
    from fer_core.models import get_model

    model_card.show(get_model("accurate"))


def test_the_app_shows_the_users_card_and_the_full_card_one_click_away():
    at = AppTest.from_function(_card_page, default_timeout=30).run()
    assert not at.exception
    assert at.markdown[0].value.startswith("##### Accurate")
    assert at.expander[0].label == "The full model card: how it was trained and measured"
    assert "## How it was trained" in "\n".join(m.value for m in at.expander[0].markdown).replace("####", "##")


def _card_in_an_expander() -> None:
    import streamlit as st

    from dashboard import model_card
    from fer_core.models import get_model

    with st.expander("Model card", expanded=True):
        model_card.show(get_model("fast"), in_expander=True)


def test_inside_an_expander_the_full_card_follows_the_users_card():
    """The Training page shows a new model's card in an expander, where Streamlit allows no second one."""
    at = AppTest.from_function(_card_in_an_expander, default_timeout=30).run()
    assert not at.exception, [e.value for e in at.exception]
    texts = [m.value for m in at.expander[0].markdown]
    # ...then the full card (the fast pair's has a "What it measures" section).
    assert texts[0].startswith("##### Fast (default)") and any("## What it measures" in t for t in texts[1:])
