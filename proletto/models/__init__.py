"""The models of the proletto app, re-exported here because Django and the migrations import
them from proletto.models.

- users: User and the validators of its profile fields.
- scheduling: SchedulerLease, SchedulerInstance, RunRequest, JobRun (proletto/scheduling).
- monitoring: CheckStatus, HealthCheckState, HealthCheckResult, HealthAlert
  (proletto/monitoring).
"""

from proletto.models.monitoring import CheckStatus, HealthAlert, HealthCheckResult, HealthCheckState
from proletto.models.scheduling import JobRun, RunRequest, SchedulerInstance, SchedulerLease
from proletto.models.users import (
    User,
    validate_country_code,
    validate_mediums,
    validate_tags,
    validate_time_zone,
)

__all__ = [
    "CheckStatus",
    "HealthAlert",
    "HealthCheckResult",
    "HealthCheckState",
    "JobRun",
    "RunRequest",
    "SchedulerInstance",
    "SchedulerLease",
    "User",
    "validate_country_code",
    "validate_mediums",
    "validate_tags",
    "validate_time_zone",
]
