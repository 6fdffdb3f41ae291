"""``kiln-hub`` client commands: parse, call the hub, render."""
