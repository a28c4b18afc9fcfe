"""The `ai-emissions` command: refresh the dataset, query it, parse cards, estimate footprints."""

from __future__ import annotations

import json
import logging
import os
import sys

import click
import duckdb

from pipelines.lib import warehouse
from pipelines.lib.locking import RefreshRunning, refresh_lock
from pipelines.lib.settings import Paths, ensure_dagster_home


@click.group()
def main() -> None:
    """The open dataset of AI emissions disclosures."""


def _user_error(error) -> str:
    """The exception raised by our code: the direct cause of Dagster's step-execution wrapper."""
    error = error.cause or error
    return error.message.strip() or error.cls_name


@main.command()
@click.option("--verbose", is_flag=True, help="Show Dagster's own log lines.")
@click.option("--offline", is_flag=True, help="Use no network: curated data and stored snapshots only.")
@click.option("--release-version", metavar="VERSION",
              help="Name the release to cut (default: CalVer of today); an existing version is never rewritten.")
def refresh(verbose: bool, offline: bool, release_version: str | None) -> None:
    """Materialize every asset: ingest, extract, normalize, transform, estimate, export."""
    # the options reach the assets as run configuration (the network resource, the release asset)
    run_config: dict = {"ops": {"release": {"config": {"version": release_version}}}}
    if offline:
        run_config["resources"] = {"network": {"config": {"offline": True}}}
    try:
        with refresh_lock(Paths.from_env().home):
            _refresh(verbose, run_config)
    except RefreshRunning as exc:
        raise click.ClickException(str(exc)) from exc


def _refresh(verbose: bool, run_config: dict) -> None:
    ensure_dagster_home()
    if not verbose:
        _quiet_libraries()
    import dagster as dg
    import pyarrow

    from pipelines.definitions import build_definitions
    from pipelines.defs.progress import progress_logger

    # pyarrow's default allocator (jemalloc) keeps freed memory in per-thread arenas: a release of 5,000 cards
    # held ~75 MB more at its peak than with the system allocator, at the same speed (benchmarks/RESULTS.md)
    pyarrow.set_memory_pool(pyarrow.system_memory_pool())

    paths = Paths.from_env()
    try:
        defs = build_definitions(paths)
    except Exception as exc:  # a broken SQL model or curated file: name it, no traceback
        raise click.ClickException(f"cannot load the pipeline: {exc}") from exc
    job = defs.resolve_implicit_global_asset_job_def()
    level = "INFO" if verbose else "CRITICAL"  # failures are summarized below
    loggers = {"console": {"config": {"log_level": level}}}
    if _show_progress():
        graph = defs.resolve_asset_graph()
        groups = {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()}
        loggers["progress"] = {"config": {"groups": groups}}
        job = job.with_logger_defs({**job.loggers, "progress": progress_logger})
        _show_progress_messages()
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False,
                                        run_config={**run_config, "loggers": loggers})
    problems = []
    checks = {e.check_name for e in result.get_asset_check_evaluations()}
    for event in result.all_events:
        if event.is_step_failure and not any(event.step_key.endswith(c) for c in checks):
            problems.append(f"step {event.step_key} failed: {_user_error(event.step_failure_data.error)}")
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed:
            details = "\n".join(f"  {k}: {getattr(v, 'value', v)}" for k, v in evaluation.metadata.items())
            problems.append(f"blocking check {evaluation.check_name} on "
                            f"{evaluation.asset_key.to_user_string()} failed:\n{details}")
    for line in _summary(result):
        click.echo(line)
    if problems or not result.success:
        for line in problems or ["the run did not succeed (see `ai-emissions refresh --verbose`)"]:
            click.echo(f"error: {line}", err=True)
        sys.exit(1)


def _show_progress() -> bool:
    """Progress lines on an interactive terminal; CI logs and pipes get only the summary."""
    return sys.stderr.isatty() and not os.environ.get("CI")


