"""The provider boundary: the Call API v4.0 client, its error tree, parameter schemas, simulator."""
