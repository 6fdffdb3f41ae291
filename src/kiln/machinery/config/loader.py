"""Load a machine config from YAML text or a file.

Whatever the input — malformed YAML, hostile YAML, valid YAML of the wrong shape — loading
either returns a valid :class:`MachineConfig` or raises one :class:`ConfigError` holding every
problem found in the file. No other exception escapes.
"""

from __future__ import annotations

from pathlib import Path

from kiln.machinery.config.container import MachineConfig
from kiln.machinery.config.documents import validate_documents
from kiln.machinery.config.yamlparse import MAX_INPUT_BYTES, parse_yaml
from kiln.machinery.errors import ConfigError, ConfigProblem


def load_config(data: str | bytes, source: str = "<config>") -> MachineConfig:
    """Parse and validate a multi-document config; ``source`` names it in error messages."""
    stream = parse_yaml(data)
    valid = validate_documents(stream.documents, source, stream.problems, complete=stream.complete)
    return MachineConfig(valid.machine_config, valid.hub_join, source, valid.labels)


def load_config_file(path: Path | str) -> MachineConfig:
    """Read and load the config at ``path``.

    Raises OSError if the file cannot be read, ConfigError if it is too large or invalid.
    """
    path = Path(path)
    with path.open("rb") as handle:
        data = handle.read(MAX_INPUT_BYTES + 1)  # enough to tell it is too large
    if len(data) > MAX_INPUT_BYTES:
        limit = f"larger than {MAX_INPUT_BYTES // (1024 * 1024)} MiB"
        raise ConfigError(str(path), [ConfigProblem("input", "", limit)])
    return load_config(data, source=str(path))
