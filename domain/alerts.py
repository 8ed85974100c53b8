"""One alert model for every sender, and Vagt's own generic JSON form for scripts.

Senders' wire formats (PagerDuty, Alertmanager, Grafana) are read into this model by
`domain.alert_formats`. Parsers take already-decoded JSON and list every problem at once in
`InvalidAlert`, because a sender fixing its payload should not have to guess one error per try.
"""

import hashlib
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, model_validator

from domain.errors import DomainError

MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255
ELLIPSIS = "…"


class AlertStatus(StrEnum):
    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Severity(StrEnum):
    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


def truncate_summary(summary: str) -> str:
    """At most 1,024 code points, as PagerDuty counts them; longer ends with an ellipsis."""
    if len(summary) <= MAX_SUMMARY:
        return summary
    return summary[: MAX_SUMMARY - 1] + ELLIPSIS


Summary = Annotated[str, Field(min_length=1), AfterValidator(truncate_summary)]


class Link(BaseModel):
    href: str
    text: str | None = None


class Image(BaseModel):
    src: str
    href: str | None = None
    alt: str | None = None


class Alert(BaseModel):
    """One alert from any sender, normalised.

    `dedup_key` decides the incident; `fingerprint` names this alert inside its group;
    `content_hash` tells a repeat (same hash) from a change, kept apart from identity so a
    changed alert still reaches the same incident.
    """

    dedup_key: str = Field(min_length=1)
    fingerprint: str = Field(min_length=1)
    status: AlertStatus
    summary: Summary
    source: str | None = None
    severity: Severity = Severity.ERROR
    labels: dict[str, str] = {}
    details: dict[str, Any] = {}
    links: list[Link] = []
    images: list[Image] = []
    started_at: datetime | None = None
    content_hash: str = Field(
        default="",
        description="sha256 of the alert's content; computed when not given, and kept when "
        "given so an alert read back from history keeps the hash it was recorded with.",
    )
    test: bool = Field(default=False, description="A sender's test notification: never pages.")

    @model_validator(mode="after")
    def _hash_content(self) -> "Alert":
        if not self.content_hash:
            self.content_hash = self.hash_content()
        return self

    def hash_content(self) -> str:
        content = self.model_dump(
            mode="json", include={"status", "summary", "severity", "labels", "details"}
        )
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


class AlertNotification(BaseModel):
    """One Alertmanager or Grafana webhook call: the alerts of one group, as they stand now."""

    receiver: str
    group_key: str
    status: AlertStatus
    alerts: list[Alert] = Field(min_length=1)
    external_url: str | None = None
    truncated_alerts: int = Field(default=0, ge=0)

    @property
    def all_resolved(self) -> bool:
        """Counted per alert: the sender's top-level status is only a summary of these."""
        return all(alert.status is AlertStatus.RESOLVED for alert in self.alerts)


class InvalidAlert(DomainError):
    """A body no parser can read; `errors` holds one message per problem, naming the field."""

    status = 400
    code = "InvalidAlert"
    title = "Invalid alert"

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = list(errors)


def json_type(value: Any) -> str:
    """JSON's name for a decoded value's type, for messages a sender understands."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def unpaired_surrogates(value: Any, where: str) -> list[str]:
    """Paths of the strings (keys included) that cannot be encoded, found anywhere in `value`.

    JSON's `\\ud800` escapes decode to such strings; caught here, they cannot fail later when
    the alert is serialised into a workflow's history.
    """
    if isinstance(value, str):
        return [] if _encodes(value) else [where or "(body)"]
    if isinstance(value, list):
        return [
            p for i, item in enumerate(value) for p in unpaired_surrogates(item, f"{where}[{i}]")
        ]
    if not isinstance(value, dict):
        return []
    found: list[str] = []
    for key, item in value.items():
        # A broken key is named escaped, so the message itself stays valid Unicode.
        name = key.encode("utf-8", "backslashreplace").decode()
        path = f"{where}.{name}" if where else name
        found += unpaired_surrogates(item, path) if _encodes(key) else [path]
    return found


def _encodes(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def one_of(options: tuple[str, ...]) -> str:
    """PagerDuty's wording for a closed list: 'a', 'b' or 'c'."""
    quoted = [f"'{option}'" for option in options]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


