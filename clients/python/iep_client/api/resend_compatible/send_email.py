from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.created import Created
from ...models.resend_error import ResendError
from ...models.send_email import SendEmail
from ...types import UNSET, Response


def _get_kwargs(
    *,
    body: SendEmail,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/emails",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Created | ResendError | None:
    if response.status_code == 200:
        response_200 = Created.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = ResendError.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ResendError.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = ResendError.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = ResendError.from_dict(response.json())

        return response_404

    if response.status_code == 409:
        response_409 = ResendError.from_dict(response.json())

        return response_409

    if response.status_code == 413:
        response_413 = ResendError.from_dict(response.json())

        return response_413

    if response.status_code == 415:
        response_415 = ResendError.from_dict(response.json())

        return response_415

    if response.status_code == 422:
        response_422 = ResendError.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = ResendError.from_dict(response.json())

        return response_429

    if response.status_code == 500:
        response_500 = ResendError.from_dict(response.json())

        return response_500

    if response.status_code == 503:
        response_503 = ResendError.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Created | ResendError]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: SendEmail,
) -> Response[Created | ResendError]:
    """Send an email (Resend-compatible)

    Args:
        body (SendEmail): `POST /emails`. Only these fields; `template` and `topic_id` are refused
            by name.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Created | ResendError]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    body: SendEmail,
) -> Created | ResendError | None:
    """Send an email (Resend-compatible)

    Args:
        body (SendEmail): `POST /emails`. Only these fields; `template` and `topic_id` are refused
            by name.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Created | ResendError
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: SendEmail,
) -> Response[Created | ResendError]:
    """Send an email (Resend-compatible)

    Args:
        body (SendEmail): `POST /emails`. Only these fields; `template` and `topic_id` are refused
            by name.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Created | ResendError]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: SendEmail,
) -> Created | ResendError | None:
    """Send an email (Resend-compatible)

    Args:
        body (SendEmail): `POST /emails`. Only these fields; `template` and `topic_id` are refused
            by name.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Created | ResendError
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
