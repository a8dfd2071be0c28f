"""The pytest plugin, tested the way its users meet it: a client project's tests under pytester."""

from __future__ import annotations

from pathlib import Path

import pytest

from mockserver.fixtures import dump_dataset
from mockserver.generate import generate_meta, generate_records

pytest_plugins = ["pytester"]

CLIENT = '''
"""A plain client module, as a user would write it: requests, no knowledge of the mock."""
import requests
import yaml

def fetch_rules(base_url, api_key, **params):
    response = requests.get(
        base_url + "/api/v1/iocs/sigma",
        params=params,
        headers={"Authorization": "Bearer " + api_key},
        timeout=10,
    )
    response.raise_for_status()
    return list(yaml.safe_load_all(response.text))
'''


@pytest.fixture
def project(pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory) -> pytest.Pytester:
    fixtures: Path = tmp_path_factory.mktemp("fixtures") / "iocs.json"
    fixtures.write_text(dump_dataset(generate_meta(9, 120), generate_records(9, 120)))
    pytester.makepyfile(client=CLIENT)
    pytester.makeconftest(
        f"""
        from pathlib import Path
        import pytest
        from mockserver.config import MockConfig

        @pytest.fixture
        def socdefenders_config():
            return MockConfig(fixtures=Path({str(fixtures)!r}))
        """
    )
    return pytester


def test_client_tests_pass_in_process_with_no_socket(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_client="""
        import socket
        import pytest
        import client

        @pytest.fixture(autouse=True)
        def no_network(monkeypatch):
            def refuse(*args, **kwargs):
                raise AssertionError("socket used")
            monkeypatch.setattr(socket.socket, "connect", refuse)

        def test_fetch_rules(socdefenders_mock):
            rules = client.fetch_rules(
                "https://socdefenders.ai", socdefenders_mock.pro_key, type="domain", limit=2
            )
            assert len(rules) == 2
            assert all(r["logsource"]["category"] == "dns_query" for r in rules)
            assert socdefenders_mock.requests[0].query == "type=domain&limit=2"

        def test_free_key_is_refused(socdefenders_mock):
            import requests
            with pytest.raises(requests.HTTPError):
                client.fetch_rules("https://socdefenders.ai", socdefenders_mock.free_key)
        """
    )
    result = project.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_the_no_socket_guard_bites(project: pytest.Pytester) -> None:
    # Without the in-process fixture the same client needs a socket, and the guard fails it.
    project.makepyfile(
        test_client="""
        import socket
        import client

        def test_fetch_rules(monkeypatch):
            def refuse(*args, **kwargs):
                raise AssertionError("socket used")
            monkeypatch.setattr(socket.socket, "connect", refuse)
            client.fetch_rules("http://127.0.0.1:9", "sk_live_demo_pro")
        """
    )
    result = project.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)


def test_live_fixture_serves_urllib(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_live="""
        import urllib.request

        def test_urllib_client(socdefenders_live):
            request = urllib.request.Request(
                socdefenders_live.base_url + "/api/v1/iocs?limit=1",
                headers={"X-API-Key": socdefenders_live.pro_key},
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 200
            assert socdefenders_live.requests[0].status == 200
        """
    )
    result = project.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_server_errors_fail_the_test(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_boom="""
        import requests

        def test_view_raises(socdefenders_live):
            def explode():
                raise RuntimeError("planted in the server")
            socdefenders_live.app.add_url_rule("/boom", "boom", explode)
            assert requests.get(socdefenders_live.url("/boom"), timeout=10).status_code == 500
        """
    )
    result = project.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*RuntimeError: planted in the server*"])


def test_faults_fixture_reaches_both_modes(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_faults="""
        import pytest
        import requests
        from mockserver.faults import FaultSettings

        @pytest.fixture
        def socdefenders_faults():
            return FaultSettings.from_options(["503:max=1"])

        def test_in_process(socdefenders_mock):
            url = socdefenders_mock.url("/api/v1/iocs/sigma")
            key = {"X-API-Key": socdefenders_mock.pro_key}
            assert requests.get(url, headers=key).status_code == 503
            assert requests.get(url, headers=key).status_code == 200

        def test_live(socdefenders_live):
            url = socdefenders_live.url("/api/v1/iocs/sigma")
            key = {"X-API-Key": socdefenders_live.pro_key}
            assert requests.get(url, headers=key, timeout=10).status_code == 503
        """
    )
    result = project.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_a_bare_install_gets_one_line_naming_the_testing_extra(project: pytest.Pytester) -> None:
    # A bare install has no `responses`: a None in sys.modules makes importing it fail so.
    project.makepyfile(
        test_bare="""
        import sys
        import pytest

        @pytest.fixture(autouse=True)
        def no_responses(monkeypatch):
            monkeypatch.setitem(sys.modules, "responses", None)

        def test_uses_the_mock(socdefenders_mock):
            pass

        def test_live_needs_no_extra(socdefenders_live):
            assert socdefenders_live.base_url.startswith("http://127.0.0.1:")
        """
    )
    result = project.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=1, errors=1)
    output = result.stdout.str()
    line = (
        "socdefenders_mock: the in-process mock needs the [testing] extra (responses, requests): "
    )
    assert line + "pip install 'socdefenders-mock[testing]'" in output
    assert "ModuleNotFoundError" not in output
    assert "Traceback" not in output
    assert "During handling" not in output
