"""dialer: a campaign dialer batch worker for the UIS / CoMagic Call API v4.0."""

__version__ = "0.1.0"
