"""all-MiniLM-L6-v2 (sentence-transformers): texts to 384-float unit-length embeddings.

Serve it from this directory: `seldon-core-microservice MyModel --service-type MODEL`.
"""

from pathlib import Path

from wrappers import SentenceTransformerModel


class MyModel(SentenceTransformerModel):
    default_model_dir = Path(__file__).resolve().parent
