"""The host side of rotor.iam.discover on a planted tree: the usual places (under a prefix instead of /), the
operator's paths, the hostile cases, and bad input."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.rotor.iam.plugins.module_utils._discover import search as ds

KEY_A = "AKIAAAAAAAAAAAAAAAAA"
KEY_B = "AKIABBBBBBBBBBBBBBB2"
KEY_C = "AKIACCCCCCCCCCCCCCC3"
KEY_D = "AKIADDDDDDDDDDDDDDD4"
KEY_E = "AKIAEEEEEEEEEEEEEEE5"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def write(path, text, mode=0o600):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)
    os.chmod(path, mode)


@pytest.fixture
def tree(tmp_path):
    root = str(tmp_path / "root")
    write(root + "/home/app/.aws/credentials", f"[default]\naws_access_key_id = {KEY_A}\naws_secret_access_key = {SECRET}\n")
    write(root + "/home/app/.aws/config", f"[profile ci]\naws_access_key_id = {KEY_B}\n")
    write(root + "/etc/environment", f"PATH=/usr/bin\nAWS_ACCESS_KEY_ID={KEY_C}\n", 0o644)
    write(root + "/etc/systemd/system/backup.service",
          f"[Service]\nEnvironment=AWS_ACCESS_KEY_ID={KEY_D}\nEnvironmentFile=/etc/backup/aws.env\n", 0o644)
    write(root + "/etc/backup/aws.env", f"AWS_ACCESS_KEY_ID={KEY_E}\n")
    write(root + "/opt/shop/docker-compose.yml", "services:\n  web:\n    env_file: web.env\n", 0o644)
    write(root + "/opt/shop/.env", f"AWS_ACCESS_KEY_ID={KEY_A}\n")
    write(root + "/opt/shop/web.env", f"AWS_ACCESS_KEY_ID={KEY_B}\n")
    return root


def by_key(result):
    return sorted((f["access_key_id"], f["path"].split("/root", 1)[1], f["source"], f["format"]) for f in result["found"])


def test_the_usual_places(tree):
    result = ds.discover([], prefix=tree, home_dirs=["/home/app", "/home/none"])
    assert by_key(result) == [
        (KEY_A, "/home/app/.aws/credentials", "aws_credentials", "aws_credentials"),
        (KEY_A, "/opt/shop/.env", "env_file", "env"),
        (KEY_B, "/home/app/.aws/config", "aws_config", "aws_credentials"),
        (KEY_B, "/opt/shop/web.env", "env_file", "env"),
        (KEY_C, "/etc/environment", "environment", "env"),
        (KEY_D, "/etc/systemd/system/backup.service", "systemd", None),
        (KEY_E, "/etc/backup/aws.env", "env_file", "env"),
    ]
    credentials = next(f for f in result["found"] if f["source"] == "aws_credentials")
    assert (credentials["mode"], credentials["owner"], credentials["secret_variable"], credentials["readable_by_others"]) == (
        "0600", "root", "aws_secret_access_key", False)
    assert SECRET not in json.dumps(result)
    assert result["access_key_ids"] == [KEY_A, KEY_B, KEY_C, KEY_D, KEY_E]


def test_search_limits_the_usual_places(tree):
    result = ds.discover([], search=["environment"], prefix=tree, home_dirs=["/home/app"])
    assert [f["access_key_id"] for f in result["found"]] == [KEY_C]
    assert ds.discover([], search=[], prefix=tree)["found"] == []


def test_hostile_files_are_not_read_and_say_why(tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    other = tmp_path / "shadow"
    other.write_text(f"aws_access_key_id = {KEY_A}\n")
    os.symlink(str(other), str(app / "link"))
    os.mkfifo(str(app / "fifo"))
    (app / "huge").write_text(f"AWS_ACCESS_KEY_ID={KEY_B}\n" + "x" * 2000)
    (app / "hard").write_text(f"AWS_ACCESS_KEY_ID={KEY_C}\n")
    os.link(str(app / "hard"), str(tmp_path / "hard2"))
    (app / "binary").write_bytes(b"\0\1" + KEY_D.encode())
    (app / "swapped.env").write_text(f"AWS_ACCESS_KEY_ID={SECRET}\n")
    (app / "ok.env").write_text(f"AWS_ACCESS_KEY_ID={KEY_E}\n")
    result = ds.discover([str(app)], search=[], max_file_bytes=1000)
    reasons = {os.path.basename(entry["path"]): entry["reason"] for entry in result["not_read"]}
    assert "symbolic link" in reasons["link"]
    assert "FIFO" in reasons["fifo"]
    assert "larger than 1000 bytes" in reasons["huge"]
    assert "hard links" in reasons["hard"]
    assert "binary" in reasons["binary"]
    assert [f["access_key_id"] for f in result["found"]] == [KEY_E]
    assert "swapped" in result["problems"][0]["problem"]
    assert SECRET not in json.dumps(result)


def test_a_link_an_account_owns_is_not_followed_even_when_named(tmp_path):
    target = tmp_path / "target"
    target.write_text(f"aws_access_key_id = {KEY_A}\n")
    link = tmp_path / "credentials"
    os.symlink(str(target), str(link))
    os.lchown(str(link), 1000, 1000)
    result = ds.discover([str(link)], search=[])
    assert result["found"] == []
    assert "owned by" in result["not_read"][0]["reason"] and "could point it at any file" in result["not_read"][0]["reason"]


def test_globs_and_the_same_file_twice(tree):
    result = ds.discover([tree + "/opt/*/*.env", tree + "/opt/shop/web.env"], search=[])
    # A glob's * does not match a leading dot (.env), as in a shell; web.env is reported once.
    assert [f["access_key_id"] for f in result["found"]] == [KEY_B]
    result = ds.discover([tree + "/nothing/*"], search=[])
    assert result["not_read"][0]["reason"] == "the glob matches nothing"


@pytest.mark.parametrize("paths, message", [
    ("/etc/app.env", "got the string"),
    (["etc/app.env"], "is not absolute"),
    (["/"], "whole file system"),
    ([3], "must be a string"),
    ({"a": 1}, "must be a list"),
])
def test_bad_paths_are_named(paths, message):
    with pytest.raises(ds.DiscoverInputError, match=message):
        ds.discover(paths, search=[])


def test_a_glob_or_directory_too_big_is_refused_naming_it(tmp_path):
    for index in range(5):
        (tmp_path / f"f{index}.env").write_text("A=1\n")
    with pytest.raises(ds.DiscoverInputError, match=r"matches more than 3 paths"):
        ds.discover([str(tmp_path) + "/*.env"], search=[], max_glob_matches=3)
    with pytest.raises(ds.DiscoverInputError, match=r"holds more than 3 files"):
        ds.discover([str(tmp_path)], search=[], max_files=3)
    with pytest.raises(ds.DiscoverInputError, match="max_file_bytes must be at most"):
        ds.discover([], search=[], max_file_bytes=1 << 30)
