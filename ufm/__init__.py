r"""``ufm``: the mixup unconstrained-features model with a fixed simplex-ETF classifier.

Solve the model numerically with jit-compiled optimizers, compute its exact optimum, and compare
them (Fisher, Meng & Papyan, "Pushing Boundaries: Mixup's Influence on Neural Collapse", ICLR 2024).

Importing ``ufm`` turns on JAX's 64-bit mode (``jax_enable_x64``): every check of the theory runs in
float64 by default. Pass ``dtype="float32"`` to :class:`MixupUFM` for single precision.
"""

from importlib.metadata import PackageNotFoundError, version

import jax

jax.config.update("jax_enable_x64", True)

from . import analytic as analytic  # noqa: E402
from ._compare import FeatureComparison as FeatureComparison  # noqa: E402
from ._compare import compare_features as compare_features  # noqa: E402
from ._etf import simplex_etf as simplex_etf  # noqa: E402
from ._geometry import boundary_coordinates as boundary_coordinates  # noqa: E402
from ._geometry import feature_geometry as feature_geometry  # noqa: E402
from ._minimize import METHODS as METHODS  # noqa: E402
from ._minimize import minimize as minimize  # noqa: E402
from ._problem import MixupUFM as MixupUFM  # noqa: E402
from ._problem import mixup_objective as mixup_objective  # noqa: E402
from ._problem import per_sample_objective as per_sample_objective  # noqa: E402
from ._solution import Solution as Solution  # noqa: E402
from .analytic import optimal_features as optimal_features  # noqa: E402

try:
    __version__ = version("ufm")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "FeatureComparison",
    "METHODS",
    "MixupUFM",
    "Solution",
    "analytic",
    "boundary_coordinates",
    "compare_features",
    "feature_geometry",
    "minimize",
    "mixup_objective",
    "optimal_features",
    "per_sample_objective",
    "simplex_etf",
    "__version__",
]
