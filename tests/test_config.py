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


def test_one_table_maps_hyper_parameter_names_for_sidecars_and_integrations() -> None:
    """An uploaded run's hparams file and a run logged through an integration read a framework's names the
    same way (the sidecar adds the traindoc key beside the foreign one; the integration renames)."""
    from runner.importers.sidecar import with_aliases
    from traindoc._integration import canonical_config
    from traindoc.core.configs import config_key, flatten

    params = {"trainer": {"adam_epsilon": 1e-6, "lr0": 0.01, "momentum": 0.9, "lr_scheduler_type": "cosine"}}
    assert config_key("trainer.adam_epsilon") == "optim.eps" and config_key("unknown") is None
    integrated = canonical_config(params)
    uploaded = with_aliases(flatten(params))
    for key in ("optim.eps", "optim.lr", "optim.momentum", "sched.name"):
        assert integrated[key] == uploaded[key]
    assert uploaded["trainer.adam_epsilon"] == 1e-6  # the foreign key stays beside it on an upload
