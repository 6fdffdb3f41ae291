"""The root of every error Kiln raises on purpose.

Each layer has one base that derives from :class:`KilnError`::

    KilnError
    ├── kiln.resources.errors.ResourceError      the resource/controller runtime
    ├── kiln.machinery.errors.MachineryError    config, patches, secrets, kilnconfig
    ├── kiln.process.ProcessError                a program could not be run, or failed
    ├── kiln.machined.services.errors.ServiceError   the node daemon's service supervisor
    ├── kiln.machined.errors.MachinedError       the node daemon: its stages, configs, API
    ├── kiln.provision.errors.ProvisionError     local clusters: create, show, destroy
    └── kiln.ctl.errors.CliError                 command-line input the CLI itself rejects

Boundaries (the CLI, the gRPC servers) translate these once; nothing below them prints.
"""


class KilnError(Exception):
    """Base of all deliberate Kiln errors. ``str(err)`` is a one-line, user-facing message."""

    def lines(self) -> list[str]:
        """The error as one or more self-contained lines (several problems, one per line)."""
        return [str(self)]
