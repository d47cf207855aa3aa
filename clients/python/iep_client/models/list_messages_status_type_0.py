from enum import StrEnum


class ListMessagesStatusType0(StrEnum):
    BOUNCED = "bounced"
    CANCELED = "canceled"
    COMPLAINED = "complained"
    DELIVERED = "delivered"
    FAILED = "failed"
    PROCESSING = "processing"
    QUEUED = "queued"
    RETRY_SCHEDULED = "retry_scheduled"
    SCHEDULED = "scheduled"
    SENT = "sent"
    SUPPRESSED = "suppressed"

    def __str__(self) -> str:
        return str(self.value)
