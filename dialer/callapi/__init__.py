"""The provider boundary: the Call API v4.0 client, its error tree and the method schemas."""
