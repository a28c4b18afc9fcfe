"""A terminal progress logger for `ai-emissions refresh`: one line per materialized table or failed step.

Dagster hands a logger each record with its event under ``record.dagster_meta`` (the attributes its custom
logger documentation formats); records without one are ordinary log lines and are skipped."""

from __future__ import annotations

import logging
import sys
import time

import dagster as dg


class _ProgressHandler(logging.Handler):
    def __init__(self, groups: dict[str, str], stream=None):
        super().__init__(logging.DEBUG)
        self.groups, self.stream, self.started = groups, stream or sys.stderr, time.monotonic()
        self.done = 0

    def emit(self, record: logging.LogRecord) -> None:
        event = (getattr(record, "dagster_meta", None) or {}).get("dagster_event")
        if event is None:
            return
        elapsed = f"{time.monotonic() - self.started:6.1f}s"
        if event.event_type_value == "ASSET_MATERIALIZATION":
            materialization = event.event_specific_data.materialization
            key = materialization.asset_key.to_user_string()
            rows = materialization.metadata.get("row_count")
            self.done += 1
            detail = f" ({rows.value} rows)" if rows is not None else ""
            print(f"{elapsed} [{self.done}/{len(self.groups)}] {self.groups.get(key, '?')}: {key}{detail}",
                  file=self.stream, flush=True)
        elif event.event_type_value == "STEP_FAILURE":
            print(f"{elapsed} failed: {event.step_key}", file=self.stream, flush=True)


@dg.logger(config_schema={"groups": dg.Field(dict, default_value={})},
           description="One line per materialized table, for a terminal")
def progress_logger(init_context) -> logging.Logger:
    logger = logging.Logger("ai_emissions_progress", level=logging.DEBUG)
    logger.addHandler(_ProgressHandler(dict(init_context.logger_config["groups"])))
    return logger
