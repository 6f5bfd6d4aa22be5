"""The single source of pano's version (read by setuptools and ``pano --version``)."""

__version__ = "0.1.0"
