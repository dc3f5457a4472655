"""Serving: raw-text SavedModels that TF Serving serves, written atomically."""
