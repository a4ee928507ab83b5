"""The Celery executor of the production profile: each step of a run is a task that any worker may take.

Its broker and result backend are read when a run starts from CANALIS_CELERY_BROKER and CANALIS_CELERY_BACKEND
(defaults: RabbitMQ and Redis on this machine), so no URL with a password is written in the code location. A
task is acknowledged only once its step has ended, so a step whose worker dies is handed to another worker.
"""

from __future__ import annotations

import os
from typing import Any

from dagster import ExecutorDefinition

BROKER_ENV = "CANALIS_CELERY_BROKER"
BACKEND_ENV = "CANALIS_CELERY_BACKEND"
QUEUE_ENV = "CANALIS_CELERY_QUEUE"
DEFAULT_BROKER = "amqp://guest:guest@127.0.0.1:5672//"
DEFAULT_BACKEND = "redis://127.0.0.1:6379/5"
DEFAULT_QUEUE = "canalis"


def celery_config(queue: str | None = None) -> dict[str, Any]:
    """The executor's config, shared by the code location and the workers (`dagster-celery worker start -y`)."""
    return {
        "broker": {"env": BROKER_ENV},
        "backend": {"env": BACKEND_ENV},
        "config_source": {
            "task_default_queue": queue or os.environ.get(QUEUE_ENV) or DEFAULT_QUEUE,
            "task_acks_late": True,  # a step is acknowledged when it ends, not when a worker takes it
            "task_reject_on_worker_lost": True,  # and goes back to the queue when its worker dies
            "worker_prefetch_multiplier": 1,
            "broker_connection_retry_on_startup": True,
        },
    }


def celery_executor() -> ExecutorDefinition:
    """dagster-celery's executor, its broker and backend taken from the environment."""
    try:
        from dagster_celery import celery_executor as executor
    except ImportError as error:
        raise ImportError("CANALIS_EXECUTOR=celery needs the production extra: pip install 'canalis[prod]'") from error
    return executor.configured(celery_config(), name="canalis_celery_executor")
