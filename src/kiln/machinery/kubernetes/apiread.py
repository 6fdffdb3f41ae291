"""Reading the Kubernetes API with the credentials of a kubeconfig (client certificate data
embedded, as ``kilnctl kubeconfig`` writes them). Blocking: call it in a thread."""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
from typing import Any

import yaml

from kiln.machinery.kubernetes.kubeconfig import KubeconfigError
from kiln.machinery.sslpair import load_pair

TIMEOUT = 10.0


def _context(kubeconfig: dict[str, Any]) -> tuple[str, ssl.SSLContext]:
    try:
        cluster = kubeconfig["clusters"][0]["cluster"]
        user = kubeconfig["users"][0]["user"]
        ca = base64.b64decode(cluster["certificate-authority-data"]).decode()
        cert = base64.b64decode(user["client-certificate-data"])
        key = base64.b64decode(user["client-key-data"])
        server = str(cluster["server"]).rstrip("/")
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise KubeconfigError(f"the kubeconfig has no certificate credentials ({exc})") from exc
    context = ssl.create_default_context(cadata=ca)
    load_pair(context, cert, key)
    return server, context


def get_json(kubeconfig_text: bytes, path: str) -> Any:
    """``GET path`` of the kubeconfig's server, decoded; :class:`KubeconfigError` on failure."""
    try:
        server, context = _context(yaml.safe_load(kubeconfig_text))
        with urllib.request.urlopen(server + path, timeout=TIMEOUT, context=context) as answer:
            return json.loads(answer.read())
    except (OSError, ssl.SSLError, ValueError, yaml.YAMLError, urllib.error.URLError) as exc:
        raise KubeconfigError(f"GET {path}: {exc}") from exc


def list_nodes(kubeconfig_text: bytes) -> dict[str, Any]:
    found = get_json(kubeconfig_text, "/api/v1/nodes")
    if not isinstance(found, dict):
        raise KubeconfigError("GET /api/v1/nodes: not a list of nodes")
    return found
