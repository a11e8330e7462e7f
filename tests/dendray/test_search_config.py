"""The `search:` section of the config and the `dendray search` command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from dendray.cli import build_parser
from dendray.cli import main as cli_main
from dendray.config import Config, ConfigError, load_config


def test_init_writes_a_search_section_and_a_search_shard(tmp_path: Path) -> None:
    path = tmp_path / "dendray.yaml"
    assert cli_main(["init", "--config", str(path)]) == 0
    config = load_config(path)
    assert config.search.languages == ["english"]
    assert config.shard_count("search") == 1


def test_unknown_stemming_language_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="search.languages"):
        Config.from_dict({"search": {"languages": ["english", "elvish"]}})
    assert Config.from_dict({"search": {"languages": ["french"]}}).search.languages == ["french"]


def test_search_rebuild_arguments() -> None:
    args = build_parser().parse_args(["search", "rebuild", "--config", "x.yaml"])
    assert (args.command, args.search_command, args.config, args.ray_address) == (
        "search", "rebuild", "x.yaml", "auto")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["search"])
