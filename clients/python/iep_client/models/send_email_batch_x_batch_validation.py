from enum import StrEnum


class SendEmailBatchXBatchValidation(StrEnum):
    PERMISSIVE = "permissive"
    STRICT = "strict"

    def __str__(self) -> str:
        return str(self.value)
