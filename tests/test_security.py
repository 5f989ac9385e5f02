"""What the dashboard promises about its exposure: bindings, XSRF, uploads, paths."""

import ipaddress
import tomllib
from pathlib import Path

import pytest

from core.study import Study, StudyConfig

ROOT = Path(__file__).resolve().parents[1]


def test_server_binds_to_localhost_with_xsrf_protection_and_an_upload_limit():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "localhost"
    assert config["server"]["enableXsrfProtection"] is True
    assert config["server"]["maxUploadSize"] == 200
    assert config["browser"]["gatherUsageStats"] is False


def listening_addresses(port: int) -> set[str]:
    """The local addresses of this machine's TCP sockets listening on ``port`` (from
    /proc/net/tcp and tcp6: state 0A is LISTEN)."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                raw = bytes.fromhex(address)
                # the kernel writes each 32-bit word in host (little-endian) order
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, width // 2, 4))
                found.add(str(ipaddress.ip_address(words)))
    return found


def put_upload(url: str) -> tuple[int, str]:
    """A file upload as another site's page would send it: no XSRF token."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"{url}/_stcore/upload_file/some-session/some-file", data=b"x" * 10, method="PUT"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_the_running_server_listens_on_loopback_only_and_refuses_forged_uploads(tmp_path):
    """Against the server `make run` starts (the project's config): it listens on
    loopback only, and an upload without the XSRF token is refused before anything else
    is looked at (with the protection off, the same request reaches the session check)."""
    from bench.browser import Server

    server = Server(tmp_path / "studies.db").start()
    try:
        addresses = listening_addresses(server.port)
        status, body = put_upload(server.url)
    finally:
        server.stop()
    assert addresses, f"nothing listens on port {server.port}"
    assert all(ipaddress.ip_address(a).is_loopback for a in addresses), addresses
    assert status == 403 and "XSRF token missing or invalid" in body, (status, body)


@pytest.mark.parametrize(
    "name", ["../../etc/passwd.npz", "..\\..\\boot.ini.npz", "/abs/path/x.npz", "a b;rm -rf.npz"]
)
def test_uploaded_file_names_never_become_paths(tmp_path, monkeypatch, name):
    monkeypatch.setenv("TUNER_DB", str(tmp_path / "studies.db"))
    from pages.common.data import save_upload

    path = save_upload(name, b"content")
    assert path.parent == tmp_path / "uploads"
    assert path.suffix == ".npz" and "/" not in path.name and ".." not in path.name
    assert path.read_bytes() == b"content"


def test_a_model_path_outside_the_runs_folder_is_never_served(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNER_DB", str(tmp_path / "studies.db"))
    from pages.common.widgets import model_file

    outside = tmp_path.parent / "secret.keras"
    outside.write_bytes(b"x")
    inside = tmp_path / "s" / "model.keras"
    inside.parent.mkdir()
    inside.write_bytes(b"x")

    def study(path):
        return Study(1, StudyConfig(name="s"), "complete", (), 0.0, 0.0, final={"model_path": path})

    assert model_file(study(str(outside))) is None
    assert model_file(study(str(tmp_path / "s" / ".." / ".." / "secret.keras"))) is None
    assert model_file(study(str(inside))) == inside.resolve()


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden", "x" * 65, "", "a\\b"])
def test_study_names_cannot_become_paths_or_download_names_with_separators(name):
    with pytest.raises(ValueError, match="study name"):
        StudyConfig(name=name)
