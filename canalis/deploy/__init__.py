"""The production profile: pools sized from vendors' limits, the Celery executor, and the local deployment."""
