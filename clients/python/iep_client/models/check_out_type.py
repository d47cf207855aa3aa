from enum import StrEnum


class CheckOutType(StrEnum):
    CNAME = "CNAME"
    TXT = "TXT"

    def __str__(self) -> str:
        return str(self.value)
