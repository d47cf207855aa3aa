from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.batch_created import BatchCreated
from ...models.resend_error import ResendError
from ...models.send_email_batch_send_email import SendEmailBatchSendEmail
from ...models.send_email_batch_x_batch_validation import SendEmailBatchXBatchValidation
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: list[SendEmailBatchSendEmail],
    x_batch_validation: SendEmailBatchXBatchValidation | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(x_batch_validation, Unset):
        headers["x-batch-validation"] = str(x_batch_validation)

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/emails/batch",
    }

    _kwargs["json"] = []
    for body_item_data in body:
        body_item = body_item_data.to_dict()
        _kwargs["json"].append(body_item)

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> BatchCreated | ResendError | None:
    if response.status_code == 200:
        response_200 = BatchCreated.from_dict(response.json())

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
) -> Response[BatchCreated | ResendError]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: list[SendEmailBatchSendEmail],
    x_batch_validation: SendEmailBatchXBatchValidation | Unset = UNSET,
) -> Response[BatchCreated | ResendError]:
    """Send up to 500 emails (Resend-compatible)

    Args:
        x_batch_validation (SendEmailBatchXBatchValidation | Unset):
        body (list[SendEmailBatchSendEmail]):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[BatchCreated | ResendError]
    """

    kwargs = _get_kwargs(
        body=body,
        x_batch_validation=x_batch_validation,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    body: list[SendEmailBatchSendEmail],
    x_batch_validation: SendEmailBatchXBatchValidation | Unset = UNSET,
) -> BatchCreated | ResendError | None:
    """Send up to 500 emails (Resend-compatible)

    Args:
        x_batch_validation (SendEmailBatchXBatchValidation | Unset):
        body (list[SendEmailBatchSendEmail]):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        BatchCreated | ResendError
    """

    return sync_detailed(
        client=client,
        body=body,
        x_batch_validation=x_batch_validation,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: list[SendEmailBatchSendEmail],
    x_batch_validation: SendEmailBatchXBatchValidation | Unset = UNSET,
) -> Response[BatchCreated | ResendError]:
    """Send up to 500 emails (Resend-compatible)

    Args:
        x_batch_validation (SendEmailBatchXBatchValidation | Unset):
        body (list[SendEmailBatchSendEmail]):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[BatchCreated | ResendError]
    """

    kwargs = _get_kwargs(
        body=body,
        x_batch_validation=x_batch_validation,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: list[SendEmailBatchSendEmail],
    x_batch_validation: SendEmailBatchXBatchValidation | Unset = UNSET,
) -> BatchCreated | ResendError | None:
    """Send up to 500 emails (Resend-compatible)

    Args:
        x_batch_validation (SendEmailBatchXBatchValidation | Unset):
        body (list[SendEmailBatchSendEmail]):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        BatchCreated | ResendError
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            x_batch_validation=x_batch_validation,
        )
    ).parsed
