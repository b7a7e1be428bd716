"""A model card for the people who use the model, generated from its `model.json`.

Why: the cards in `models/*/README.md` are written for whoever trains the next model (recipes, epochs,
teacher targets, what did not work). A user choosing between Fast, Accurate and Best needs something else:
what the model is for, how often it is right per emotion and on which faces that was measured, what a face
costs, whether its confidences can be taken at their word, and its limits. That part is generated here from
the figures in `model.json`, so it cannot drift from them; the full card stays one click (or one file) away.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .emotions import EMOTIONS, display_name
from .models import ALIAS_ROLES, aliases_of, primary_role, role_title

if TYPE_CHECKING:
    from .models import ModelSpec

LIMITS = (
    "It learned from FER2013: small grey web photos of mostly frontal, posed faces. It is less reliable on turned "
    "heads, low light, hands or masks over the face and very small faces; people themselves agree on FER2013's "
    "labels only about 65 % of the time, and fear, sad and neutral are often confused. How well it works across "
    "ages, genders and skin tones has not been measured. It reads facial *expressions*, not felt emotions: do not "
    "use it to make decisions about people."
)
"""What every model trained on FER2013 shares, said once."""


def user_card(spec: "ModelSpec") -> str:
    """Markdown for users: what the model is, its accuracy per emotion (and on which faces), cost,
    calibration and limits. Headings are level 5, to sit under a page's own."""
    role = primary_role(spec.name)
    title = role_title(role, "default" in aliases_of(spec.name))
    parts = [f"##### {title or spec.title}", _what_it_is(spec, role)]
    parts += _accuracy(spec)
    if spec.ms_per_face is not None:
        parts.append(f"**Cost.** {spec.ms_per_face:.2f} ms per face on one CPU thread (the face detector adds its "
                     "own time per frame).")
    parts.append(_calibration(spec))
    parts.append(f"**Limits.** {LIMITS}")
    return "\n\n".join(p for p in parts if p)


def _what_it_is(spec: "ModelSpec", role: str | None) -> str:
    what = f"{ALIAS_ROLES[role][0].upper()}{ALIAS_ROLES[role][1:]}." if role else ""
    if spec.members:
        what += f" It averages {len(spec.members)} networks ({', '.join(f'`{m}`' for m in spec.members)})."
    params = spec.metrics.get("params")
    size = f"{params / 1e6:.1f} million parameters, " if isinstance(params, (int, float)) else ""
    if not spec.shipped:
        what += " Trained on this computer, on the Training page."
    return (f"{what} It looks at each face as a {spec.input_size}x{spec.input_size} grey picture "
            f"({size}`{spec.name}`: {spec.title}).").strip()


def _accuracy(spec: "ModelSpec") -> list[str]:
    if spec.accuracy is None:
        return ["**Accuracy.** Not measured."]
    if spec.comparable:
        faces = (spec.metrics.get("calibration") or {}).get("n") or 3589
        where = (f"the {faces:,} faces of FER2013 PublicTest, which it was not trained on (the same faces for every "
                 "model in the menu, so these figures compare)")
    else:
        where = ("its own validation faces (a part of the photos it was trained from): **not comparable** with the "
                 "PublicTest figures of the other models, and usually higher than it will do on new faces")
    lines = [f"**Accuracy.** Right on {spec.accuracy:.1%} of {where}."]
    per_class = spec.metrics.get("val_per_class") or {}
    if per_class:
        lines.append("| emotion | " + " | ".join(display_name(e) for e in EMOTIONS if e in per_class) + " |\n"
                     "| --- | " + " | ".join("---" for e in EMOTIONS if e in per_class) + " |\n"
                     "| right | " + " | ".join(f"{per_class[e]:.0%}" for e in EMOTIONS if e in per_class) + " |")
        lines.append("Each figure: of the faces people labelled with that emotion, the share the model labelled the "
                     "same.")
    return lines


def _calibration(spec: "ModelSpec") -> str:
    facts = spec.metrics.get("calibration") or {}
    if spec.temperature == 1.0 or not facts:
        return ("**Confidence.** Its probabilities are the network's own, not calibrated: a \"90 %\" may be right "
                "more or less often than 9 times in 10.")
    before, after = facts.get("ece_before"), facts.get("ece_after")
    gap = (f" On PublicTest, a confidence was off from how often it was right by {before:.1%} on average before "
           f"and {after:.1%} after." if isinstance(before, float) and isinstance(after, float) else "")
    return (f"**Confidence.** Calibrated (temperature {spec.temperature:.2f}), so that \"90 %\" means right about 9 "
            f"times in 10.{gap}")
