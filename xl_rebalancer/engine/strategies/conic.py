"""A small builder over Clarabel: variables in blocks, constraints as cones.

Why not cvxpy: it costs 0.6 s to import and about 30 ms to compile a 500-asset problem,
more than the solve itself (docs/performance.md). The problems here are few and fixed,
so their matrices are written out directly in Clarabel's form
    minimize ½ xᵀPx + qᵀx  subject to  A x + s = b,  s ∈ K.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from ...errors import InfeasibleError, Problem


@dataclass
class Program:
    size: int = 0
    q: list[np.ndarray] = field(default_factory=list)
    p_blocks: list[tuple[int, object]] = field(default_factory=list)  # (start, square block)
    # constraint blocks: ([(first variable, matrix)], rhs, cone name, rows)
    blocks: list[tuple[list[tuple[int, object]], np.ndarray, str, int]] = field(
        default_factory=list
    )

    def variables(self, count: int, cost: np.ndarray | float = 0.0) -> slice:
        start = self.size
        self.size += count
        self.q.append(np.broadcast_to(np.asarray(cost, dtype=float), (count,)).copy())
        return slice(start, start + count)

    def quadratic(self, block: slice, matrix: object) -> None:
        """Add ½ xᵀ M x over a block (M dense, sparse or a 1-D diagonal)."""
        self.p_blocks.append((block.start, matrix))

    def _rows(self, terms: list[tuple[slice, object]], rhs: ArrayLike, cone: str) -> None:
        b = np.atleast_1d(np.asarray(rhs, dtype=float))
        self.blocks.append(([(s.start, m) for s, m in terms], b, cone, b.size))

    def equal(self, terms: list[tuple[slice, object]], rhs: ArrayLike) -> None:
        """Σ M x_block = rhs."""
        self._rows(terms, rhs, "zero")

    def at_most(self, terms: list[tuple[slice, object]], rhs: ArrayLike) -> None:
        """Σ M x_block ≤ rhs."""
        self._rows(terms, rhs, "nonneg")

    def soc(self, terms: list[tuple[slice, object]], rhs: ArrayLike) -> None:
        """rhs − Σ M x_block lies in the second-order cone (first entry the bound)."""
        self._rows(terms, rhs, "soc")

    def exp(self, terms: list[tuple[slice, object]], rhs: ArrayLike) -> None:
        """rhs − Σ M x_block lies in the exponential cone, three rows per cone."""
        self._rows(terms, rhs, "exp")

    def solve(self, what: str, hints: list[Problem] | None = None) -> np.ndarray:
        import clarabel
        import scipy.sparse as sp

        n = self.size
        pr, pc, pv = [], [], []
        for start, block in self.p_blocks:
            m = sp.coo_matrix(np.diag(block) if np.ndim(block) == 1 else block)
            keep = m.row <= m.col  # Clarabel reads the upper triangle
            pr.append(m.row[keep] + start)
            pc.append(m.col[keep] + start)
            pv.append(m.data[keep])
        p = sp.csc_matrix(
            (np.concatenate(pv or [[]]), (np.concatenate(pr or [[]]), np.concatenate(pc or [[]]))),
            shape=(n, n),
        )
        ar, ac, av, rhs, cones = [], [], [], [], []
        offset = 0
        for terms, b, cone, dim in self.blocks:
            for start, matrix in terms:
                m = sp.coo_matrix(matrix if sp.issparse(matrix) else np.atleast_2d(matrix))
                ar.append(m.row + offset)
                ac.append(m.col + start)
                av.append(m.data)
            rhs.append(b)
            offset += dim
            if cone == "zero":
                cones.append(clarabel.ZeroConeT(dim))
            elif cone == "nonneg":
                cones.append(clarabel.NonnegativeConeT(dim))
            elif cone == "soc":
                cones.append(clarabel.SecondOrderConeT(dim))
            else:
                cones.extend(clarabel.ExponentialConeT() for _ in range(dim // 3))
        a = sp.csc_matrix(
            (np.concatenate(av), (np.concatenate(ar), np.concatenate(ac))), shape=(offset, n)
        )
        settings = clarabel.DefaultSettings()
        settings.verbose = False
        # faer's supernodal factorization beats QDLDL on the dense KKT systems here
        # (500 assets: 0.23 s against 0.35 s), where this build of Clarabel has it.
        with contextlib.suppress(Exception):
            settings.direct_solve_method = "faer"
        solver = clarabel.DefaultSolver(
            p, np.concatenate(self.q), a, np.concatenate(rhs), cones, settings
        )
        solution = solver.solve()
        status = str(solution.status)
        if status not in {"Solved", "AlmostSolved"}:
            raise InfeasibleError(
                f"{what}: the optimizer found no portfolio ({status})",
                hints or [Problem("check the MinWeight/MaxWeight limits", "Constraints", None)],
            )
        return np.asarray(solution.x)
