"""Models: load a BERT-family backbone and tokenizer, and put a task head on it."""
