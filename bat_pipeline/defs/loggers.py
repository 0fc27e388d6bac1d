"""The console logger of BAT's Dagster runs: one line per message, no stack traces, no
passwords of URLs.

A failed step's full trace stays in the run's event log (the Dagster UI shows it); the
terminal of `bat-pipeline run`, of `dagster dev` and of the daemon gets the message up to
the trace, so an expected failure reads as what happened and what to do.
"""

import logging
import sys

import dagster as dg

from bat_pipeline.errors import redacted

#: where Dagster's error messages start their stack trace
_TRACE_MARKERS = ("\n\nStack Trace:", "\nStack Trace:", "\nTraceback (most recent call last):")


class _NoTraceFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for marker in _TRACE_MARKERS:
            if marker in text:
                text = text.split(marker, 1)[0].rstrip() + "  (stack trace: Dagster run log)"
        return redacted(text)


@dg.logger(
    config_schema={"log_level": dg.Field(str, is_required=False, default_value="INFO")},
    description="Messages of the run on stderr, stack traces left to the run's event log.",
)
def console_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    level = init_context.logger_config["log_level"]
    logger = logging.Logger("bat_pipeline.dagster", level=logging.getLevelName(level.upper()))
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _NoTraceFormatter("%(asctime)s - %(levelname)s - %(message)s", "%Y-%m-%d %H:%M:%S")
    )
    logger.addHandler(handler)
    return logger
