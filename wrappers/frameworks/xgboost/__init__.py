"""XGBoost: a Booster saved with ``save_model`` (UBJSON or JSON), which holds only data."""
