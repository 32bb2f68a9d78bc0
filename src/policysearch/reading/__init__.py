"""Reading files: every office format and Chinese encoding into `Document`s, each reader in a
sandboxed worker, plus ready-made corpora."""
