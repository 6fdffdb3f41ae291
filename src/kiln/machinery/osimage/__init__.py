"""What the image builder and the node share about an installed Kiln OS disk: its partitions,
the A/B boot entries on the ESP, and checking a signed image manifest."""
