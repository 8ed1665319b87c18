"""One exception tree for the whole project; the doors map each class to what the user sees.

Data problems (InputError, PriceError) are apart from optimization problems
(InfeasibleError), as in cvxportfolio, so a batch run can report them differently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Level = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Problem:
    """One finding about the workbook, pointing at the cell a person must look at."""

    message: str
    sheet: str | None = None
    cell: str | None = None
    level: Level = "error"
    # The engine knows rows and fields, not cells: a door's reader places such a problem
    # (models.checks.Locator.place) before the user sees it.
    row: int | None = None
    field: str | None = None

    @property
    def where(self) -> str:
        if self.sheet and self.cell:
            return f"{self.sheet}!{self.cell}"
        return self.sheet or ""

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message

    def to_json(self) -> dict[str, str | None]:
        """The shape every door's JSON output (validate, runs, batch reports) uses."""
        return {
            "level": self.level,
            "sheet": self.sheet,
            "cell": self.cell,
            "message": self.message,
        }


class XlRebalancerError(Exception):
    """Base of every error the doors turn into a message instead of a traceback."""

    exit_code = 1


class InputError(XlRebalancerError):
    """The workbook's input is wrong; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = [p for p in problems if p.level == "error"]
        self.warnings = [p for p in problems if p.level != "error"]
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the workbook"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in self.problems))


class WorkbookError(XlRebalancerError):
    """The file itself cannot be opened or saved (missing, locked, not a workbook, hostile)."""


class PriceError(XlRebalancerError):
    """Prices could not be had for some symbols."""

    def __init__(
        self, message: str, symbols: list[str] | None = None, problems: list[Problem] | None = None
    ) -> None:
        self.symbols = symbols or []
        self.problems = problems or []
        super().__init__(message)


class FeedUnreachable(PriceError):
    """The price feed could not be reached at all (no network, DNS, proxy): one message
    for the run, not one per symbol; the cache, the Prices sheet and files still serve."""


class SolverTimeLimit(XlRebalancerError):
    """The trade search reached its safety time limit: no plan, since one cut off by the
    clock would depend on how busy the machine was (engine/program/search.py, TIME_LIMIT)."""


class InfeasibleError(XlRebalancerError):
    """No trade list satisfies the settings; the message names what conflicts."""

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        self.problems = problems or []
        super().__init__(message)


class ProposalHeld(InputError):
    """The proposal on Trades must stand as it is (exported, awaiting its fills): a run
    would replace it. Batch shows such a client as `held`, not as a failure."""
