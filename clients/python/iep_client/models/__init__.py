"""Contains all the data models used in inputs/outputs"""

from .accepted import Accepted
from .attachment import Attachment
from .attachment_in import AttachmentIn
from .attachment_out import AttachmentOut
from .batch_created import BatchCreated
from .batch_error import BatchError
from .batch_item_out import BatchItemOut
from .batch_item_out_problem_type_0 import BatchItemOutProblemType0
from .batch_out import BatchOut
from .batch_request import BatchRequest
from .burst_usage import BurstUsage
from .cancel_message_response_cancel_message import CancelMessageResponseCancelMessage
from .check_out import CheckOut
from .check_out_purpose import CheckOutPurpose
from .check_out_type import CheckOutType
from .created import Created
from .delivery_out import DeliveryOut
from .delivery_page import DeliveryPage
from .domain_create import DomainCreate
from .domain_list import DomainList
from .domain_out import DomainOut
from .email_out import EmailOut
from .endpoint_create import EndpointCreate
from .endpoint_created import EndpointCreated
from .endpoint_list import EndpointList
from .endpoint_out import EndpointOut
from .endpoint_update import EndpointUpdate
from .event_out import EventOut
from .event_out_payload_type_0 import EventOutPayloadType0
from .health_response_health import HealthResponseHealth
from .http_validation_error import HTTPValidationError
from .key_create import KeyCreate
from .key_create_scopes_item import KeyCreateScopesItem
from .key_created import KeyCreated
from .key_created_status import KeyCreatedStatus
from .key_list import KeyList
from .key_out import KeyOut
from .key_out_status import KeyOutStatus
from .key_rotate import KeyRotate
from .key_rotated import KeyRotated
from .key_rotated_status import KeyRotatedStatus
from .list_messages_status_type_0 import ListMessagesStatusType0
from .list_suppressions_reason_type_0 import ListSuppressionsReasonType0
from .message_out import MessageOut
from .message_out_headers_type_0 import MessageOutHeadersType0
from .message_out_metadata_type_0 import MessageOutMetadataType0
from .message_page import MessagePage
from .preview_out import PreviewOut
from .preview_request import PreviewRequest
from .preview_request_template_data_type_0 import PreviewRequestTemplateDataType0
from .problem import Problem
from .problem_errors_item import ProblemErrorsItem
from .record_out import RecordOut
from .record_out_purpose import RecordOutPurpose
from .record_out_type import RecordOutType
from .replayed import Replayed
from .requeue_dead_letter_response_requeue_dead_letter import (
    RequeueDeadLetterResponseRequeueDeadLetter,
)
from .resend_error import ResendError
from .retry_message_response_retry_message import RetryMessageResponseRetryMessage
from .send_alias import SendAlias
from .send_alias_headers import SendAliasHeaders
from .send_alias_metadata_type_0 import SendAliasMetadataType0
from .send_alias_priority import SendAliasPriority
from .send_alias_props_type_0 import SendAliasPropsType0
from .send_alias_template_data_type_0 import SendAliasTemplateDataType0
from .send_email import SendEmail
from .send_email_batch_send_email import SendEmailBatchSendEmail
from .send_email_batch_send_email_headers_type_0 import (
    SendEmailBatchSendEmailHeadersType0,
)
from .send_email_batch_x_batch_validation import SendEmailBatchXBatchValidation
from .send_email_headers_type_0 import SendEmailHeadersType0
from .send_request import SendRequest
from .send_request_headers import SendRequestHeaders
from .send_request_metadata_type_0 import SendRequestMetadataType0
from .send_request_priority import SendRequestPriority
from .send_request_template_data_type_0 import SendRequestTemplateDataType0
from .send_request_variables_type_0 import SendRequestVariablesType0
from .sender import Sender
from .suppression_in import SuppressionIn
from .suppression_out import SuppressionOut
from .suppression_page import SuppressionPage
from .tag import Tag
from .template_list import TemplateList
from .template_out import TemplateOut
from .tenant_create import TenantCreate
from .tenant_create_settings import TenantCreateSettings
from .tenant_list import TenantList
from .tenant_out import TenantOut
from .tenant_out_settings import TenantOutSettings
from .tenant_update import TenantUpdate
from .tenant_update_settings_type_0 import TenantUpdateSettingsType0
from .usage import Usage
from .user_in import UserIn
from .user_out import UserOut
from .user_page import UserPage
from .user_update import UserUpdate
from .validation_error import ValidationError
from .validation_error_context import ValidationErrorContext
from .verification import Verification
from .window_usage import WindowUsage

__all__ = (
    "Accepted",
    "Attachment",
    "AttachmentIn",
    "AttachmentOut",
    "BatchCreated",
    "BatchError",
    "BatchItemOut",
    "BatchItemOutProblemType0",
    "BatchOut",
    "BatchRequest",
    "BurstUsage",
    "CancelMessageResponseCancelMessage",
    "CheckOut",
    "CheckOutPurpose",
    "CheckOutType",
    "Created",
    "DeliveryOut",
    "DeliveryPage",
    "DomainCreate",
    "DomainList",
    "DomainOut",
    "EmailOut",
    "EndpointCreate",
    "EndpointCreated",
    "EndpointList",
    "EndpointOut",
    "EndpointUpdate",
    "EventOut",
    "EventOutPayloadType0",
    "HealthResponseHealth",
    "HTTPValidationError",
    "KeyCreate",
    "KeyCreated",
    "KeyCreatedStatus",
    "KeyCreateScopesItem",
    "KeyList",
    "KeyOut",
    "KeyOutStatus",
    "KeyRotate",
    "KeyRotated",
    "KeyRotatedStatus",
    "ListMessagesStatusType0",
    "ListSuppressionsReasonType0",
    "MessageOut",
    "MessageOutHeadersType0",
    "MessageOutMetadataType0",
    "MessagePage",
    "PreviewOut",
    "PreviewRequest",
    "PreviewRequestTemplateDataType0",
    "Problem",
    "ProblemErrorsItem",
    "RecordOut",
    "RecordOutPurpose",
    "RecordOutType",
    "Replayed",
    "RequeueDeadLetterResponseRequeueDeadLetter",
    "ResendError",
    "RetryMessageResponseRetryMessage",
    "SendAlias",
    "SendAliasHeaders",
    "SendAliasMetadataType0",
    "SendAliasPriority",
    "SendAliasPropsType0",
    "SendAliasTemplateDataType0",
    "SendEmail",
    "SendEmailBatchSendEmail",
    "SendEmailBatchSendEmailHeadersType0",
    "SendEmailBatchXBatchValidation",
    "SendEmailHeadersType0",
    "Sender",
    "SendRequest",
    "SendRequestHeaders",
    "SendRequestMetadataType0",
    "SendRequestPriority",
    "SendRequestTemplateDataType0",
    "SendRequestVariablesType0",
    "SuppressionIn",
    "SuppressionOut",
    "SuppressionPage",
    "Tag",
    "TemplateList",
    "TemplateOut",
    "TenantCreate",
    "TenantCreateSettings",
    "TenantList",
    "TenantOut",
    "TenantOutSettings",
    "TenantUpdate",
    "TenantUpdateSettingsType0",
    "Usage",
    "UserIn",
    "UserOut",
    "UserPage",
    "UserUpdate",
    "ValidationError",
    "ValidationErrorContext",
    "Verification",
    "WindowUsage",
)
