from __future__ import annotations

import pytest

from amikit.sim.config import ConfigError, load_config, read_conf
from amikit.sim.perms import ALL, CALL, ORIGINATE, REPORTING, parse_perms, privilege


def test_defaults_are_the_lab_configuration():
    config = load_config()
    assert {n: (u.read, u.write) for n, u in config.users.items()} == {
        "hello": (ALL, ALL), "limited": (CALL, ORIGINATE),
        "reporter": (REPORTING | CALL, REPORTING)}
    assert config.httptimeout == 60 and config.timestampevents
    assert (config.bindaddr, config.bindport, config.prefix) == ("127.0.0.1", 8088, "")
    assert set(config.endpoints) == {"SOFTPHONE_A", "SOFTPHONE_B"}
    assert config.default_password_in_use
    assert "world" not in repr(config.users["hello"]), "the secret stays out of the repr"


def test_a_config_directory_replaces_files_one_by_one(tmp_path):
    (tmp_path / "manager.conf").write_text(
        "[general]\nenabled=yes\nwebenabled=yes\nhttptimeout=30\n[admin]\nsecret=s3cret\n"
        "read=call,cdr\nwrite=all\n")
    (tmp_path / "http.conf").write_text("[general]\nenabled=yes\nbindport=8090\nprefix=asterisk\n")
    (tmp_path / "pjsip.conf").write_text(
        "[endpoint-tmpl](!)\ntype=endpoint\ncontext=sets\n[ALICE](endpoint-tmpl)\n[bob-aor]\ntype=aor\n")
    (tmp_path / "sim.conf").write_text("[ALICE]\nbehaviour=busy\n")
    config = load_config(tmp_path)
    assert list(config.users) == ["admin"] and config.httptimeout == 30
    assert not config.default_password_in_use
    assert (config.bindport, config.prefix) == (8090, "/asterisk")
    assert list(config.endpoints) == ["ALICE"]
    assert config.endpoints["ALICE"].behaviour == "busy"
    assert config.endpoints["ALICE"].context == "sets"
    assert any(s.name == "sets" for s in config.extensions), "extensions.conf from the defaults"


@pytest.mark.parametrize(("name", "text", "where"), [
    ("manager.conf", "[general]\nenabled yes\n", "manager.conf:2"),
    ("manager.conf", "[hello]\nread=all\n", "manager.conf:1"),
    ("manager.conf", "[hello]\nsecret=x\nread=calls\n", "manager.conf:1"),
    ("manager.conf", "secret=x\n", "manager.conf:1"),
    ("extensions.conf", "[sets]\nexten => 1,1,NoOp()\nswitch => foo\n", "extensions.conf:3"),
    ("extensions.conf", "[sets]\n same => n,NoOp()\n", "extensions.conf:2"),
    ("extensions.conf", "[sets]\nexten => 1,first,NoOp()\n", "extensions.conf:2"),
    ("sim.conf", "[SOFTPHONE_A]\nbehaviour=explode\n", "sim.conf:1"),
    ("http.conf", "[general]\nbindport=eighty\n", "http.conf:2"),
    ("pjsip.conf", "[a](nosuchtemplate)\n", "pjsip.conf:1"),
])
def test_errors_name_the_file_and_line(tmp_path, name, text, where):
    (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError, match=where.replace(".", r"\.")):
        from amikit.sim import Simulator
        Simulator(port=0, config=tmp_path)


def test_comments_and_escaped_semicolons():
    (section,) = read_conf("[x] ; a comment\nkey = a\\;b ; trailing\n")
    assert section.items == [("key", "a;b", 2)]


def test_missing_directory():
    with pytest.raises(ConfigError, match="no such"):
        load_config("/nonexistent/amikit")


def test_perms():
    assert parse_perms("call,originate") == CALL | ORIGINATE
    assert parse_perms("all") == ALL and parse_perms("") == 0
    assert privilege(CALL) == "call,all" and privilege(0) == "all"
    with pytest.raises(ValueError):
        parse_perms("Call")  # case-sensitive, as in Asterisk


def test_manager_conf_tcp_settings(tmp_path):
    default = load_config()
    assert (default.manager_enabled, default.tcp_bindaddr, default.tcp_port) == (True, "127.0.0.1", 5038)
    assert (default.authtimeout, default.authlimit) == (30.0, 50)  # Asterisk's own defaults
    (tmp_path / "manager.conf").write_text(
        "[general]\nenabled = no\nport = 15038\nbindaddr = 127.0.0.2\nauthtimeout = 5\n"
        "authlimit = 3\n[hello]\nsecret = other\nread = all\nwrite = all\n")
    mine = load_config(tmp_path)
    assert (mine.manager_enabled, mine.tcp_bindaddr, mine.tcp_port) == (False, "127.0.0.2", 15038)
    assert (mine.authtimeout, mine.authlimit, mine.webenabled) == (5.0, 3, False)


@pytest.mark.parametrize("text, expected", [
    ("authtimeout = 5.9\nauthlimit = 3 connections", (5, 3)),  # atoi: the leading digits
    ("authtimeout = 0\nauthlimit = 0", (30, 50)),  # below 1: warned, the default kept
    ("authtimeout = -4\nauthlimit = many", (30, 50)),
])
def test_authtimeout_and_authlimit_read_as_init_manager_does(tmp_path, caplog, text, expected):
    """__init_manager: atoi, and a value below 1 is 'Invalid ... using default value' (so
    authlimit = 0 cannot refuse every connection)."""
    (tmp_path / "manager.conf").write_text(
        f"[general]\n{text}\n[hello]\nsecret = other\nread = all\nwrite = all\n")
    config = load_config(tmp_path)
    assert (config.authtimeout, config.authlimit) == expected
    assert ("invalid auth" in caplog.text) == (expected == (30, 50))


def test_writetimeout_is_a_user_setting_of_at_least_100_ms(tmp_path, caplog):
    """__init_manager reads writetimeout in a user's section: atoi, below 100 warned and
    the default 100 kept."""
    assert load_config().users["hello"].writetimeout == 100
    (tmp_path / "manager.conf").write_text(
        "[general]\n[slow]\nsecret = a\nwritetimeout = 2500\n"
        "[hasty]\nsecret = b\nwritetimeout = 50\n")
    users = load_config(tmp_path).users
    assert (users["slow"].writetimeout, users["hasty"].writetimeout) == (2500, 100)
    assert "invalid writetimeout value '50' for [hasty]" in caplog.text
