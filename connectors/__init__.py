"""Built-in connectors, one package each (client, streams, settings, default mapping), and the registry."""
