"""Canalis canonical model: schema, store, declarative mappings, normalisation and identity."""
