"""``soc-mock``: serve the mock, generate fixtures, list the keys and the faults.

Options override ``SOCMOCK_*`` environment variables, which override the defaults (see
:mod:`mockserver.config`). Bad input (an option, a variable, a fixtures or keys file) is one
line on standard error and exit code 2, whichever way it arrived.

Its length is the command line itself (one click command per verb, each option with its
help); the work each verb does lives in the modules it calls.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from mockserver.clock import format_duration
from mockserver.config import DEFAULT_HOST, DEFAULT_PORT, MockConfig
from mockserver.errors import MockServerError
from mockserver.fixtures import IOCS_FILE
from mockserver.serving import DEFAULT_THREADS


class BadInput(click.ClickException):
    """A usage error told in one line (``Error: ...``), exit code 2."""

    exit_code = 2


# Paths are plain: the loaders say in one line what is wrong with a missing file or a
# directory, the same whether the path came from an option or a SOCMOCK_* variable.
_CONFIG_OPTIONS = (
    click.option(
        "--fixtures",
        type=click.Path(path_type=Path),
        default=None,
        help="IOC dataset (default: the committed fixtures). Env: SOCMOCK_FIXTURES.",
    ),
    click.option(
        "--keys",
        type=click.Path(path_type=Path),
        default=None,
        help="Extra API keys file, added to the demo keys. Env: SOCMOCK_KEYS.",
    ),
)


def _config(**options: Any) -> MockConfig:
    try:
        return MockConfig.from_sources(options, os.environ)
    except MockServerError as exc:
        raise BadInput(str(exc)) from exc


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
    if config.admin_routes:
        lines.append("Request journal: GET/DELETE /_admin/requests (loopback only).")
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
@click.version_option(package_name="socdefenders-mock")
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
    "--admin",
    is_flag=True,
    default=None,
    help="Loopback-only admin routes: the request journal GET/DELETE /_admin/requests "
    "[on with a moving clock]. Env: SOCMOCK_ADMIN.",
)
@click.option(
    "--access-log/--no-access-log",
    default=True,
    help="Log each request to standard error, keys redacted (buffered: flushed every 0.5 s).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1, max=64),
    default=None,
    help="Worker processes [one per CPU but one, 1 to 4; 1 with a moving clock, admin routes "
    "or faults, which keep their state in one process]. Rate limits stay exact: workers share "
    "their counts.",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1, max=64),
    default=DEFAULT_THREADS,
    show_default=True,
    help="Python threads answering requests in each worker.",
)
@click.option(
    "--dev",
    is_flag=True,
    help="Serve with werkzeug's development server instead (slow; for debugging).",
)
@click.option(
    "--replay",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="A `soc-mock record` directory: recorded requests get the recorded answers byte for "
    "byte, others are answered from its iocs.json (unless --fixtures names another file).",
)
@click.option(
    "--replay-only",
    is_flag=True,
    help="With --replay: answer requests that were not recorded with 404 not_recorded.",
)
def serve(
    access_log: bool,
    workers: int | None,
    threads: int,
    dev: bool,
    replay: Path | None,
    replay_only: bool,
    **options: Any,
) -> None:
    """Serve the mock API until interrupted (granian; werkzeug with --dev)."""
    from mockserver.app import create_app
    from mockserver.state import state_of

    if replay_only and replay is None:
        raise click.UsageError("--replay-only needs --replay DIR")
    if replay is not None and options.get("fixtures") is None:
        options["fixtures"] = replay / IOCS_FILE
    config = _config(**options)
    workers = _workers(workers, config, dev=dev)
    replay_lines: list[str] = []
    try:
        app = create_app(config)
        if replay is not None:
            from mockserver.cassette import CASSETTE_FILE
            from mockserver.replay import Replay, install_replay

            recorded = Replay.load(replay / CASSETTE_FILE, only=replay_only)
            install_replay(app, recorded)
            replay_lines.append(recorded.describe())
    except MockServerError as exc:  # a bad --now, an unreachable rate-limit store, ...
        raise BadInput(str(exc)) from exc
    keys = [(k.secret, k.tier, k.status) for k in state_of(app).keys if k.demo]
    if dev:
        _serve_werkzeug(app, config, keys, replay_lines, access_log=access_log)
        return
    if workers > 1:
        _serve_workers(app, config, keys, replay_lines, workers=workers, threads=threads,
                       access_log=access_log)  # fmt: skip
        return
    from mockserver.serving import AccessLog, GranianServer, ServerError, wait_for_interrupt

    log = AccessLog(app) if access_log else None
    server = GranianServer(log or app, config.host, config.port, threads=threads)
    try:
        server.start()
    except ServerError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(banner(_base_url(config.host, server.port), keys))
    for line in _extras(config) + replay_lines:
        click.echo(line)
    try:
        wait_for_interrupt(server.stop)
    finally:
        if log is not None:
            log.close()
    click.echo("\nStopped.", err=True)


def _workers(requested: int | None, config: MockConfig, *, dev: bool) -> int:
    """How many worker processes serve: the one asked for, else :func:`default_workers`.

    Asking for several with something that keeps its state in one process (or with --dev) is
    refused: counting faults or journals per worker would be silently wrong.
    """
    from mockserver.workers import default_workers, single_process_reason

    reason = "--dev" if dev else single_process_reason(config)
    if requested is None:
        return 1 if reason else default_workers()
    if requested > 1 and reason:
        raise click.UsageError(
            f"--workers {requested}: {reason} keeps its state in one process; use --workers 1"
        )
    return requested


def _serve_workers(
    app: Any,
    config: MockConfig,
    keys: list[tuple[str, str, str]],
    replay_lines: list[str],
    *,
    workers: int,
    threads: int,
    access_log: bool,
) -> None:
    """Several worker processes forked from this one (:mod:`mockserver.workers`)."""
    from mockserver.serving import ServerError
    from mockserver.state import state_of
    from mockserver.workers import WorkerPool

    pool = WorkerPool(app, state_of(app).limiter, config.host, config.port, workers=workers,
                      threads=threads, access_log=access_log)  # fmt: skip
    try:
        pool.start()
    except ServerError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(banner(_base_url(config.host, pool.port), keys))
    for line in [*_extras(config), *replay_lines, _shared_counts_line(config, workers)]:
        click.echo(line)
    try:
        pool.serve_until_interrupted()
    except ServerError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("\nStopped.", err=True)


def _shared_counts_line(config: MockConfig, workers: int) -> str:
    where = (
        "one shared file"
        if config.rate_limit_storage.startswith("memory://")
        else "the rate-limit storage"
    )
    return f"{workers} worker processes; rate limits counted across all of them in {where}."


def _base_url(host: str, port: int) -> str:
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def _serve_werkzeug(
    app: Any,
    config: MockConfig,
    keys: list[tuple[str, str, str]],
    replay_lines: list[str],
    *,
    access_log: bool,
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
    for line in _extras(config) + replay_lines:
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

    try:
        clock = parse_clock(now, REFERENCE_NOW) if now else FixedClock(REFERENCE_NOW)
    except MockServerError as exc:
        raise BadInput(str(exc)) from exc
    if not isinstance(clock, FixedClock):
        raise BadInput("--now must be a fixed ISO 8601 instant for a reproducible dataset")
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
    from mockserver.state import load_keys

    config = _config(**options)
    try:
        ring = load_keys(config)
    except MockServerError as exc:
        raise BadInput(str(exc)) from exc
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


@main.command()
@click.option("--upstream", required=True, metavar="URL", help="The feed's root URL.")
@click.option(
    "--api-key",
    metavar="KEY",
    default=None,
    help="A Pro key for the upstream (never written anywhere). Env: SOCDEFENDERS_API_KEY.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory for iocs.json and cassette.yaml.",
)
@click.option("--max-requests", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--timeout", type=click.FloatRange(min=0.1), default=30.0, show_default=True)
@click.option(
    "--max-rate-wait",
    type=click.FloatRange(min=0),
    default=90.0,
    show_default=True,
    help="Longest wait for an X-RateLimit-Reset before stopping.",
)
def record(
    upstream: str,
    api_key: str | None,
    output: Path,
    max_requests: int,
    timeout: float,
    max_rate_wait: float,
) -> None:
    """Record an upstream feed once: its IOCs as fixtures, every answer as a VCR cassette."""
    from mockserver.cassette import strip_key
    from mockserver.recording import RecordLimits
    from mockserver.recording import record as run_record

    if not upstream.startswith(("http://", "https://")):
        raise click.UsageError(f"--upstream {upstream!r} is not an http(s) URL")
    key = api_key or os.environ.get("SOCDEFENDERS_API_KEY")
    if not key:
        raise click.UsageError("no API key: give --api-key or set SOCDEFENDERS_API_KEY")
    limits = RecordLimits(
        max_requests=max_requests,
        read_timeout=timeout,
        deadline=2 * timeout,
        max_rate_wait=max_rate_wait,
    )
    try:
        summary = run_record(upstream, key, output, limits=limits)
    except MockServerError as exc:
        raise click.ClickException(strip_key(str(exc), key)) from None
    click.echo(
        f"recorded {summary.interactions} answers ({summary.requests} requests) to "
        f"{output}/cassette.yaml; {summary.iocs} IOCs (from {summary.dataset_source}) to "
        f"{output}/{IOCS_FILE}"
    )
    for line in summary.skipped[:10]:
        click.echo(f"skipped: {strip_key(line, key)}", err=True)
    if len(summary.skipped) > 10:
        click.echo(f"skipped: … and {len(summary.skipped) - 10} more", err=True)
    if summary.stopped:
        click.echo(f"stopped early: {strip_key(summary.stopped, key)}", err=True)
    click.echo(f"serve it: soc-mock serve --replay {output}")


@main.command("import")
@click.argument("rules", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True),
    default="-",
    help="Fixtures file to write, '-' for standard output.",
)
def import_command(rules: str, output: str) -> None:
    """Derive the IOC dataset from a downloaded rules file (serve it with --fixtures)."""
    from mockserver.fixtures import dump_dataset
    from mockserver.importer import import_rules

    try:
        raw = sys.stdin.buffer.read() if rules == "-" else Path(rules).read_bytes()
        text = raw.decode("utf-8")
    except OSError as exc:
        raise click.UsageError(f"cannot read {rules}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise click.UsageError(f"{rules} is not UTF-8 text") from None
    imported = import_rules(text)
    if not imported.records:
        raise click.ClickException(
            f"{rules}: no rule describes an IOC"
            + (f" ({imported.skipped[0]})" if imported.skipped else "")
        )
    meta = {
        "now": imported.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source": f"imported from {Path(rules).name if rules != '-' else 'standard input'}",
    }
    data = dump_dataset(meta, imported.records)
    if output == "-":
        sys.stdout.write(data)
    else:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_bytes(data.encode("utf-8"))
    click.echo(f"imported {len(imported.records)} IOCs from {rules}", err=True)
    for line in imported.skipped[:10]:
        click.echo(f"skipped {line}", err=True)
    if len(imported.skipped) > 10:
        click.echo(f"skipped … and {len(imported.skipped) - 10} more", err=True)
