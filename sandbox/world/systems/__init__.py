"""One module per vendor, each turning persons and the catalogue into that vendor's native payloads."""
