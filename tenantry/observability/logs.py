"""Process-wide logging: plain text for people, or one JSON object per line for machines.

Temporal's `workflow.logger` and `activity.logger` attach `temporal_workflow` and
`temporal_activity` dicts to each record; the JSON formatter flattens the identifying
fields (`workflow_id`, `run_id`, `activity_id`, ...) to the top level so that a log
search can join lines to a workflow's history. Nothing here logs settings: records carry
only what the code logged.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["text", "json"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

# Temporal's context dicts, and which of their keys become top-level fields.
_TEMPORAL_FIELDS: dict[str, dict[str, str]] = {
    "temporal_workflow": {
        "workflow_id": "workflow_id",
        "run_id": "run_id",
        "workflow_type": "workflow_type",
        "namespace": "namespace",
        "task_queue": "task_queue",
        "attempt": "attempt",
        "update_id": "update_id",
        "update_name": "update_name",
    },
    "temporal_activity": {
        "activity_id": "activity_id",
        "activity_type": "activity_type",
        "workflow_id": "workflow_id",
        "workflow_run_id": "run_id",
        "workflow_type": "workflow_type",
        "namespace": "namespace",
        "task_queue": "task_queue",
        "attempt": "attempt",
    },
}


class JsonFormatter(logging.Formatter):
    """A record as one JSON line: time, level, logger, message, Temporal ids, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for attribute, fields in _TEMPORAL_FIELDS.items():
            details = getattr(record, attribute, None)
            if isinstance(details, dict):
                for source, target in fields.items():
                    if source in details:
                        entry.setdefault(target, details[source])
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


def configure_logging(
    log_format: LogFormat, *, level: int = logging.INFO, text_format: str = TEXT_FORMAT
) -> None:
    """Replaces the root handlers with one on stdout in the chosen format.

    In JSON mode Temporal's loggers stop appending their context to the message text
    (it is in the fields already), so the message stays what the code wrote.
    """
    handler = logging.StreamHandler(sys.stdout)
    if log_format == "json":
        from temporalio import activity, workflow  # here: the host agent runs no Temporal

        handler.setFormatter(JsonFormatter())
        logging.captureWarnings(True)  # warnings too, or they break the one-object lines
        workflow.logger.workflow_info_on_message = False
        activity.logger.activity_info_on_message = False
    else:
        handler.setFormatter(logging.Formatter(text_format))
    logging.basicConfig(level=level, handlers=[handler])
