"""The provider boundary: the Call and Data API clients, their shared JSON-RPC transport, the
error tree, the Call API's method schemas and the Data API's filters."""
