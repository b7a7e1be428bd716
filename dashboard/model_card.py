"""A model's card as the app shows it: the part for users first (`fer_core.user_card`), the full card, written
for whoever trains the next model, one click away."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import streamlit as st

from fer_core.user_card import user_card

if TYPE_CHECKING:
    from fer_core.models import ModelSpec


def show(spec: "ModelSpec") -> None:
    """The user's card, then the full README.md in an expander (its headings demoted under the page's)."""
    st.markdown(user_card(spec))
    card = spec.card()
    if card:
        with st.expander("The full model card: how it was trained and measured", icon=":material/description:"):
            st.markdown(re.sub(r"^(#{1,4}) ", lambda m: "#" * min(len(m.group(1)) + 2, 6) + " ", card,
                               flags=re.MULTILINE))
            st.caption(f"{spec.card_path.relative_to(spec.directory.parent.parent) if spec.shipped else spec.card_path}")
