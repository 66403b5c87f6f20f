"""Config keys: one schema, validated values, errors that name the allowed range."""

from __future__ import annotations

import pytest

from runner.config import ConfigError, RunConfig, coerce, from_flat, parse_assignments, schema


def test_flat_round_trip_is_identity() -> None:
    cfg = RunConfig()
    assert from_flat(cfg.to_flat()) == cfg
    assert cfg.replace({"optim.eps": 0.1}).optim.eps == 0.1


def test_strings_from_the_cli_are_coerced_to_the_key_type() -> None:
    assert parse_assignments(["optim.lr=1e-2", "model.depth=3", "data.shuffle_split=false",
                              "model.head=softmax"]) == {
        "optim.lr": 0.01, "model.depth": 3, "data.shuffle_split": False, "model.head": "softmax"}


@pytest.mark.parametrize(("key", "value", "message"), [
    ("optim.lr", "-1", "allowed range is 1e-08 to 100"),
    ("optim.lr", "nan", "must be a finite number"),
    ("model.depth", "2.5", "expected int"),
    ("model.head", "; rm -rf /", "allowed values are logits, log_softmax, softmax"),
    ("optim.nope", "1", "unknown config key 'optim.nope'"),
    ("data.shuffle_split", "maybe", "expected bool"),
], ids=["below-range", "nan", "not-int", "shell-injection", "unknown-key", "not-bool"])
def test_bad_values_name_what_is_allowed(key: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        coerce(key, value)


def test_assignment_without_equals_is_explained() -> None:
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_assignments(["optim.lr"])


def test_every_key_has_help_and_a_valid_default() -> None:
    for key, field in schema().items():
        assert field.metadata.get("help"), key
        assert coerce(key, field.default) == field.default
