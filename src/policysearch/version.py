"""The library version, in one place: the package, the CLI, the server and every manifest report it."""

__version__ = "0.1.0"
