"""The ways in besides Python: the `policysearch` command, the web page and HTTP API, and the
folder watcher."""
