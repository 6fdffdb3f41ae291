"""What a node keeps in its state directory, by name (one small module: the early start reads
it before the rest of the node loads).

=====================  ======================================================================
``config.yaml``        the config the node boots with (:mod:`~kiln.machined.apply.store`)
``config.staged.yaml`` a config applied in staged mode; it replaces ``config.yaml`` at boot
``maintenance/``       the self-signed maintenance identity (kept through a reset)
``api/``               the API identity of the last configured boot
                       (:mod:`~kiln.machined.api.identity`)
``hub/``               what the node keeps about its hub: its secret, key, certificate (kept
                       through a reset: a reset machine stays the same machine to its hub)
=====================  ======================================================================
"""

from __future__ import annotations

CONFIG_FILE = "config.yaml"
STAGED_FILE = "config.staged.yaml"
MAINTENANCE_DIR = "maintenance"
IDENTITY_DIR = "api"
HUB_DIR = "hub"
