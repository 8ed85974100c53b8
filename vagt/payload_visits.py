"""Skipping the walks over a workflow task's payloads that Temporal's SDK makes for
nothing when the data converter has no payload codec and no external storage.

For every workflow activation it decodes, and every completion it encodes, the SDK
walks the whole message three times (codec, external storage, storage references),
each walk visiting every payload and doing nothing to it unless a codec or external
storage is configured. Vagt configures neither (its payloads are pydantic JSON, kept in
Temporal as they are), and in its worker those six walks were a fifth of the time spent
in the interpreter over whole incident lifecycles (py-spy, holding the GIL). With a
codec or external storage configured, the SDK's own functions run as before.

The SDK keeps `_decode_payload_has_effect` for the same short cut on its other paths;
`install` checks that the functions and that property are where this expects them, and
leaves the SDK alone otherwise (a test says which it did on the installed version).
"""

from collections.abc import Awaitable, Callable
from typing import Any

import temporalio.bridge.worker as bridge_worker
import temporalio.converter
from temporalio.converter import DataConverter

_MARK = "_vagt_skips_idle_visits"


def install() -> bool:
    """Make the SDK's workflow worker skip its payload walks while they would do nothing;
    True once installed (again a no-op), False if this SDK has another shape."""
    decode = getattr(bridge_worker, "decode_activation", None)
    encode = getattr(bridge_worker, "encode_completion", None)
    extstore = getattr(temporalio.converter, "_extstore", None)
    metrics = getattr(extstore, "StorageOperationMetrics", None)
    if decode is None or encode is None or metrics is None:
        return False
    if not isinstance(getattr(DataConverter, "_decode_payload_has_effect", None), property):
        return False
    if getattr(decode, _MARK, False) and getattr(encode, _MARK, False):
        return True
    bridge_worker.decode_activation = _skipping(decode, metrics)  # type: ignore[assignment]
    bridge_worker.encode_completion = _skipping(encode, metrics)  # type: ignore[assignment]
    return True


def _skipping(
    walk: Callable[..., Awaitable[Any]], metrics: Callable[[], Any]
) -> Callable[..., Awaitable[Any]]:
    async def walk_if_it_has_effect(
        message: Any, data_converter: DataConverter, *args: Any, **kwargs: Any
    ) -> Any:
        if not data_converter._decode_payload_has_effect:
            return metrics()  # nothing stored or fetched: no storage metrics
        return await walk(message, data_converter, *args, **kwargs)

    setattr(walk_if_it_has_effect, _MARK, True)
    return walk_if_it_has_effect