class JsonFields:
    """One decoded JSON object, read field by field into typed values.

    Problems go to a list shared by the whole body instead of being raised, so one answer can
    name all of them; `where` is the object's path in the body (`payload`, `alerts[2]`). JSON
    null and blank strings count as absent.
    """

    def __init__(self, value: Any, where: str, errors: list[str]) -> None:
        self.where, self.errors = where, errors
        self.body: dict[str, Any] = value if isinstance(value, dict) else {}
        if not isinstance(value, dict):
            errors.append(f"'{where}' must be an object, not {json_type(value)}")

    @classmethod
    def of_body(cls, body: Any) -> "JsonFields":
        """The top level; a body that is not an object is refused at once, with nothing to read."""
        if not isinstance(body, dict):
            raise InvalidAlert([f"The body must be a JSON object, not {json_type(body)}"])
        broken = unpaired_surrogates(body, "")
        if broken:
            raise InvalidAlert(
                [f"'{where}' is not valid Unicode (unpaired surrogate)" for where in broken]
            )
        return cls(body, "", [])

    def path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def problem(self, key: str, message: str) -> None:
        self.errors.append(f"'{self.path(key)}' {message}")

    def raise_problems(self) -> None:
        if self.errors:
            raise InvalidAlert(self.errors)

    def refuse_unknown(self, known: tuple[str, ...]) -> None:
        for key in self.body:
            if key not in known:
                self.problem(key, f"is not a known field (known: {', '.join(known)})")

    def text(
        self, key: str, *, required: bool = False, max_length: int | None = None
    ) -> str | None:
        value = self.body.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.problem(key, "is missing or blank")
            return None
        if not isinstance(value, str):
            self.problem(key, f"must be a string, not {json_type(value)}")
            return None
        if max_length is not None and len(value) > max_length:
            self.problem(key, f"is too long ({len(value)} characters; at most {max_length})")
            return None
        return value

    def choice(self, key: str, options: tuple[str, ...], *, required: bool = False) -> str | None:
        value = self.text(key, required=required)
        if value is not None and value not in options:
            self.problem(key, f"is invalid (must be one of the following: {one_of(options)})")
            return None
        return value

    def timestamp(self, key: str) -> datetime | None:
        """ISO 8601 / RFC 3339; a time without an offset is taken as UTC."""
        value = self.text(key)
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.problem(key, f"is not an ISO 8601 date and time: {value!r}")
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    def count(self, key: str) -> int:
        value = self.body.get(key)
        if value is None:
            return 0
        # JSON has one number type: a sender re-encoding through JavaScript sends 3 as 3.0.
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.problem(key, "must be a whole number, 0 or more")
            return 0
        return value

    def value(self, key: str) -> Any:
        return self.body.get(key)

    def child(self, key: str, *, required: bool = False) -> "JsonFields | None":
        value = self.body.get(key)
        if value is None:
            if required:
                self.problem(key, "is missing or blank")
            return None
        child = JsonFields(value, self.path(key), self.errors)
        return child if isinstance(value, dict) else None

    def mapping(self, key: str) -> dict[str, Any]:
        child = self.child(key)
        return dict(child.body) if child else {}

    def string_map(self, key: str) -> dict[str, str]:
        """An object of strings, such as labels or annotations."""
        child = self.child(key)
        if child is None:
            return {}
        for name, value in child.body.items():
            if not isinstance(value, str):
                child.problem(name, f"must be a string, not {json_type(value)}")
        return {name: value for name, value in child.body.items() if isinstance(value, str)}

    def objects(self, key: str, *, required: bool = False) -> list["JsonFields"]:
        value = self.body.get(key)
        if value is None:
            if required:
                self.problem(key, "is missing")
            return []
        if not isinstance(value, list):
            self.problem(key, f"must be an array, not {json_type(value)}")
            return []
        items = [
            JsonFields(item, f"{self.path(key)}[{i}]", self.errors) for i, item in enumerate(value)
        ]
        return [item for item, raw in zip(items, value, strict=True) if isinstance(raw, dict)]

    def links(self, key: str = "links") -> list[Link]:
        links = []
        for item in self.objects(key):
            href, text = item.text("href", required=True), item.text("text")
            if href is not None:
                links.append(Link(href=href, text=text))
        return links

    def images(self, key: str = "images") -> list[Image]:
        images = []
        for item in self.objects(key):
            src, href, alt = item.text("src", required=True), item.text("href"), item.text("alt")
            if src is not None:
                images.append(Image(src=src, href=href, alt=alt))
        return images


GENERIC_FIELDS = (
    "dedup_key",
    "summary",
    "severity",
    "source",
    "status",
    "details",
    "labels",
    "links",
)
GENERIC_STATUSES = (AlertStatus.FIRING.value, AlertStatus.RESOLVED.value)


def parse_generic(body: Any) -> Alert:
    """Vagt's JSON form for scripts; unknown fields are refused so a typo is not silently lost.

    `{"dedup_key", "summary", "severity"?, "source"?, "status"?, "details"?, "labels"?,
    "links"?}`: severity defaults to error, status to firing. The dedup key is also the
    fingerprint, since one call carries one alert.
    """
    fields = JsonFields.of_body(body)
    fields.refuse_unknown(GENERIC_FIELDS)
    dedup_key = fields.text("dedup_key", required=True, max_length=MAX_DEDUP_KEY)
    summary = fields.text("summary", required=True)
    severity = fields.choice("severity", tuple(Severity))
    status = fields.choice("status", GENERIC_STATUSES)
    alert = {
        "dedup_key": dedup_key,
        "fingerprint": dedup_key,
        "summary": summary,
        "severity": severity or Severity.ERROR,
        "status": status or AlertStatus.FIRING,
        "source": fields.text("source"),
        "details": fields.mapping("details"),
        "labels": fields.string_map("labels"),
        "links": fields.links(),
    }
    fields.raise_problems()
    return Alert.model_validate(alert)
