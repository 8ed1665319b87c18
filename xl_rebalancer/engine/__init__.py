"""Pure functions on models and arrays: no files, no clock, no network, no printing."""
