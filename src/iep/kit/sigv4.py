"""AWS Signature Version 4 for requests sent with httpx (SES, S3-compatible storage); botocore only signs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AwsCredentials:
    access_key: str
    secret_key: str
    region: str
    session_token: str | None = None


def signed_headers(
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    body: bytes,
    service: str,
    credentials: AwsCredentials,
) -> dict[str, str]:
    """The request's headers plus `Authorization`, `X-Amz-Date` (and S3's payload hash)."""
    # botocore is large and most roles never sign a request: it is loaded at the first signature.
    from botocore.auth import S3SigV4Auth, SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    signer_class = S3SigV4Auth if service == "s3" else SigV4Auth
    creds = Credentials(credentials.access_key, credentials.secret_key, credentials.session_token)
    signer_class(creds, service, credentials.region).add_auth(request)
    return {str(k): str(v) for k, v in request.headers.items()}
