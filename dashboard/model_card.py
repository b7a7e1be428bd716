"""A model's card as the app shows it: the part for users first (`fer_core.user_card`), the full card, written
for whoever trains the next model, one click away."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import streamlit as st

from fer_core.user_card import user_card

if TYPE_CHECKING:
    from fer_core.models import ModelSpec


FULL_CARD = "The full model card: how it was trained and measured"


def show(spec: "ModelSpec", in_expander: bool = False) -> None:
    """The user's card, then the full README.md in an expander (its headings demoted under the page's); drawn
    inside an expander already (`in_expander`: Streamlit nests none), the full card follows under a rule."""
    st.markdown(user_card(spec))
    card = spec.card()
    if not card:
        return
    demoted = re.sub(r"^(#{1,4}) ", lambda m: "#" * min(len(m.group(1)) + 2, 6) + " ", card, flags=re.MULTILINE)
    where = f"models/{spec.directory.name}/README.md" if spec.shipped else str(spec.card_path)
    if in_expander:
        st.divider()
        st.caption(f"{FULL_CARD} ({where}):")
        st.markdown(demoted)
        return
    with st.expander(FULL_CARD, icon=":material/description:"):
        st.markdown(demoted)
        st.caption(where)
