"""Export: SavedModels that TF Serving serves from raw text."""
