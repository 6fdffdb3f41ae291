"""``python -m kiln.machined``: the same as ``kiln-machined``."""

from kiln.machined.main import main

main()
