from enum import StrEnum


class ListSuppressionsReasonType0(StrEnum):
    COMPLAINT = "complaint"
    HARD_BOUNCE = "hard_bounce"
    MANUAL = "manual"

    def __str__(self) -> str:
        return str(self.value)
