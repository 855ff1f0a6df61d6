"""sentence-transformers: a saved SentenceTransformer folder (weights, tokenizer, pooling)
turning texts into embeddings."""
