"""Join tokens, API keys and hub-join files: their text, and clear errors for bad input."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from kiln.hub.auth import secrets
from kiln.machinery.config import ConfigError
from kiln.machinery.hubjoin import (
    TokenError,
    certificate_pin,
    load_hub_join,
    parse_join_token,
    write_hub_join,
)
from kiln.machinery.secrets import self_signed_server

PIN = "A" * 43


def test_a_join_token_splits_into_id_secret_and_pin() -> None:
    token = parse_join_token(f"ab12cd34.s3cr-et_x.{PIN}\n")
    assert (token.id, token.secret, token.pin) == ("ab12cd34", "s3cr-et_x", PIN)
    assert token.credential == "ab12cd34.s3cr-et_x"
    assert str(token) == f"ab12cd34.s3cr-et_x.{PIN}"


@pytest.mark.parametrize(
    "text", ["", "a.b", "a.b.c.d", f"a..{PIN}", f"a.b c.{PIN}", "a.b.tooshort"]
)
def test_malformed_join_tokens_are_refused_without_echoing_them(text: str) -> None:
    with pytest.raises(TokenError) as refused:
        parse_join_token(text)
    assert "malformed" in str(refused.value)
    if len(text) > 4:
        assert text.strip() not in str(refused.value)


def test_the_pin_is_the_sha256_of_the_certificate() -> None:
    first = self_signed_server("kiln-hub", timedelta(days=1)).certificate.pem
    second = self_signed_server("kiln-hub", timedelta(days=1)).certificate.pem
    assert len(certificate_pin(first)) == 43
    assert certificate_pin(first) == certificate_pin(first)
    assert certificate_pin(first) != certificate_pin(second)


def test_api_keys_keep_only_a_hash() -> None:
    secret = secrets.new_secret()
    text = secrets.format_api_key("k1", secret)
    assert secrets.split_api_key(text) == ("k1", secret)
    stored = secrets.digest(secret)
    assert secret not in stored
    assert secrets.matches(secret, stored) and not secrets.matches(secret + "x", stored)
    for bad in ("", "khk", "khk..x", "abc.k1.x", "khk.k1"):
        assert secrets.split_api_key(bad) is None


def test_a_hub_join_file_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "hubjoin.yaml"
    write_hub_join(path, "https://hub.example:8443", f"ab12cd34.secret.{PIN}")
    assert path.stat().st_mode & 0o777 == 0o600
    loaded = load_hub_join(path)
    assert loaded.url == "https://hub.example:8443"
    assert loaded.join_token == f"ab12cd34.secret.{PIN}"


def test_a_bad_hub_join_file_names_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "hubjoin.yaml"
    path.write_text("apiVersion: kiln.dev/v1alpha1\nkind: HubJoinConfig\nurl: http://x\n")
    with pytest.raises(ConfigError) as refused:
        load_hub_join(path)
    lines = refused.value.lines()
    assert any("url" in line and "https://" in line for line in lines)
    assert any("joinToken" in line and "required" in line.lower() for line in lines)
    path.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="expected a HubJoinConfig document"):
        load_hub_join(path)
