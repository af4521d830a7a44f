"""vla_serve: model packages served to a fleet of robots over openpi's websocket protocol, on Ray Serve."""
