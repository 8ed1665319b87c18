"""Weight limits every strategy honours: per asset and per group (asset class, ...)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...errors import Problem
from .conic import Program


@dataclass(frozen=True)
class Group:
    label: str  # e.g. "asset class Bonds (Constraints row 4)"
    members: tuple[int, ...]
    lower: float | None = None
    upper: float | None = None


@dataclass(frozen=True)
class Limits:
    """lower ≤ w ≤ upper per asset, group sums within their bounds, Σw = 1."""

    lower: np.ndarray
    upper: np.ndarray
    groups: tuple[Group, ...] = ()
    labels: tuple[str, ...] = field(default=())  # where each asset's bounds came from

    @classmethod
    def long_only(cls, n: int, upper: float = 1.0) -> Limits:
        return cls(np.zeros(n), np.full(n, upper))

    @property
    def n(self) -> int:
        return int(self.lower.shape[0])

    @property
    def trivial(self) -> bool:
        return not self.groups and not np.any(self.lower > 0) and not np.any(self.upper < 1)

    def conflicts(self) -> list[Problem]:
        """Limits that cannot hold together, each said in words."""
        out = []
        if self.lower.sum() > 1 + 1e-9:
            out.append(Problem(f"the minimum weights add up to {self.lower.sum():.2%}, over 100%"))
        if self.upper.sum() < 1 - 1e-9:
            out.append(Problem(f"the maximum weights add up to {self.upper.sum():.2%}, under 100%"))
        for i in np.flatnonzero(self.lower > self.upper + 1e-12):
            name = self.labels[i] if self.labels else f"asset {i}"
            out.append(Problem(f"{name}: minimum weight above its maximum"))
        for g in self.groups:
            members = list(g.members)
            if g.lower is not None and self.upper[members].sum() < g.lower - 1e-9:
                out.append(
                    Problem(
                        f"{g.label}: minimum {g.lower:.2%} but its members may hold at most "
                        f"{self.upper[members].sum():.2%}"
                    )
                )
            if g.upper is not None and self.lower[members].sum() > g.upper + 1e-9:
                out.append(
                    Problem(
                        f"{g.label}: maximum {g.upper:.2%} but its members must hold at least "
                        f"{self.lower[members].sum():.2%}"
                    )
                )
            if g.lower is not None and g.upper is not None and g.lower > g.upper + 1e-12:
                out.append(Problem(f"{g.label}: minimum above maximum"))
        return out

    def satisfied(self, w: np.ndarray, tol: float = 1e-6) -> bool:
        ok = bool(np.all(w >= self.lower - tol) and np.all(w <= self.upper + tol))
        for g in self.groups:
            total = float(w[list(g.members)].sum())
            ok &= g.lower is None or total >= g.lower - tol
            ok &= g.upper is None or total <= g.upper + tol
        return ok and abs(float(w.sum()) - 1.0) < 1e-6

    def impose(self, prog: Program, w: slice, scale: slice | None = None) -> None:
        """Add the limits on block w; with `scale` (a one-variable block κ) they are
        homogeneous: lower·κ ≤ w ≤ upper·κ and Σw = κ (for ratio problems)."""
        import scipy.sparse as sp

        n = self.n
        eye = sp.identity(n, format="coo")
        if scale is None:
            prog.equal([(w, np.ones((1, n)))], 1.0)
            prog.at_most([(w, eye)], self.upper)
            prog.at_most([(w, -eye)], -self.lower)
        else:
            prog.equal([(w, np.ones((1, n))), (scale, -np.ones((1, 1)))], 0.0)
            prog.at_most([(w, eye), (scale, -self.upper[:, None])], np.zeros(n))
            prog.at_most([(w, -eye), (scale, self.lower[:, None])], np.zeros(n))
        for g in self.groups:
            row = np.zeros((1, n))
            row[0, list(g.members)] = 1.0
            for bound, sign in ((g.upper, 1.0), (g.lower, -1.0)):
                if bound is None:
                    continue
                if scale is None:
                    prog.at_most([(w, sign * row)], sign * bound)
                else:
                    prog.at_most([(w, sign * row), (scale, -sign * bound * np.ones((1, 1)))], 0.0)
