"""The Freshdesk connector, declared entirely in YAML (connector.yaml): contacts, tickets and satisfaction ratings.

The registry loads the declaration next to this file; there is no Python code of the connector's own.
"""
