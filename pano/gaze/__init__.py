"""Appearance-based gaze: data normalisation (:mod:`pano.gaze.normalize`)."""
