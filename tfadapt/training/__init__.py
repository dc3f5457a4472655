"""Training: distribution strategy, optimizer and schedule, callbacks, and the run itself."""
