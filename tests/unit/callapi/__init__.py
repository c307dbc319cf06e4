"""Tests of the Call API boundary: schemas, error mapping, client."""
