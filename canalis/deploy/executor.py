"""The Celery executor of the production profile: each step of a run is a task that any worker may take.

Its broker and result backend are read when a run starts from CANALIS_CELERY_BROKER and CANALIS_CELERY_BACKEND
(defaults: RabbitMQ and Redis on this machine), so no URL with a password is written in the code location.
"""

from __future__ import annotations

from dagster import ExecutorDefinition

BROKER_ENV = "CANALIS_CELERY_BROKER"
BACKEND_ENV = "CANALIS_CELERY_BACKEND"
DEFAULT_BROKER = "amqp://guest:guest@127.0.0.1:5672//"
DEFAULT_BACKEND = "redis://127.0.0.1:6379/5"


def celery_executor() -> ExecutorDefinition:
    """dagster-celery's executor, its broker and backend taken from the environment."""
    try:
        from dagster_celery import celery_executor as executor
    except ImportError as error:
        raise ImportError("CANALIS_EXECUTOR=celery needs the production extra: pip install 'canalis[prod]'") from error
    return executor.configured(
        {"broker": {"env": BROKER_ENV}, "backend": {"env": BACKEND_ENV}}, name="canalis_celery_executor"
    )
