r"""``ufm``: the mixup unconstrained-features model with a fixed simplex-ETF classifier.

Solve the model numerically with jit-compiled optimizers, compute its exact optimum, and compare
them (Fisher, Meng & Papyan, "Pushing Boundaries: Mixup's Influence on Neural Collapse", ICLR 2024).
With ``classifier_decay`` the classifier is learned too, and the certified optimum of the convex
reformulation (:func:`learned_optimum`) is the reference.

Importing ``ufm`` turns on JAX's 64-bit mode (``jax_enable_x64``): every check of the theory runs in
float64 by default. Pass ``dtype="float32"`` to :class:`MixupUFM` for single precision.

The public API is what this module exports (``__all__``); modules whose names start with an
underscore are internal.
"""

from importlib.metadata import PackageNotFoundError, version

import jax

jax.config.update("jax_enable_x64", True)

from . import analytic as analytic  # noqa: E402
from . import distributed as distributed  # noqa: E402
from . import io as io  # noqa: E402
from . import metrics as metrics  # noqa: E402
from ._check import CONVENTION as CONVENTION  # noqa: E402
from ._check import DEFAULT_CHECK_TOL as DEFAULT_CHECK_TOL  # noqa: E402
from ._check import Report as Report  # noqa: E402
from ._check import check as check  # noqa: E402
from ._compare import FeatureComparison as FeatureComparison  # noqa: E402
from ._compare import compare_features as compare_features  # noqa: E402
from ._convex import LearnedOptimum as LearnedOptimum  # noqa: E402
from ._convex import learned_optimum as learned_optimum  # noqa: E402
from ._cpu import split_cpu as split_cpu  # noqa: E402
from ._etf import simplex_etf as simplex_etf  # noqa: E402
from ._final_check import FINAL_CHECKS as FINAL_CHECKS  # noqa: E402
from ._geometry import boundary_coordinates as boundary_coordinates  # noqa: E402
from ._geometry import feature_geometry as feature_geometry  # noqa: E402
from ._learned_check import LearnedReport as LearnedReport  # noqa: E402
from ._memory import MemoryEstimate as MemoryEstimate  # noqa: E402
from ._memory import available_memory as available_memory  # noqa: E402
from ._memory import estimate_memory as estimate_memory  # noqa: E402
from ._minimize import METHODS as METHODS  # noqa: E402
from ._minimize import minimize as minimize  # noqa: E402
from ._objective import mixup_objective as mixup_objective  # noqa: E402
from ._objective import per_sample_objective as per_sample_objective  # noqa: E402
from ._problem import MixupUFM as MixupUFM  # noqa: E402
from ._results import RESULTS as RESULTS  # noqa: E402
from ._results import ConvergenceError as ConvergenceError  # noqa: E402
from ._solution import Solution as Solution  # noqa: E402
from ._solvers import DEFAULT_TOL as DEFAULT_TOL  # noqa: E402
from ._solvers import LBFGS as LBFGS  # noqa: E402
from ._solvers import SOLVERS as SOLVERS  # noqa: E402
from ._solvers import AbstractSolver as AbstractSolver  # noqa: E402
from ._solvers import Adam as Adam  # noqa: E402
from ._solvers import GradientDescent as GradientDescent  # noqa: E402
from ._solvers import Newton as Newton  # noqa: E402
from ._solvers import Optax as Optax  # noqa: E402
from .analytic import optimal_features as optimal_features  # noqa: E402

try:
    __version__ = version("ufm")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "AbstractSolver",
    "Adam",
    "CONVENTION",
    "ConvergenceError",
    "DEFAULT_CHECK_TOL",
    "DEFAULT_TOL",
    "FINAL_CHECKS",
    "FeatureComparison",
    "GradientDescent",
    "LBFGS",
    "LearnedOptimum",
    "LearnedReport",
    "METHODS",
    "MemoryEstimate",
    "MixupUFM",
    "Newton",
    "Optax",
    "RESULTS",
    "Report",
    "SOLVERS",
    "Solution",
    "analytic",
    "available_memory",
    "boundary_coordinates",
    "check",
    "compare_features",
    "distributed",
    "estimate_memory",
    "feature_geometry",
    "io",
    "learned_optimum",
    "metrics",
    "minimize",
    "mixup_objective",
    "optimal_features",
    "per_sample_objective",
    "simplex_etf",
    "split_cpu",
    "__version__",
]
