"""Remote policies: an openpi-protocol policy server as a backend (`backend: remote`). See the README."""
