"""`python -m dialer` runs the command line."""

from dialer.cli.main import main

main()
