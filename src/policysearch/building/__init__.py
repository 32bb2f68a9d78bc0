"""Building and updating an index: load, chunk, tokenize and embed documents into a new version,
published atomically."""
