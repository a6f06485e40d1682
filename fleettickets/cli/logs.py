"""Console logs without tracebacks (the command's last line says what failed; --debug shows all).

Prefect logs a failed task or flow with its traceback; on the console that buries the one
line that matters. Only console (stream) handlers are changed: the records Prefect sends to
its API keep their tracebacks, so the run's logs in the UI have the detail.
"""

from __future__ import annotations

import copy
import logging

_enabled = False


class _NoTraceback(logging.Formatter):
    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info or record.exc_text or record.stack_info:
            record = copy.copy(record)  # the API handler formats the same record, traceback included
            record.exc_info = record.exc_text = record.stack_info = None
        return self.inner.format(record)


def _is_console(handler: logging.Handler) -> bool:
    return isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler)


def without_tracebacks() -> None:
    """From now on; call again after Prefect configured its logging (it does so on import)."""
    global _enabled
    _enabled = True
    reapply()


def reapply() -> None:
    if not _enabled:
        return
    loggers = [logging.getLogger(), *(lg for lg in logging.Logger.manager.loggerDict.values()
                                      if isinstance(lg, logging.Logger))]
    for logger in loggers:
        for handler in logger.handlers:
            if _is_console(handler) and not isinstance(handler.formatter, _NoTraceback):
                handler.setFormatter(_NoTraceback(handler.formatter or logging.Formatter()))
