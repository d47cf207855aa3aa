"""Read a JSON body ourselves: a size cap before parsing, and a parser that cannot be driven into recursion."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from fastapi import Request
from pydantic import BaseModel, ValidationError

from iep.kit.jsontree import MAX_BODY_DEPTH, JsonTreeError, check_tree
from iep.kit.problems import MalformedRequest, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from iep.messages.validation import problem_errors

Body = TypeVar("Body", bound=BaseModel)
# Bodies of the small JSON documents (keys, webhooks, domains, suppressions, tenants): far below the send limit.
SMALL_BODY_BYTES = 64 * 1024


async def read_json(request: Request, max_bytes: int) -> Any:
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if ctype not in ("application/json", "") and not ctype.endswith("+json"):
        raise UnsupportedMediaType(f"got `{ctype}`")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"the body is limited to {max_bytes} bytes")
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > max_bytes:
            raise PayloadTooLarge(f"the body is limited to {max_bytes} bytes")
    if not chunks.strip():
        raise MalformedRequest("the body is empty; send a JSON object")
    try:
        # orjson refuses nesting deeper than 1024 with an error instead of exhausting the stack.
        value = orjson.loads(chunks)
    except orjson.JSONDecodeError as exc:
        raise MalformedRequest(f"invalid JSON: {exc}") from None
    try:
        # Far below orjson's own bound: validators, serializers and jsonb all recurse (docs/security.md).
        check_tree(value, max_depth=MAX_BODY_DEPTH, nul=False)
    except JsonTreeError as exc:
        raise ValidationFailed([{"field": "", "pointer": "", "code": "depth", "message": f"the body {exc}"}]) from None
    return value


async def parse_body(
    request: Request,
    model: type[Body],
    *,
    max_bytes: int = SMALL_BODY_BYTES,
    optional: bool = False,
    **context: Any,
) -> Body:
    """The body as `model`, every field error in one 422; `optional`: no body at all means `{}`."""
    if optional and not (await request.body()).strip():
        payload: Any = {}
    else:
        payload = await read_json(request, max_bytes)
    if not isinstance(payload, dict):
        raise ValidationFailed([{"field": "", "pointer": "", "code": "type", "message": "must be a JSON object"}])
    try:
        return model.model_validate(payload, context=context)
    except ValidationError as exc:
        raise ValidationFailed(problem_errors(exc)) from None


def json_body_doc(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """`openapi_extra` for a route that reads its JSON body itself (with `parse_body`)."""
    schema = model.model_json_schema(by_alias=True)
    return {"requestBody": {"required": required, "content": {"application/json": {"schema": schema}}}}
