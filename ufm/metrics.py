r"""Neural collapse and the mixup UFM's geometry, measured on any features.

Pure functions of NumPy or JAX arrays (a network's last-layer features, a UFM solution), computed
in float64 whatever the input dtype, in row blocks so that $N$ in the millions needs no more than
a few tens of MB beyond the input; each returns a frozen result object with ``to_dict()``.

* :func:`neural_collapse`: NC1-NC4 of labelled features (Papyan, Han & Donoho, PNAS 2020);
* :func:`etf_error`: distance of a set of rows from a simplex ETF (class means, a classifier);
* :func:`mixup_geometry`: the mixup UFM's claims about mixed samples (Fisher, Meng & Papyan,
  ICLR 2024, Sec. 3);
* :func:`fit_weight_decay`: the UFM weight decay whose exact optimum best explains the features,
  fitted in logit space, with the relative residual;
* :func:`exact_optimum`: the UFM's exact optimal feature of each sample, for given classifier rows;
* :func:`check_samples`: the input checks the functions above share (one-line messages).

Samples of mixed data are given flat: ``features`` ``(N, d)``, ``classifier`` ``(K, d)`` (no bias),
``class_a``, ``class_b`` ``(N,)`` integer classes and ``lambdas`` ``(N,)``: sample $i$ has target
$\lambda_i e_{a_i} + (1 - \lambda_i) e_{b_i}$, and $a_i = b_i$ marks a same-class (unmixed) sample.
``python -m ufm.analyze`` runs all of them on a ``.npz`` file; definitions, references and the
correspondence with the ``neural-collapse`` library are in ``docs/analyze.md``.
"""

from ._collapse import NeuralCollapse, etf_error, neural_collapse
from ._fit import GAMMA_RANGE, WeightDecayFit, exact_optimum, fit_weight_decay
from ._mixup_geometry import CALIBRATION_BINS, MixupGeometry, mixup_geometry
from ._samples import check_samples

__all__ = [
    "CALIBRATION_BINS",
    "GAMMA_RANGE",
    "MixupGeometry",
    "NeuralCollapse",
    "WeightDecayFit",
    "check_samples",
    "etf_error",
    "exact_optimum",
    "fit_weight_decay",
    "mixup_geometry",
    "neural_collapse",
]
