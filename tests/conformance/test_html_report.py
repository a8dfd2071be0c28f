"""``--html PATH``: one self-contained page, parsed here (and rendered where chromium is)."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from conformance.cli import main
from conformance.findings import Finding, Reproduction
from conformance.html_report import render_html
from conformance.results import CheckResult, RunResult
from mockserver.app import create_app
from mockserver.liveserver import LiveServer
from tests.conformance.test_report import _run
from tests.keys import PRO_KEY

PRO = PRO_KEY
HOSTILE = "<script>alert('x')</script> & \"quoted\""


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""
    children: list[Element] = field(default_factory=list)

    def iter(self) -> Iterator[Element]:
        yield self
        for child in self.children:
            yield from child.iter()

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


_VOID = {"meta", "br", "link", "img", "input", "hr"}


class Page(HTMLParser):
    """The parsed page as a tree (the stdlib parser, no dependency)."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("root", {})
        self.stack = [self.root]
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(element)
        if tag not in _VOID:
            self.stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        while len(self.stack) > 1:
            if self.stack.pop().tag == tag:
                break

    def handle_data(self, data: str) -> None:
        for element in self.stack:
            element.text += data

    def all(self, tag: str | None = None, cls: str | None = None) -> list[Element]:
        return [
            e
            for e in self.root.iter()
            if (tag is None or e.tag == tag) and (cls is None or cls in e.classes())
        ]

    def by_id(self) -> dict[str, Element]:
        return {e.attrs["id"]: e for e in self.root.iter() if "id" in e.attrs}


def _hostile_run() -> RunResult:
    run = _run()
    first = run.checks[1].findings[0]
    run.checks[1].findings[0] = first.with_reproduction(line=150)
    run.checks.append(
        CheckResult(
            "media_type_is_yaml",
            "server",
            "answers are YAML",
            findings=[
                Finding(
                    "media_type_is_yaml",
                    HOSTILE,
                    received=HOSTILE,
                    reproduction=Reproduction(curl="curl 'http://127.0.0.1:9/x?a=1&b=2'"),
                )
            ],
        )
    )
    run.max_requests, run.requests_made, run.seconds = 600, 42, 12.5
    return run


def test_the_page_has_the_verdict_the_run_and_every_failing_or_warning_check() -> None:
    page = Page(render_html(_hostile_run()))
    ids = page.by_id()
    assert ids["verdict"].text.strip() == "NOT CONFORMANT"
    assert "fail" in ids["verdict"].classes()
    facts = {dt.text: dd.text for dt, dd in zip(page.all("dt"), page.all("dd"), strict=True)}
    assert facts["seed"] == "1234 (repeat with --seed 1234)"
    assert facts["requests"] == "42 of a budget of 600"
    assert facts["time"] == "12.5 s"
    for name in ("id_is_uuid", "detection_value_is_literal_ioc", "media_type_is_yaml"):
        assert f"check-{name}" in ids
    assert "check-rules_compile_on_advisory_targets" in ids  # a warning check
    assert "check-body_is_utf8_yaml" not in ids  # passed: nothing to show
    checks = ids["checks"].text
    assert "no JSON sibling" in checks  # why a check was skipped


def test_findings_carry_their_reproduction_and_documents() -> None:
    page = Page(render_html(_hostile_run()))
    article = page.by_id()["check-detection_value_is_literal_ioc"]
    text = article.text
    assert "document 8 (line 150)" in text
    assert "203.0.113[.]42" in text
    assert "seed 1234" in text
    curls = [e.text for e in article.iter() if "curl" in e.classes()]
    assert curls == ["curl -H 'Authorization: Bearer sk_live_…abcd' "
                     "'http://127.0.0.1:8000/api/v1/iocs/sigma'"]  # fmt: skip
    documents = [e.text for e in article.iter() if "document" in e.classes()]
    assert documents[0].startswith("title: x\nline0: 0\n")


