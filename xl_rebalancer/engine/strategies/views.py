"""Black-Litterman posterior and the glide path's blend."""

from __future__ import annotations

import numpy as np


def black_litterman(
    cov: np.ndarray,
    prior_returns: np.ndarray,
    picks: np.ndarray,
    views: np.ndarray,
    confidences: np.ndarray,
    tau: float = 0.05,
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior expected returns and covariance (He & Litterman 1999).

    picks (K × n) and views (K) say "picks·r = views"; each view's uncertainty comes
    from its confidence in [0, 1] by Idzorek's method in Walters' closed form:
    ω_k = τ (1 − c_k)/c_k · p_k Σ p_kᵀ (a 100% view is exact, a 0% view is ignored).
    """
    cov = np.asarray(cov, dtype=float)
    p = np.atleast_2d(np.asarray(picks, dtype=float))
    q = np.asarray(views, dtype=float)
    omegas = []
    for row, conf in zip(p, confidences, strict=True):
        if conf <= 0:
            omegas.append(1e6)
        else:
            omegas.append(tau * (1.0 - conf) / conf * float(row @ cov @ row))
    tau_sigma_p = tau * cov @ p.T
    a = p @ tau_sigma_p + np.diag(omegas)
    posterior = (
        prior_returns + tau_sigma_p @ np.linalg.lstsq(a, q - p @ prior_returns, rcond=None)[0]
    )
    m = tau * cov - tau_sigma_p @ np.linalg.lstsq(a, tau_sigma_p.T, rcond=None)[0]
    return posterior, cov + m


# Share of the aggressive portfolio by age: (age, share) points, linear in between,
# flat outside. A common target-date shape: 90% growth while young, easing to 50% at
# 65 and 30% by 85.
GLIDE = ((25, 0.90), (45, 0.80), (65, 0.50), (85, 0.30))


def glide_share(age: float) -> float:
    ages, shares = zip(*GLIDE, strict=True)
    return float(np.interp(age, ages, shares))
