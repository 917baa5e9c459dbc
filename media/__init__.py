"""Media sources and sinks over aiortc tracks. Knows nothing of Pexip."""
