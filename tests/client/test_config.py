"""flet.toml loading: where it is found, what it holds, environment overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from carnet.core.config import AppConfig, ConfigError, find_config_file, load_config

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_repo_profile_is_found_from_the_package_and_read() -> None:
    config = load_config({})
    assert config.source == REPO_ROOT / "flet.toml"
    assert config.api_base_url == "http://127.0.0.1:8000"
    assert config.locale == "es-MX"
    assert config.sync_interval_seconds == 300
    assert config.fever_sync_interval_seconds == 20
    assert config.accepted_kids == ()
    assert config.qr_issuer is None
    assert config.api_timeout_seconds > 0


def test_env_overrides_api_url(tmp_path: Path) -> None:
    config = load_config({"CARNET_API_URL": "http://10.0.2.2:9000/"})
    assert config.api_base_url == "http://10.0.2.2:9000"


def test_explicit_profile_wins(tmp_path: Path) -> None:
    path = tmp_path / "other.toml"
    path.write_text('[api]\nbase_url = "https://api.example"\n[app]\nlocale = "en"\n'
                    'sync_interval_seconds = 60\nfever_sync_interval_seconds = 15\n[qr]\n'
                    'issuer = "https://carnet.example"\naccepted_kids = ["k1", "k2"]\n', encoding="utf-8")
    config = load_config({"CARNET_APP_CONFIG": str(path)})
    assert config == AppConfig(api_base_url="https://api.example", locale="en", sync_interval_seconds=60,
                               fever_sync_interval_seconds=15, qr_issuer="https://carnet.example",
                               accepted_kids=("k1", "k2"))
    assert config.source == path


def test_missing_explicit_profile_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_config({"CARNET_APP_CONFIG": str(tmp_path / "nope.toml")})


def test_profile_found_walking_up_then_in_cwd(tmp_path: Path) -> None:
    (tmp_path / "flet.toml").write_text('[app]\nlocale = "en"\n', encoding="utf-8")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_config_file({}, start=deep, cwd=deep) == tmp_path / "flet.toml"

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    isolated = Path("/")  # nothing to find walking up from the file-system root
    assert find_config_file({}, start=isolated, cwd=elsewhere) is None
    assert find_config_file({}, start=isolated, cwd=tmp_path) == tmp_path / "flet.toml"
    assert load_config({}, start=isolated, cwd=elsewhere) == AppConfig()


@pytest.mark.parametrize("body", [
    '[app]\nlocale = "fr"\n',
    '[app]\nsync_interval_seconds = 0\n',
    '[app]\nfever_sync_interval_seconds = 0\n',
    '[api]\nbase_url = "ftp://x"\n',
    '[qr]\naccepted_kids = "k1"\n',
    'not toml at all [',
])
def test_bad_profiles_are_refused(tmp_path: Path, body: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError):
        load_config({"CARNET_APP_CONFIG": str(path)})
