"""pexbot: a headless WebRTC endpoint for Pexip Infinity."""
