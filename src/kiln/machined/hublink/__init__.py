"""The machine's side of Kiln Hub: join with a URL and a token, then keep one connection.

::

    link = HubLink(url, token, state_dir / "hub", facts, api_address=("127.0.0.1", 50000))
    await link.run()      # joins once, connects, reconnects with backoff, until cancelled

Container mode starts it from ``--hub-join FILE`` or the config's HubJoinConfig document; the
metal platform calls it with the kernel arguments' ``kiln.hub`` and ``kiln.join_token``.
Nothing connects in to the machine: the hub reaches the machine's API through this
connection (:mod:`~kiln.machined.hublink.bridge`).
"""

from kiln.machined.hublink.link import FactsSource, HubLink

__all__ = ["FactsSource", "HubLink"]
