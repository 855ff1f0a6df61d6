"""LightGBM: a Booster saved with ``save_model`` as its text format, which holds only data."""
