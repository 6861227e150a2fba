r"""Symbolic derivations (sympy only) of the exact optimum of the mixup UFM with a fixed simplex ETF.

One module per result, each runnable on its own (``python derivations/d3_same_class.py``) and each
asserting what it derives; ``python derivations/derive_all.py`` runs them all and writes
``docs/derivations.md``. :mod:`derivations.residuals` exposes the derived equations as sympy
expressions so that tests can evaluate them at the values :mod:`ufm.analytic` computes.

Fisher, Meng & Papyan, "Pushing Boundaries: Mixup's Influence on Neural Collapse", ICLR 2024, Sec. 3.
"""

MODULES = (
    "d1_model",
    "d2_decoupling",
    "d3_same_class",
    "d4_pair",
    "d5_special_cases",
    "d6_limits",
    "d7_closed_forms",
    "d8_margin_sensitivity",
    "d9_mixup_alpha",
    "d10_learned_classifier",
)
