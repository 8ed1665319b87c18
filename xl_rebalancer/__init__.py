"""xl-rebalancer: tax-aware portfolio rebalancing for Excel workbooks."""

__version__ = "0.1.0"
