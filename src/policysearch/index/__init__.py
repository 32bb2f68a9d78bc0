"""What an index is made of: rankings, the BM25 matrix, embedding models and their vectors, the on-
disk versions and the Milvus collection."""
