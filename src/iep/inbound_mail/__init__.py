"""Mail that comes back over SMTP (role `smtp`, F2): DSNs and ARF reports at the VERP address.

`server` takes the SMTP conversation, `mailboxes` decides which recipients it accepts, `reports` turns one
report into `ProviderEvent`s (with `dsn`, `arf` and `legacy` for each format) and a sink stores them.
"""
