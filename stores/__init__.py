"""The pano dataset store: chunked, compressed Zarr v3 opened as a labelled xarray tree."""
