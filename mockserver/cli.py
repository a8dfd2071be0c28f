"""``soc-mock``: serve the mock, generate fixtures, list the keys and the faults.

Options override ``SOCMOCK_*`` environment variables, which override the defaults (see
:mod:`mockserver.config`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from mockserver.clock import format_duration
from mockserver.config import DEFAULT_HOST, DEFAULT_PORT, MockConfig
from mockserver.errors import ConfigError, MockServerError
from mockserver.serving import DEFAULT_THREADS

_CONFIG_OPTIONS = (
    click.option(
        "--fixtures",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="IOC dataset (default: the committed fixtures). Env: SOCMOCK_FIXTURES.",
    ),
    click.option(
        "--keys",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Extra API keys file, added to the demo keys. Env: SOCMOCK_KEYS.",
    ),
)


class Refused(click.ClickException):
    """Bad input: one line on standard error, exit 2 (the project's usage-error code)."""

    exit_code = 2


def _config(**options: Any) -> MockConfig:
    try:
        return MockConfig.from_sources(options, os.environ)
    except MockServerError as exc:
        raise Refused(str(exc)) from exc


def _extras(config: MockConfig) -> list[str]:
    """Lines saying which test features (faults, moving clock) this server has on."""
    lines = []
    if config.faults.enabled:
        named = ", ".join(str(spec) for spec in config.faults.specs) or "none"
        lines.append(f"Faults on (seed {config.faults.seed}): {named}; X-Mock-Fault accepted.")
    if config.clock_moves:
        step = (
            f", +{format_duration(config.clock_step)} after each Sigma answer"
            if config.clock_step
            else ""
        )
        lines.append(f"Moving clock{step}: GET/POST /_admin/clock (loopback only).")
    return lines


def banner(base_url: str, keys: list[tuple[str, str, str]]) -> str:
    """The text ``serve`` prints: where the mock listens, its demo keys, and how to use it."""
    lines = [f"SOC Defenders mock API on {base_url}", "", "Demo API keys:"]
    lines += [f"  {secret:<24} {tier:<5} {status}" for secret, tier, status in keys]
    lines += [
        "",
        "Fetch rules and compile them for Splunk:",
        "  curl -fsS -H 'Authorization: Bearer sk_live_demo_pro' \\",
        f"    '{base_url}/api/v1/iocs/sigma?type=ipv4&confidence=high&limit=10' -o rules.yml",
        "  sigma convert -t splunk -p sysmon rules.yml",
        "",
        "Press Ctrl+C to stop.",
    ]
    return "\n".join(lines)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Offline mock of the SOC Defenders Sigma rules API."""


@main.command()
@click.option(
    "--host", default=None, help=f"Interface to bind [{DEFAULT_HOST}]. Env: SOCMOCK_HOST."
)
@click.option(
    "--port",
    type=int,
    default=None,
    help=f"Port [{DEFAULT_PORT}]; 0 = any free port. Env: SOCMOCK_PORT.",
)
@_CONFIG_OPTIONS[0]
@_CONFIG_OPTIONS[1]
@click.option(
    "--now",
    default=None,
    help="The mock's clock: ISO 8601 instant or 'real' [fixtures' meta.now]. Env: SOCMOCK_NOW.",
)
@click.option(
    "--rate-limit",
    multiple=True,
    help="TIER=LIMITS, e.g. 'pro=1000/minute;1000000/day' (repeatable). Env: SOCMOCK_RATE_LIMIT.",
)
@click.option(
    "--rate-limit-storage",
    default=None,
    help="limits storage URI [memory://], e.g. redis://host:6379. Env: SOCMOCK_RATE_LIMIT_STORAGE.",
)
@click.option(
    "--fault",
    multiple=True,
    metavar="NAME[:ARG...]",
    help="Inject a fault (repeatable; see `soc-mock faults`), e.g. 503:0.3, latency:200ms, "
    "truncate:max=1. Env: SOCMOCK_FAULTS (comma-separated).",
)
@click.option(
    "--faults/--no-faults",
    "faults_enabled",
    default=None,
    help="Allow X-Mock-Fault from loopback clients [on when --fault is given]. "
    "Env: SOCMOCK_FAULTS_ENABLED.",
)
@click.option(
    "--fault-seed",
    type=int,
    default=None,
    help="Seed of the fault dice [0]. Env: SOCMOCK_FAULT_SEED.",
)
@click.option(
    "--moving-clock",
    is_flag=True,
    default=None,
    help="Let the clock move: POST /_admin/clock (loopback only). Env: SOCMOCK_MOVING_CLOCK.",
)
@click.option(
    "--clock-step",
    default=None,
    metavar="DURATION",
    help="Advance the clock by DURATION (e.g. 1d, 6h) after each Sigma answer; implies "
    "--moving-clock. Env: SOCMOCK_CLOCK_STEP.",
)
@click.option(
    "--access-log/--no-access-log",
    default=True,
    help="Log each request to standard error, keys redacted (buffered: flushed every 0.5 s).",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1, max=64),
    default=DEFAULT_THREADS,
    show_default=True,
    help="Python threads answering requests (one process: rate limits stay exact).",
)
@click.option(
    "--dev",
    is_flag=True,
    help="Serve with werkzeug's development server instead (slow; for debugging).",
)
def serve(access_log: bool, threads: int, dev: bool, **options: Any) -> None:
    """Serve the mock API until interrupted (granian; werkzeug with --dev)."""
    from mockserver.app import create_app

    config = _config(**options)
    try:
        app = create_app(config)
    except ConfigError as exc:  # a bad --now, an unreachable rate-limit store, ...
        raise Refused(str(exc)) from exc
    except MockServerError as exc:
        raise click.ClickException(str(exc)) from exc
    keys = [(k.secret, k.tier, k.status) for k in app.extensions["socmock"].keys if k.demo]
    if dev:
        _serve_werkzeug(app, config, keys, access_log=access_log)
        return
    from mockserver.serving import AccessLog, GranianServer, ServerError, wait_for_interrupt

    log = AccessLog(app) if access_log else None
    server = GranianServer(log or app, config.host, config.port, threads=threads)
    try:
        server.start()
    except ServerError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(banner(_base_url(config.host, server.port), keys))
    for line in _extras(config):
        click.echo(line)
    try:
        wait_for_interrupt(server.stop)
    finally:
        if log is not None:
            log.close()
    click.echo("\nStopped.", err=True)


def _base_url(host: str, port: int) -> str:
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def _serve_werkzeug(
    app: Any, config: MockConfig, keys: list[tuple[str, str, str]], *, access_log: bool
) -> None:
    """``--dev``: werkzeug's threaded development server (closes every connection)."""
    from werkzeug.serving import make_server

    from mockserver.liveserver import RedactingRequestHandler, SilentRequestHandler

    handler = RedactingRequestHandler if access_log else SilentRequestHandler
    try:
        server = make_server(config.host, config.port, app, threaded=True, request_handler=handler)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {config.host}:{config.port}: {exc}") from exc
    click.echo(banner(_base_url(config.host, server.server_port), keys))
    for line in _extras(config):
        click.echo(line)
    click.echo("Development server (werkzeug): for debugging, not for load.")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("\nStopped.", err=True)
    finally:
        server.server_close()


@main.command()
@click.option("--seed", type=int, required=True, help="Seed of the generator.")
@click.option("--count", type=click.IntRange(min=0), required=True, help="Number of IOCs.")
@click.option(
    "--now",
    default=None,
    help="Reference instant (ISO 8601) [2026-11-01T00:00:00Z]; IOCs fall in the 365 days before.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True),
    default="-",
    help="Output file, '-' for standard output.",
)
def generate(seed: int, count: int, now: str | None, output: str) -> None:
    """Write a deterministic IOC dataset: same seed and count, same bytes."""
    from mockserver.clock import FixedClock, parse_clock
    from mockserver.fixtures import dump_dataset
    from mockserver.generate import REFERENCE_NOW, generate_meta, generate_records

    clock = parse_clock(now, REFERENCE_NOW) if now else FixedClock(REFERENCE_NOW)
    if not isinstance(clock, FixedClock):
        raise click.UsageError("--now must be a fixed ISO 8601 instant for a reproducible dataset")
    text = dump_dataset(
        generate_meta(seed, count, clock.instant), generate_records(seed, count, clock.instant)
    )
    if output == "-":
        sys.stdout.write(text)
    else:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_bytes(text.encode("utf-8"))  # bytes: no newline translation
        click.echo(f"wrote {count} IOCs to {output}", err=True)


@main.command()
@_CONFIG_OPTIONS[1]
@click.option("--show-secrets", is_flag=True, help="Show configured (non-demo) keys in full.")
def keys(show_secrets: bool, **options: Any) -> None:
    """List the API keys the mock accepts (demo keys in full, others redacted)."""
    from mockserver.auth import KeyRing
    from mockserver.fixtures import load_key_records

    config = _config(**options)
    try:
        records = list(load_key_records())
        if config.keys is not None:
            records += load_key_records(config.keys)
        ring = KeyRing.from_records(records, tiers=[t.name for t in config.tiers])
    except MockServerError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{'key':<28} {'tier':<5} status")
    for key in ring:
        shown = key.secret if key.demo or show_secrets else key.redacted
        click.echo(f"{shown:<28} {key.tier:<5} {key.status}")


@main.command()
def faults() -> None:
    """List the faults --fault and X-Mock-Fault accept, one line each."""
    from mockserver.faults import describe_faults

    for line in describe_faults():
        click.echo(line)