def test_the_matrix_is_a_coloured_grid_whose_failing_cells_link_to_their_findings() -> None:
    page = Page(render_html(_hostile_run()))
    grid = page.all("table", "grid")[0]
    headers = [
        (e.children[-1].text if e.children else "", e.text) for e in grid.iter() if e.tag == "th"
    ]
    assert headers[:3] == [
        ("", "IOC type"),
        ("required", "splunk+sysmonrequired"),
        ("advisory", "kusto+sentinel_asimadvisory"),
    ]
    cells = [e for e in grid.iter() if "cell" in e.classes()]
    assert [(sorted(c.classes()), c.text) for c in cells] == [
        (["cell", "ok"], "3 / 3"),
        (["cell", "warn"], "0 / 3"),
    ]
    links = [e.attrs["href"] for e in cells[1].iter() if e.tag == "a"]
    assert links == ["#target-kusto-sentinel_asim"]
    target = page.by_id()["target-kusto-sentinel_asim"]
    assert target.text == "kusto+sentinel_asim"


def test_everything_is_escaped_and_nothing_is_fetched() -> None:
    text = render_html(_hostile_run())
    page = Page(text)
    assert page.all("script") == []
    assert HOSTILE in page.by_id()["check-media_type_is_yaml"].text  # shown as text
    assert "<script>alert" not in text
    for element in page.root.iter():
        assert element.tag not in {"link", "img", "iframe", "object", "embed"}
        assert "src" not in element.attrs
        assert element.attrs.get("href", "#").startswith("#")
    style = page.all("style")[0].text
    assert "url(" not in style
    assert "@import" not in style


def test_a_conformant_diff_run_says_equivalent() -> None:
    run = RunResult("diff", "A vs B", 5, False, [CheckResult("same", "diff", "d", judged=1)])
    page = Page(render_html(run))
    assert page.by_id()["verdict"].text.strip() == "EQUIVALENT"
    assert "findings" not in page.by_id()


BAD_RULES = """title: ok
id: 7f4e4f27-6d2c-4b8e-9b6a-0c3e8f0b5a11
status: experimental
logsource: {category: dns}
detection: {sel: {query: example.com}, condition: sel}
level: high
---
title: no id
status: experimental
logsource: {category: dns}
detection: {sel: {query: example.org}, condition: sel}
level: high
"""


def test_rules_command_writes_the_page(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(BAD_RULES)
    page_path = tmp_path / "report.html"
    args = ["rules", str(rules), "--check", "required_fields_present", "--html", str(page_path)]
    result = CliRunner().invoke(main, [*args, "-q"])
    assert result.exit_code == 1, result.output
    page = Page(page_path.read_text(encoding="utf-8"))
    assert page.by_id()["verdict"].text.strip() == "NOT CONFORMANT"
    assert "document 2 (line 8)" in page.by_id()["check-required_fields_present"].text


@pytest.fixture(scope="module")
def server_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("html") / "server.html"
    with LiveServer(create_app()) as server:
        args = ["server", "--base-url", server.url, "--api-key", PRO, "--seed", "5"]
        args += ["--check", "missing_key_is_401_missing_api_key", "--check", "id_is_uuid"]
        args += ["--check", "rules_compile_on_required_targets", "--targets", "splunk+sysmon"]
        args += ["--html", str(path), "-q"]
        result = CliRunner().invoke(main, args, env={}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return path


def test_server_command_writes_the_page_without_the_key(server_page: Path) -> None:
    text = server_page.read_text(encoding="utf-8")
    assert PRO not in text
    page = Page(text)
    ids = page.by_id()
    assert ids["verdict"].text.strip() == "CONFORMANT"
    assert "seed 5" in ids["run"].text
    assert "of a budget of 600" in ids["run"].text
    cells = page.all("td", "cell")
    assert cells
    assert all("ok" in e.classes() for e in cells)


def _png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the unfiltered rows of an 8-bit RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, idat, header = 8, b"", b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        chunk = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            idat += chunk
        position += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8
    assert colour in (2, 6)
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + predictor) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, rows


@pytest.mark.slow
def test_chromium_renders_the_page(server_page: Path, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    shot = tmp_path / "shot.png"
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               f"--screenshot={shot}", "--window-size=1000,700", server_page.as_uri()]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    width, height, rows = _png_pixels(shot.read_bytes())
    assert (width, height) == (1000, 700)
    channels = len(rows[0]) // width
    colours = {row[i : i + 3] for row in rows[::4] for i in range(0, len(row), channels * 4)}
    assert len(colours) > 20  # text, the verdict's green, the grid: not a blank page
    assert any(r < 80 and g > 100 and b < 100 for r, g, b in colours)  # the verdict's green
