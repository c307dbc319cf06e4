"""The `dialer` command line: thin commands over the modules of the package."""
