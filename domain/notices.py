"""The words of a page, an SLA alarm or an announcement, and one delivery per recipient."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from domain.channels import Delivery, Notification, NotificationKind
from domain.paging import Recipient
from domain.priority import Priority


@dataclass(frozen=True)
class Subject:
    """What a notification is about: the incident as it is when it is sent."""

    incident_id: int
    title: str
    priority: Priority
    state: str

    def deliveries(
        self,
        key: str,
        kind: NotificationKind,
        text: str,
        to: list[Recipient],
        at: datetime,
        details: dict[str, Any],
    ) -> list[Delivery]:
        """One delivery per recipient, each keyed so that no retry or replay sends it twice."""
        return [
            Delivery(
                notification=Notification(
                    idempotency_key=f"{key}:{recipient.key()}",
                    incident_id=self.incident_id,
                    kind=kind,
                    title=f"[{self.priority}] {self.title}",
                    text=text,
                    priority=self.priority,
                    state=self.state,
                    recipient=recipient.user,
                    details=details,
                    at=at,
                ),
                channel=recipient.channel,
                address=recipient.address,
                attempt=1,
            )
            for recipient in to
        ]


class Announcement(BaseModel):
    """News for the incident's subscribers, waiting until the workflow has looked up
    who follows the incident (`Incident.announce`). `seq` is the event it tells of."""

    seq: int
    kind: NotificationKind
    text: str
    public: bool = True
    at: datetime
