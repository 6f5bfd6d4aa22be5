"""Pipelines (ingest, train-hm, eval, demo) that run on Dask / torch; the CLI calls these."""
