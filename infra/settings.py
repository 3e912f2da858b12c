"""Configuration, resolved once at start-up: flags > environment > defaults.

AWS is configured by the standard variables (``AWS_ENDPOINT_URL``, ``AWS_REGION`` /
``AWS_DEFAULT_REGION``, ``AWS_PROFILE``, credentials), so that the same code runs against
the embedded moto server and a real account. Without a region flag or variable, the
profile's region applies (boto3's own resolution, ``~/.aws/config``); ``DEFAULT_REGION``
only when nothing names one. Everything of ours is a ``POINTS_*`` variable.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_REGION = "ap-northeast-1"
DEFAULT_DATABASE_URL = "sqlite:///points.sqlite3"


class AwsSettings(BaseSettings):
    """Where AWS is: a real region, or an emulator behind ``AWS_ENDPOINT_URL``."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    #: "" until resolved: ``Config.resolve`` fills in the profile's region or the default.
    region: str = Field(
        default="", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION")
    )
    endpoint_url: str | None = Field(default=None, validation_alias="AWS_ENDPOINT_URL")
    profile: str | None = Field(default=None, validation_alias="AWS_PROFILE")


class PointsSettings(BaseSettings):
    """The pipeline's own settings (``POINTS_*``)."""

    model_config = SettingsConfigDict(env_prefix="POINTS_", extra="ignore", frozen=True)

    database_url: str = DEFAULT_DATABASE_URL
    #: Prepended to every topic and queue name, so several stacks can share an account.
    resource_prefix: str = ""
    rules_file: Path | None = None
    #: A rule version taking effect sooner than this is backdated (``POINTS_RULES_LEAD``,
    #: seconds or ISO 8601 such as ``PT5M``): running workers pick a version up at their
    #: next batch, so this is the margin for a batch in flight, not a polling interval.
    rules_lead: timedelta = timedelta(minutes=5)
    #: Producers with publish-only permissions set this; otherwise it is looked up by name.
    topic_arn: str | None = None
    #: The payment service's database holding the outbox table; None means ``database_url``.
    outbox_database_url: str | None = None


def profile_region(profile: str | None) -> str | None:
    """The region boto3 resolves for this profile (``~/.aws/config``), if any.

    Raises botocore's ``ProfileNotFound`` for a profile that is not configured.
    """
    import boto3  # the CLI's root options resolve here; most settings users never need it

    return boto3.session.Session(profile_name=profile).region_name


class Config:
    """Everything resolved at start-up, handed down explicitly (never read from env later)."""

    def __init__(self, aws: AwsSettings, points: PointsSettings) -> None:
        self.aws = aws
        self.points = points

    @classmethod
    def resolve(
        cls,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        database_url: str | None = None,
        resource_prefix: str | None = None,
        profile: str | None = None,
    ) -> Config:
        """Flags (non-None arguments) override the environment, which overrides defaults."""
        aws = AwsSettings()
        points = PointsSettings()
        aws_overrides = {"endpoint_url": endpoint_url, "region": region, "profile": profile}
        points_overrides = {"database_url": database_url, "resource_prefix": resource_prefix}
        aws = aws.model_copy(update={k: v for k, v in aws_overrides.items() if v is not None})
        if aws.profile or not aws.region:  # a named profile must exist, region given or not
            found = profile_region(aws.profile)
            aws = aws.model_copy(update={"region": aws.region or found or DEFAULT_REGION})
        points = points.model_copy(
            update={k: v for k, v in points_overrides.items() if v is not None}
        )
        return cls(aws, points)
