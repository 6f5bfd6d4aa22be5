"""The ``pano`` command line (typer). Commands are thin: parse, build a config, call a pipeline."""
