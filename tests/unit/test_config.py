"""The settings tree: rabt.toml under the environment, secrets by reference, bad values named."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import OutboundSettings, Settings, load_settings
from hub.errors import ConfigError
from simulators.licensing.config import LicensingConfig

TOML = """
home = "/srv/rabt"
broker_url_file = "{secret}"
public_url = "https://hub.example.gov/"
trusted_proxy_hops = 1
access_file = "/etc/rabt/access.toml"

[xml_limits]
max_depth = 32

[gateway]
port = 9000
processes = 4
idle_timeout = 5

[console]
secret_key_file = "{secret}"
users_file = "/etc/rabt/users.toml"

[outbound]
attempts = 5

[outbound.endpoints]
RABT_POLICE_CIVIL_REGISTRY_URL = "https://police.example/civil"

[licensing]
income_threshold = "700.000"
"""


@pytest.fixture
def config_file(tmp_path) -> Path:
    secret = tmp_path / "secret"
    secret.write_text("amqp://rabt:hunter2@mq/\n", encoding="utf-8")
    path = tmp_path / "rabt.toml"
    path.write_text(TOML.format(secret=secret), encoding="utf-8")
    return path


def test_every_group_is_read_from_the_file(config_file):
    settings = load_settings({"RABT_CONFIG": str(config_file)})
    assert settings.home == Path("/srv/rabt") and settings.config_file == config_file
    assert settings.broker_url == "amqp://rabt:hunter2@mq/"  # by reference, trailing newline dropped
    assert (settings.public_url, settings.trusted_proxy_hops) == ("https://hub.example.gov", 1)
    assert settings.access_file == Path("/etc/rabt/access.toml")
    assert settings.xml_limits.max_depth == 32 and settings.xml_limits.max_bytes == 10 * 1024 * 1024
    assert (settings.gateway.port, settings.gateway.processes, settings.gateway.idle_timeout) == (9000, 4, 5.0)
    assert settings.console.secret_key == "amqp://rabt:hunter2@mq/"
    assert settings.console_users_file == Path("/etc/rabt/users.toml")
    assert settings.outbound.attempts == 5
    assert settings.outbound.endpoints == {"RABT_POLICE_CIVIL_REGISTRY_URL": "https://police.example/civil"}


def test_the_environment_wins_over_the_file(config_file, tmp_path):
    secret = tmp_path / "console-secret"
    secret.write_text("from-env-file", encoding="utf-8")
    settings = load_settings({"RABT_CONFIG": str(config_file), "RABT_HOME": "/other", "RABT_GATEWAY_PORT": "8100",
                              "RABT_OUTBOUND_ATTEMPTS": "2", "RABT_CONSOLE_SECRET_FILE": str(secret),
                              "RABT_POLICE_CIVIL_REGISTRY_URL": "http://sim/civil"})
    assert (settings.home, settings.gateway.port, settings.outbound.attempts) == (Path("/other"), 8100, 2)
    assert settings.gateway.processes == 4  # what the environment does not name still comes from the file
    assert settings.console.secret_key == "from-env-file"
    assert settings.outbound.endpoints["RABT_POLICE_CIVIL_REGISTRY_URL"] == "http://sim/civil"


def test_without_a_file_the_defaults_hold_and_a_local_rabt_toml_is_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_settings({}) == Settings()
    (tmp_path / "rabt.toml").write_text('home = "state"\n', encoding="utf-8")
    assert load_settings({}).home == Path("state")


def test_secrets_stay_out_of_repr(config_file):
    shown = repr(load_settings({"RABT_CONFIG": str(config_file), "RABT_DATABASE_URL": "postgresql://u:pw9@db/x"}))
    assert "hunter2" not in shown and "pw9" not in shown and "9000" in shown


@pytest.mark.parametrize("env, named", [
    ({"RABT_GATEWAY_PORT": "eighty"}, "RABT_GATEWAY_PORT"),
    ({"RABT_XML_MAX_BYTES": "1e3x"}, "RABT_XML_MAX_BYTES"),
    ({"RABT_OUTBOUND_ATTEMPTS": "0"}, "attempts >= 1"),
    ({"RABT_CONFIG": "/nonexistent/rabt.toml"}, "RABT_CONFIG names /nonexistent/rabt.toml"),
    ({"RABT_CONSOLE_SECRET_FILE": "/nonexistent/secret"}, "cannot read secret file /nonexistent/secret"),
])
def test_a_bad_value_is_a_config_error_naming_it(env, named):
    with pytest.raises(ConfigError, match=named):
        load_settings(env)


@pytest.mark.parametrize("text, named", [
    ("home = [", "cannot read settings file"),
    ("[gateway]\nport = \"x\"\n", "gateway.port must be int"),
    ("[gateway]\nport = true\n", "gateway.port must be a number"),
    ("gateway = 3\n", r"\[gateway\] must be a table"),
    ("public_url = 1\n", "public_url must be a string"),
])
def test_a_bad_file_is_a_config_error_naming_the_key(tmp_path, text, named):
    path = tmp_path / "rabt.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=named):
        load_settings({"RABT_CONFIG": str(path)})


def test_outbound_settings_for_adapters_keep_only_their_endpoints():
    class Service:
        endpoint_setting = "RABT_POLICE_CIVIL_REGISTRY_URL"

    class Police:
        outbound = (Service(),)

    settings = OutboundSettings.from_env([Police()], {"RABT_POLICE_CIVIL_REGISTRY_URL": "http://a",
                                                      "RABT_COMMERCE_REGISTRY_URL": "http://b"})
    assert settings.endpoints == {"RABT_POLICE_CIVIL_REGISTRY_URL": "http://a"}


def test_licensing_reads_its_table_and_shares_the_hubs_settings(config_file):
    config = LicensingConfig.from_env({"RABT_CONFIG": str(config_file), "RABT_LICENSING_REPLY_TIMEOUT": "4"})
    assert (str(config.policy.income_threshold), config.reply_timeout) == ("700.000", 4.0)
    assert (config.home, config.broker_url) == (Path("/srv/rabt"), "amqp://rabt:hunter2@mq/")


def test_the_tsa_settings_come_from_the_file_and_the_environment_and_anchor_the_log(tmp_path):
    from hub.bootstrap import anchor_policy

    config = tmp_path / "rabt.toml"
    config.write_text('[timestamps]\nurl = "https://tsa.example.gov/"\ncertificate = "/etc/rabt/tsa.pem"\n'
                      'interval = 30\n', encoding="utf-8")
    settings = load_settings({"RABT_CONFIG": str(config), "RABT_TSA_GRACE": "600", "RABT_TSA_MAX_RECORDS": "5000"})
    stamping = settings.timestamps
    assert (stamping.url, stamping.certificate, stamping.interval) == ("https://tsa.example.gov/",
                                                                       Path("/etc/rabt/tsa.pem"), 30.0)
    assert (stamping.grace, stamping.max_records, stamping.timeout) == (600.0, 5000, 10.0)
    assert settings.outbound.endpoints == {}  # RABT_TSA_URL is the hub's own, not an agency endpoint
    policy = anchor_policy(settings)
    assert (policy.every_seconds, policy.every_records) == (30.0, 5000)
    assert load_settings({}).timestamps.url == ""


@pytest.mark.parametrize("env, message", [
    ({"RABT_TSA_URL": "http://127.0.0.1:1/"}, "RABT_TSA_CERTIFICATE"),
    ({"RABT_TSA_INTERVAL": "0"}, "interval > 0"),
    ({"RABT_TSA_MAX_RECORDS": "many"}, "RABT_TSA_MAX_RECORDS must be int"),
])
def test_bad_tsa_settings_are_named(env, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(env)


def test_the_requests_that_may_wait_for_answers_follow_the_threads_unless_set():
    assert load_settings({"RABT_CONFIG": ""}).gateway.waiting_replies == 12  # 3/4 of the default 16 threads
    assert load_settings({"RABT_CONFIG": "", "RABT_GATEWAY_THREADS": "8"}).gateway.waiting_replies == 6
    explicit = {"RABT_CONFIG": "", "RABT_GATEWAY_THREADS": "8", "RABT_GATEWAY_WAITING_REPLIES": "7"}
    assert load_settings(explicit).gateway.waiting_replies == 7


def test_watcher_processes_and_slice_come_from_the_file_or_the_environment(tmp_path):
    path = tmp_path / "rabt.toml"
    path.write_text("[watcher]\nprocesses = 3\nbatch_files = 64\n", encoding="utf-8")
    settings = load_settings({"RABT_CONFIG": str(path)})
    assert (settings.watcher.processes, settings.watcher.batch_files) == (3, 64)
    settings = load_settings({"RABT_CONFIG": str(path), "RABT_WATCHER_PROCESSES": "2"})
    assert (settings.watcher.processes, settings.watcher.batch_files) == (2, 64)
    assert (Settings().watcher.processes, Settings().watcher.batch_files) == (0, 128)  # 0: one per core
    with pytest.raises(ConfigError, match="watcher settings"):
        load_settings({"RABT_WATCHER_BATCH_FILES": "0"})


def test_the_retention_settings_come_from_the_file_and_the_environment(tmp_path):
    config = tmp_path / "rabt.toml"
    config.write_text('[retention]\nfolder = "/srv/evidence"\nperiod = "day"\nkeep_days = 30\n'
                      'encrypt_to = "/etc/rabt/archivist.pem"\n', encoding="utf-8")
    retention = load_settings({"RABT_CONFIG": str(config), "RABT_RETENTION_INTERVAL": "600"}).retention
    assert (retention.folder, retention.period, retention.keep_days) == (Path("/srv/evidence"), "day", 30)
    assert (retention.encrypt_to, retention.interval) == (Path("/etc/rabt/archivist.pem"), 600.0)
    defaults = load_settings({"RABT_CONFIG": ""}).retention
    assert (defaults.folder, defaults.period, defaults.keep_days, defaults.interval) == (None, "month", 90, 3600.0)


@pytest.mark.parametrize("env, message", [
    ({"RABT_RETENTION_PERIOD": "week"}, "retention period 'week'"),
    ({"RABT_RETENTION_KEEP_DAYS": "-1"}, "keep_days >= 0"),
    ({"RABT_RETENTION_KEEP_DAYS": "ninety"}, "RABT_RETENTION_KEEP_DAYS must be int"),
])
def test_bad_retention_settings_are_named(env, message):
    with pytest.raises(ConfigError, match=message):
        load_settings({"RABT_CONFIG": "", **env})
