"""The small client config file: where the hub is, the certificate it serves (pinned) and,
optionally, an API key. ``kiln-hub serve`` writes one without a key (``DATA/client.yaml``);
the admin may add ``apiKey`` to their copy. Flags and ``KILN_HUB*`` variables override it.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kiln.hub.errors import InvalidRequestError
from kiln.machinery.privatefile import write_private_file

FILE_NAME = "client.yaml"


class ClientConfig(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    hub: str = Field(description="HOST:PORT of the hub's API")
    ca: str = Field(description="PEM of the certificate the hub serves")
    api_key: str = Field(default="", alias="apiKey")


def write_client_config(path: Path, config: ClientConfig) -> None:
    data = config.model_dump(by_alias=True, exclude_defaults=True)
    write_private_file(path, yaml.safe_dump(data, sort_keys=False))


def read_client_config(path: Path) -> ClientConfig:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise InvalidRequestError(
            f"{path}: cannot read the client config: {exc.strerror}"
        ) from None
    except yaml.YAMLError as exc:
        raise InvalidRequestError(f"{path}: not valid YAML: {exc}") from None
    try:
        return ClientConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "document"
        raise InvalidRequestError(f"{path}: {where}: {first['msg']}") from None
