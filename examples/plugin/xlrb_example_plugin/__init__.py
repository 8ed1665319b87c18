"""An example xl-rebalancer plugin (docs/plugins.md): the strategy inverse_volatility
and the price source csv_folder."""
