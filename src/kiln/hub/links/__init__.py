"""Machines' connections to the hub: joining, the one connection per machine, and the byte
streams the hub tunnels through it to the machine's own API."""
