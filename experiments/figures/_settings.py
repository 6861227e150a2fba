"""Every number the figures depend on, and the tiny configuration the tests use."""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["FigureSettings", "quick_settings"]


@dataclasses.dataclass(frozen=True)
class FigureSettings:
    r"""Every number the figures depend on (the defaults make the paper's figures).

    Attributes:
        fine_lambdas: points of the exact curves on $[0, 1]$.
        marker_lambdas: mixing coefficients solved numerically (markers), uniform on $[0, 1]$.
        edge_logits: extra markers at $\lambda = \sigma(\pm x)$ in figures 1 and 8, near 0 and 1
            where the optimum moves fastest.
        tol: solver tolerance on the largest per-sample gradient 2-norm.
        channel_decays: weight decays $\mu$ of the $K = 3$ channel panels (figure 1).
        mse_decay: $\mu$ of the MSE contrast (figures 1 and 4).
        margin_classes: $K$ of figures 2-4.
        margin_decays: the $\mu$ of figures 2-4.
        decay_classes: $K$ of figure 5.
        decay_markers: the $\mu$ solved numerically in figure 5.
        decay_lambdas: the different-class $\lambda$ of figure 5.
        mixup_decay: $\mu$ of figure 6 ($K = 3$).
        mixup_alphas: mixup's $\alpha$ values of figure 6.
        mixup_samples: $\lambda \sim \mathrm{Beta}(\alpha, \alpha)$ draws per $\alpha$.
        solver_classes, solver_decay, solver_lambdas, solver_steps: figure 7.
        leak_classes, leak_decay: figure 8.
        sweep_alpha_range: the $\alpha$ range of figures 9 and 10 (log axis).
        sweep_alpha_points: points of their exact curves.
        sweep_classes, sweep_decays: the $(K, \mu)$ of their curves (every combination).
        sweep_markers: the $\alpha$ of their Monte-Carlo markers.
        sweep_draws: $\lambda \sim \mathrm{Beta}(\alpha, \alpha)$ draws per marker, each solved numerically.
        seed: seed of every random draw.
    """

    fine_lambdas: int = 401
    marker_lambdas: int = 21
    edge_logits: tuple[float, ...] = (3.0, 5.0, 7.0)
    tol: float = 1e-10
    channel_decays: tuple[float, ...] = (1.0, 1e-1, 1e-3)
    mse_decay: float = 1e-2
    margin_classes: int = 10
    margin_decays: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0)
    decay_classes: int = 10
    decay_markers: tuple[float, ...] = tuple(float(10.0**e) for e in np.arange(-4.0, 2.01, 0.5))
    decay_lambdas: tuple[float, ...] = (0.5, 0.7, 0.9)
    mixup_decay: float = 1e-2
    mixup_alphas: tuple[float, ...] = (0.2, 1.0, 5.0)
    mixup_samples: int = 1000
    solver_classes: int = 10
    solver_decay: float = 1e-2
    solver_lambdas: int = 11
    solver_steps: tuple[tuple[str, int], ...] = (("gd", 3000), ("adam", 3000), ("lbfgs", 500), ("newton", 100))
    leak_classes: int = 10
    leak_decay: float = 1e-2
    sweep_alpha_range: tuple[float, float] = (0.05, 20.0)
    sweep_alpha_points: int = 81
    sweep_classes: tuple[int, ...] = (3, 10)
    sweep_decays: tuple[float, ...] = (1e-3, 1e-2, 1e-1)
    sweep_markers: tuple[float, ...] = (0.05, 0.2, 1.0, 5.0, 20.0)
    sweep_draws: int = 256
    seed: int = 0

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["solver_steps"] = dict(self.solver_steps)
        return out


def quick_settings() -> FigureSettings:
    """A tiny configuration (few $\\lambda$, small $K$) that runs every figure in seconds, for tests.

    Most solves share one problem shape (5 mixing coefficients) so compiled loops are reused.
    """
    return FigureSettings(
        fine_lambdas=41,
        marker_lambdas=5,
        edge_logits=(),
        channel_decays=(1e-1,),
        margin_classes=3,
        margin_decays=(1e-2, 1.0),
        decay_classes=3,
        decay_markers=(1e-2, 1.0),
        decay_lambdas=(0.5, 0.6, 0.7, 0.8, 0.9),
        mixup_alphas=(1.0,),
        mixup_samples=5,
        solver_classes=3,
        solver_lambdas=5,
        solver_steps=(("gd", 50), ("adam", 50), ("lbfgs", 50), ("newton", 20)),
        leak_classes=3,
        sweep_alpha_points=9,
        sweep_classes=(3,),
        sweep_decays=(0.1,),
        sweep_markers=(0.2, 5.0),
        sweep_draws=5,
    )
