"""Checked-in example configuration files (YAML), shipped with the package."""
