"""Metrics: saliency maps (under named profiles), head-movement forecasts and scanpaths."""
