"""Evaluation: metrics, the majority-class baseline, and reports people can read."""
