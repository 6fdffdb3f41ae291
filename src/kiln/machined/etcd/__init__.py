"""The etcd domain of the node daemon: certificates, the member's command line and service,
a client of etcd's gRPC API, and the procedures by which a node's member joins and leaves a cluster.

The real etcd programs run it (see :mod:`kiln.machined.etcd.binaries`); nothing here knows
about the machine API or the CLI. Errors are drawn in :mod:`kiln.machined.etcd.errors`.

::

    binaries = EtcdBinaries.find()
    certs = ensure_etcd_certificates(etcd_ca, "cp-1", ["10.0.0.11"], "/system/secrets/etcd")
    member = EtcdMemberConfig("cp-1", Path("/var/lib/etcd"), "10.0.0.11", certs,
                              listen_address="0.0.0.0", extra_args=config.extra_args)
    runner = SupervisedEtcd(supervisor, binaries)

    await bootstrap_new_cluster(member, runner)                 # first node, once
    cluster = EtcdClient(["https://10.0.0.11:2379"], certs.client_tls())
    await join_existing_cluster(cluster, member_2, runner_2)    # other nodes (idempotent)
    await leave_cluster(cluster, member_2, runner_2)            # reset, gracefully

    async with contextlib.aclosing(snapshot(cluster)) as chunks:
        async for chunk in chunks: ...
    await recover_from_snapshot(path, member, runner, etcdutl=binaries.etcdutl)
"""

from kiln.machined.etcd.binaries import BIN_DIR_ENV, EtcdBinaries
from kiln.machined.etcd.certs import (
    CLIENT_COMMON_NAME,
    EtcdCertificates,
    EtcdCertPaths,
    ensure_etcd_certificates,
    issue_etcd_certificates,
)
from kiln.machined.etcd.client import EtcdClient
from kiln.machined.etcd.config import (
    CLIENT_PORT,
    FORBIDDEN_FLAGS,
    MANAGED_FLAGS,
    PEER_PORT,
    ClusterState,
    EtcdMemberConfig,
    validate_extra_args,
)
from kiln.machined.etcd.datadir import has_data, wipe_data_dir
from kiln.machined.etcd.errors import (
    EtcdBinaryNotFoundError,
    EtcdCertificateError,
    EtcdCommandError,
    EtcdConfigError,
    EtcdError,
    EtcdLearnerNotReadyError,
    EtcdMemberIdTakenError,
    EtcdMemberNotFoundError,
    EtcdServiceError,
    EtcdStateError,
    EtcdTooManyLearnersError,
    EtcdUnavailableError,
    EtcdUnreachableError,
)
from kiln.machined.etcd.lifecycle import (
    bootstrap_new_cluster,
    forfeit_leadership,
    join_existing_cluster,
    leave_cluster,
    remove_dead_member,
    start_member,
)
from kiln.machined.etcd.probe import member_status_probe
from kiln.machined.etcd.reports import (
    EndpointHealth,
    EndpointStatus,
    Member,
    MemberAdded,
    hex_id,
    parse_member_id,
)
from kiln.machined.etcd.service import (
    SERVICE_NAME,
    EtcdRunner,
    SupervisedEtcd,
    etcd_service_spec,
)
from kiln.machined.etcd.snapshots import recover_from_snapshot, restore_snapshot, snapshot
from kiln.machined.etcd.tls import EtcdClientTLS

__all__ = [
    "BIN_DIR_ENV",
    "CLIENT_COMMON_NAME",
    "CLIENT_PORT",
    "FORBIDDEN_FLAGS",
    "MANAGED_FLAGS",
    "PEER_PORT",
    "SERVICE_NAME",
    "ClusterState",
    "EndpointHealth",
    "EndpointStatus",
    "EtcdBinaries",
    "EtcdBinaryNotFoundError",
    "EtcdCertPaths",
    "EtcdCertificateError",
    "EtcdCertificates",
    "EtcdClient",
    "EtcdClientTLS",
    "EtcdCommandError",
    "EtcdConfigError",
    "EtcdError",
    "EtcdLearnerNotReadyError",
    "EtcdMemberConfig",
    "EtcdMemberIdTakenError",
    "EtcdMemberNotFoundError",
    "EtcdRunner",
    "EtcdServiceError",
    "EtcdStateError",
    "EtcdTooManyLearnersError",
    "EtcdUnavailableError",
    "EtcdUnreachableError",
    "Member",
    "MemberAdded",
    "SupervisedEtcd",
    "bootstrap_new_cluster",
    "ensure_etcd_certificates",
    "etcd_service_spec",
    "forfeit_leadership",
    "has_data",
    "hex_id",
    "issue_etcd_certificates",
    "join_existing_cluster",
    "leave_cluster",
    "member_status_probe",
    "parse_member_id",
    "recover_from_snapshot",
    "remove_dead_member",
    "restore_snapshot",
    "snapshot",
    "start_member",
    "validate_extra_args",
    "wipe_data_dir",
]
