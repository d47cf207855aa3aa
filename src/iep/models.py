"""Every table, imported once so Alembic and the tests see the whole schema."""

from iep.admin import models as _admin
from iep.directory import models as _directory
from iep.kit.db import metadata
from iep.limits import models as _limits
from iep.messages import models as _messages
from iep.outbox import models as _outbox
from iep.provider_events import models as _provider_events
from iep.providers import models as _providers
from iep.queue import models as _queue
from iep.sending_domains import models as _sending_domains
from iep.suppressions import models as _suppressions
from iep.tenancy import models as _tenancy
from iep.tenant_webhooks import models as _webhooks

__all__ = ["metadata"]
_ = (
    _admin,
    _directory,
    _limits,
    _messages,
    _outbox,
    _provider_events,
    _providers,
    _queue,
    _sending_domains,
    _suppressions,
    _tenancy,
    _webhooks,
)
