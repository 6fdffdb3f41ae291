"""Kiln Hub: the server that manages fleets of Kiln machines, and its client commands.

How it fits together (first slice: identity, joining, the tunnel, the inventory)::

    kiln-hub serve --data DIR
      ├── state: DIR/hub.db or PostgreSQL through the resource runtime (kiln.hub.store),
      │   holding the hub CA too; controllers (kiln.hub.controllers) on the leader only
      ├── API port (TLS, self-signed server certificate that clients pin; API key per call,
      │   role table kiln.hub.auth.permissions, audit log of every mutating call)
      │     HubService (keys, tokens, audit, inventory, relayed machine calls)
      │     HubJoinService.Join (authorized by a join token)
      ├── machine port (mutual TLS, client certificates from the hub CA): one connection
      │   per machine carrying length-prefixed link messages (kiln.machinery.hubjoin.frames)
      └── peer port (gRPC, mutual TLS, replica certificates from the hub CA)
            HubPeerService.Tunnel: other replicas reaching the machines linked here

Joining. A join token reads ``ID.SECRET.PIN``; the pin is the SHA-256 of the certificate the
hub serves, so a machine that knows only a URL and a token (kernel arguments, or a
HubJoinConfig document) fetches the hub's certificate, checks the pin and only then talks.
``Join`` carries the token, the machine's UUID, a secret the machine keeps in its state and
a public key; the hub checks the token, records the hash of the secret on the UUID's first
join (a later join of that UUID with another secret is refused: nobody takes over a
machine's identity) and signs a client certificate for the UUID with the hub CA. The machine
then dials the machine port with that certificate and keeps one connection: Hello (secret
and facts), then facts when they change; either end pings the other when it has heard nothing
for a while (kiln.machinery.hubjoin.keepalive) and drops a connection whose ping goes
unanswered. When the connection ends the machine dials again after a jittered, capped
exponential backoff; a refused certificate makes it join again.
Revoking a machine clears the certificate serial the hub accepts and ends its connection.

Tunnelling. The connection also carries byte streams (frames ``open``/``data``/``close`` per
connection id). To call a machine's API the hub opens a unix socket under ``DIR/run`` for the
duration of the call (kiln.hub.links.tunnel) and points the ordinary machine API client at
it; each connection on that socket becomes a byte stream to the machine, which connects it
to its own API port (kiln.machined.hublink.bridge). gRPC runs TLS end to end through it, so
the machine's own authorization applies: the hub pins the self-signed certificate of a
machine in maintenance mode, and presents a client certificate of the machine's cluster
(MachineCredentials) to a configured one. An idle machine costs the hub its TLS connection,
a handler waiting for the next message, and a few objects: no thread, no listening socket,
no timer of its own (one sweeper pings the machines it has not heard from).

Clusters. ``kiln-hub template sync`` stores a validated template (kiln.hub.templates) as a
Cluster resource; the controllers of kiln.hub.controllers.clusters make its secrets once,
allocate free machines to it (ClusterMachine), drive each through the tunnel (config applied,
etcd bootstrapped on the first control plane, reset when released) recording every step in
ClusterMachineStatus, and keep a ClusterStatus with the health checks of
kiln.machinery.health run through the tunnel. A released machine is held by a finalizer
until it is back in maintenance mode; a deleted Cluster is held the same way until all its
machines are free, then ClusterService destroys it.

Access (kiln.hub.api.machine_proxy, cluster_access). ``kiln-hub kilnconfig CLUSTER`` writes a
kilnctl context naming the hub, an API key and the cluster; the hub serves the machine APIs
on its API port by generic handlers on raw bytes, finds the machines the ``nodes`` metadata
names among the cluster's, checks the key's role against the nodes' own permission table and
relays the call through the machine's link with a client certificate of that role from the
cluster's OS CA; calls a reader could not make are audited. ``kiln-hub kubeconfig CLUSTER``
mints an admin kubeconfig from the cluster's Kubernetes CA (the Kubernetes API is not proxied).

Replicas (kiln.hub.replicas). Processes on one database each write a HubReplica record with a
heartbeat; the one holding the leader lock runs the controllers, clears stale leader marks and
removes replicas silent too long, marking their machines disconnected. A Machine records the
replica holding its link; a call from another replica opens a Tunnel stream to that replica,
which splices it onto the machine's link like one of its own tunnel connections.
"""