def _show_progress_messages() -> None:
    """What the steps say on the `pipelines.progress` logger (e.g. waiting for the Hub's quota) goes to the
    terminal too, whatever the level of the other loggers."""
    logger = logging.getLogger("pipelines.progress")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("        %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def _quiet_libraries() -> None:
    """Per-request retry and fetch-failure lines are for --verbose; the summary says what failed."""
    import stamina.instrumentation

    stamina.instrumentation.set_on_retry_hooks([])
    for name in ("pipelines", "httpx", "stamina"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _summary(result) -> list[str]:
    lines = []
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        meta = {k: v.value for k, v in mat.metadata.items()}
        key = mat.asset_key.to_user_string()
        if key == "release":
            state = "new release" if meta.get("is_new") else "no change since release"
            lines.append(f"{state} {meta.get('version')} at {meta.get('path')}")
            if meta.get("changes"):
                lines.append(f"changed rows (+added -removed ~changed): {meta['changes']}")
        elif key in ("hub_fetch_errors", "document_fetch_errors", "hub_dump_errors", "quarantine") \
                and meta.get("row_count"):
            what = {"quarantine": "items quarantined (see the quarantine table)",
                    "hub_fetch_errors": "Hub cards not fetched, retried next refresh",
                    "hub_dump_errors": "card dump shards or rows not read (see the hub_dump_errors table)",
                    "document_fetch_errors": "documents not fetched, retried next refresh"}[key]
            lines.append(f"{meta['row_count']} {what}")
        elif key == "hub_dump_cards":  # what the dump path read, or that it read nothing and why
            lines.append(str(meta.get("summary", "")))
        elif "unreachable" in meta and meta["unreachable"]:
            lines.append(f"{key}: could not reach {meta['unreachable']}")
    return lines


QUERY_LIMIT = 1000


@main.command()
@click.argument("sql")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True, help="Output format.")
@click.option("--limit", type=click.IntRange(min=0), default=QUERY_LIMIT, show_default=True,
              help="Print at most this many rows (a note on stderr says when rows were left out).")
@click.option("--no-limit", is_flag=True, help="Print every row, streamed in batches (memory stays bounded).")
def query(sql: str, fmt: str, limit: int, no_limit: bool) -> None:
    """Run one read-only SQL statement over the warehouse, e.g. "select count(*) from training_runs".

    The session reads the warehouse and nothing else: no file is written or read outside it, no extension is
    installed or loaded, and its settings are locked; it may use up to 2GB of memory."""
    from pipelines.lib.query_output import NoStatement, Rows, SeveralStatements, single_statement, write_rows

    try:
        statement = single_statement(sql)
    except (NoStatement, SeveralStatements) as exc:
        raise click.ClickException(str(exc)) from exc
    except duckdb.Error as exc:
        raise click.ClickException(f"query failed: {str(exc).strip()}") from exc
    paths = Paths.from_env()
    try:
        con = warehouse.connect_for_query(paths.warehouse)
    except (warehouse.WarehouseMissing, warehouse.WarehouseBusy, warehouse.WarehouseUnreadable) as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        rows = Rows(con.execute(statement), None if no_limit else limit)
        write_rows(rows.names, rows, fmt, sys.stdout)
    except duckdb.PermissionException as exc:
        raise click.ClickException(f"query failed: `query` reads the warehouse and nothing else: "
                                   f"{str(exc).strip()}") from exc
    except (duckdb.OutOfMemoryException, MemoryError) as exc:
        raise click.ClickException(f"query failed: it needs more memory than a query may use "
                                   f"({warehouse.QUERY_MEMORY_LIMIT}); filter or aggregate more, "
                                   f"or use the warehouse file with DuckDB directly") from exc
    except duckdb.Error as exc:
        raise click.ClickException(f"query failed: {str(exc).strip()}") from exc
    except BrokenPipeError:  # the reader stopped (`| head`): nothing left to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return
    finally:
        con.close()
    if rows.cut:
        click.echo(f"note: output cut at {limit} rows; use --limit N or --no-limit for more", err=True)


@main.command("parse-card")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def parse_card(paths: tuple[str, ...]) -> None:
    """Print one JSON object per model card: headline emissions (kg), source, hardware... and all figures."""
    from pipelines.lib.cards import parse_card_file

    for path in paths:
        click.echo(json.dumps(parse_card_file(path).to_json(), ensure_ascii=False))


@main.command()
@click.argument("input_csv", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the CSV here instead of stdout.")
def estimate(input_csv: str, output: str | None) -> None:
    """Estimate energy and emissions for each row of INPUT_CSV (columns: see METHODOLOGY.md)."""
    from pipelines.lib.estimate import estimate_csv

    try:
        messages = estimate_csv(input_csv, output)
    except (ValueError, KeyError) as exc:
        raise click.ClickException(f"cannot estimate {input_csv}: {exc}") from exc
    for message in messages:
        click.echo(message, err=True)


if __name__ == "__main__":
    main()
