from enum import StrEnum


class RecordOutType(StrEnum):
    CNAME = "CNAME"
    TXT = "TXT"

    def __str__(self) -> str:
        return str(self.value)
