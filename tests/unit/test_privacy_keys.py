import pytest

from watchlist_screening.privacy import keys


def test_hex_and_raw_secret_files_load(tmp_path):
    raw = bytes(range(40))
    (tmp_path / "raw.key").write_bytes(raw)
    (tmp_path / "hex.key").write_text(raw.hex() + "\n")
    assert keys.load_secret(tmp_path / "raw.key") == raw
    assert keys.load_secret(tmp_path / "hex.key") == raw


def test_short_secret_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "short.key"
    path.write_text("ab" * 31)
    with pytest.raises(keys.SecretKeyError, match=r"short\.key.*31 bytes.*at least 32"):
        keys.load_secret(path)


def test_missing_secret_file_is_a_clear_error(tmp_path):
    with pytest.raises(keys.SecretKeyError, match="missing.key"):
        keys.load_secret(tmp_path / "missing.key")


def test_fingerprint_tells_keys_apart_and_hides_them(tmp_path):
    a, b = bytes(32), bytes([1]) * 32
    assert keys.fingerprint(a) == keys.fingerprint(a)
    assert keys.fingerprint(a) != keys.fingerprint(b)
    assert len(keys.fingerprint(a)) == 16 and a.hex() not in keys.fingerprint(a)


def test_new_secret_file_is_private_and_never_overwritten(tmp_path):
    path = tmp_path / "new.key"
    assert keys.main(["--new", str(path)]) == 0
    assert path.stat().st_mode & 0o077 == 0
    assert len(keys.load_secret(path)) == 32
    assert keys.main(["--new", str(path)]) == 2


def test_sub_keys_differ_by_purpose():
    secret = bytes(range(32))
    assert keys.derive(secret, "clk") != keys.derive(secret, "face rotation")
