"""Strategies and price feeds from other installed packages, found by entry point.

A firm adds its own allocation method or price feed without forking: its package
declares, in its pyproject.toml,

    [project.entry-points."xl_rebalancer.strategies"]
    inverse_volatility = "xlrb_example_plugin.strategies:inverse_volatility"

    [project.entry-points."xl_rebalancer.price_sources"]
    csv_folder = "xlrb_example_plugin.feeds:CsvFolderFeed"

and the name typed on the Settings sheet (`strategy`, `price_source`) chooses it like a
built-in (docs/plugins.md). Settings' validation asks here only for a name that is not
built in, and for a built-in name only whether a plugin claims it too: the installed
packages' metadata is read once per process, and a plugin's code is imported only when
a workbook names it, so a broken plugin nobody uses stops nothing. Every door (the
command line, the ribbon, the worksheet functions, batch) reads Settings the same way,
so none of them has to load plugins first.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import TYPE_CHECKING, Any

from .errors import FeedUnreachable, PriceError, XlRebalancerError
from .models.types import to_token

if TYPE_CHECKING:
    import datetime as dt

    from .prices.base import FetchResult, PriceProvider

GROUPS = {"strategy": "xl_rebalancer.strategies", "price_source": "xl_rebalancer.price_sources"}


class PluginError(XlRebalancerError):
    """A plugin named on Settings cannot be used: not installed the way it should be,
    failing to import, or claiming a built-in's name."""


@functools.cache
def _entry_points() -> dict[str, dict[str, tuple[metadata.EntryPoint, ...]]]:
    """Entry points per kind and name, as installed when first asked (a package
    installed later in the same process is not seen: Excel's Python restarts with it).
    Names are read as a Settings cell is (to_token), so `Inverse-Vol` is inverse_vol."""
    out: dict[str, dict[str, tuple[metadata.EntryPoint, ...]]] = {}
    for kind, group in GROUPS.items():
        found: dict[str, list[metadata.EntryPoint]] = {}
        seen: set[tuple[str, str]] = set()
        for ep in metadata.entry_points(group=group):
            # The same distribution found twice on sys.path (a --target folder and
            # site-packages) is one plugin, not two claiming one name.
            if (ep.name, ep.value) in seen:
                continue
            seen.add((ep.name, ep.value))
            found.setdefault(to_token(ep.name), []).append(ep)
        out[kind] = {name: tuple(eps) for name, eps in found.items()}
    return out


def names(kind: str) -> tuple[str, ...]:
    """Names of the installed plugins of a kind (strategy, price_source), without
    importing any of them."""
    return tuple(sorted(_entry_points()[kind]))


def origin(ep: metadata.EntryPoint) -> str:
    """The package an entry point comes from, as pip shows it: "xlrb-example-plugin 0.1.0"."""
    dist = getattr(ep, "dist", None)
    if dist is None:
        return ep.value
    return f"{dist.metadata['Name']} {dist.version}"


def refuse_shadow(kind: str, name: str) -> None:
    """A plugin may not take a built-in's name: the built-in would run while the firm
    believes its own method does. Said on the Settings cell that names it."""
    claims = _entry_points()[kind].get(name, ())
    if claims:
        by = ", ".join(origin(ep) for ep in claims)
        raise PluginError(
            f"{name} is built in, and the installed plugin {by} claims the name too "
            f"(entry point {GROUPS[kind]}: {claims[0].name} = {claims[0].value}); a plugin "
            "cannot replace a built-in: give its entry point another name"
        )


def _entry_point(kind: str, name: str) -> metadata.EntryPoint:
    claims = _entry_points()[kind].get(name, ())
    if not claims:
        raise PluginError(f"no installed plugin gives the {kind} {name}")
    if len(claims) > 1:
        by = " and ".join(origin(ep) for ep in claims)
        raise PluginError(
            f"the {kind} {name} is given by more than one installed plugin ({by}); "
            "uninstall one, or rename one's entry point"
        )
    return claims[0]


def _load(kind: str, name: str) -> tuple[Any, str]:
    ep = _entry_point(kind, name)
    where = f"the {kind} {name} (entry point {ep.name} = {ep.value} of {origin(ep)})"
    try:
        loaded = ep.load()
    except Exception as exc:  # whatever the plugin's import raised, said in one line
        raise PluginError(f"{where} failed to load: {type(exc).__name__}: {exc}") from exc
    if not callable(loaded):
        raise PluginError(f"{where} is a {type(loaded).__name__}, not a function or class")
    return loaded, origin(ep)


@functools.cache
def strategy(name: str) -> None:
    """Import the strategy `name` and register it with the engine, once per process."""
    from .engine.strategies import registry

    function, source = _load("strategy", name)
    registry.register(name, function, source)


@functools.cache
def price_source_factory(name: str) -> tuple[Callable[[], Any], str]:
    """The imported factory (a class or function) of the price source `name`."""
    return _load("price_source", name)


def load(kind: str, name: str) -> None:
    """Import the plugin a Settings cell names, so an import failure is said there."""
    if kind == "strategy":
        strategy(name)
    else:
        price_source_factory(name)


@functools.cache
def price_source(name: str) -> PriceProvider:
    """The price source `name`, made once per process (a feed may hold a session)."""
    factory, source = price_source_factory(name)
    where = f"price source {name} (from {source})"
    try:
        provider = factory()
    except XlRebalancerError:
        raise
    except Exception as exc:
        raise PluginError(f"{where} could not start: {type(exc).__name__}: {exc}") from exc
    if not callable(getattr(provider, "history", None)):
        raise PluginError(f"{where} has no history(symbols, start, end) method")
    return _Guarded(provider, name, where)


class _Guarded:
    """A plugin feed whose failures are a price problem, as Yahoo's are: the run falls
    back to the cache and the Prices sheet with a warning, not a traceback."""

    def __init__(self, provider: Any, name: str, where: str) -> None:
        self.provider = provider
        self.name = str(getattr(provider, "name", "") or name)
        self.where = where

    def history(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> FetchResult:
        from .prices.base import FetchResult

        try:
            result = self.provider.history(list(symbols), start, end)
        except PriceError:
            raise
        except Exception as exc:
            # A feed that raises is broken for this run, not for one window of dates:
            # said once, as an unreachable Yahoo is, and not asked again.
            raise FeedUnreachable(
                f"{self.where} failed: {type(exc).__name__}: {exc}; "
                "using the cache, the Prices sheet and files"
            ) from exc
        if not isinstance(result, FetchResult):
            raise PriceError(f"{self.where} returned {type(result).__name__}, not a FetchResult")
        return result
