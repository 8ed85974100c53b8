"""Connecting to Temporal the same way everywhere: one data converter, known attributes."""

import asyncio
from typing import cast

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.contrib.pydantic import PydanticPayloadConverter
from temporalio.converter import DataConverter, PayloadConverter
from temporalio.service import RPCError, RPCStatusCode

from vagt.settings import Settings
from workflows import search

_KEYWORD = IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD

# One pydantic payload converter for the whole process. Temporal's SDK builds a new data
# converter for every workflow activation and activity (to carry a serialization context
# this converter does not use), and each would build its own payload converter with an
# empty cache of pydantic type adapters (some 30 us each time, a few times per step).
# The converter holds no per-call state, and its adapter cache is safe across threads.
_PAYLOAD_CONVERTER = PydanticPayloadConverter()


def _shared_payload_converter() -> PayloadConverter:
    return _PAYLOAD_CONVERTER


# Encodes exactly as temporalio.contrib.pydantic.pydantic_data_converter does (the tests'
# clients use that one), with its payload converter built once.
DATA_CONVERTER = DataConverter(
    payload_converter_class=cast(type[PayloadConverter], _shared_payload_converter)
)


async def connect(settings: Settings, *, lazy: bool = False) -> Client:
    """A client for Vagt's namespace; `lazy` defers the connection to the first call."""
    return await Client.connect(
        settings.temporal_target,
        namespace=settings.temporal_namespace,
        data_converter=DATA_CONVERTER,
        lazy=lazy,
    )


async def workflow_exists(client: Client, workflow_id: str) -> bool:
    """Whether Temporal holds a workflow under `workflow_id`, running or closed (a closed
    one until the namespace's retention period removes it)."""
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def wait_until_healthy(settings: Settings, within: float = 60.0) -> Client:
    """Connect once Temporal's frontend answers its health check, or raise TimeoutError."""
    try:
        async with asyncio.timeout(within):
            while True:
                try:
                    client = await connect(settings)
                    if await client.service_client.check_health():
                        return client
                except (RuntimeError, RPCError):
                    pass  # not up yet
                await asyncio.sleep(0.25)
    except TimeoutError:
        raise TimeoutError(
            f"Temporal at {settings.temporal_target} was not healthy within {within:g} s"
        ) from None


async def register_search_attributes(client: Client) -> list[str]:
    """Add Vagt's search attributes that the namespace lacks; returns the ones added."""
    missing = {
        key.name: _KEYWORD
        for key in search.ALL
        if key.name not in await _custom_search_attributes(client)
    }
    if missing:
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
            )
        except RPCError as error:
            # Another worker starting at the same moment added them first.
            if error.status is not RPCStatusCode.ALREADY_EXISTS:
                raise
    return sorted(missing)


async def _custom_search_attributes(client: Client) -> set[str]:
    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
    except RPCError as error:
        # Temporal's time-skipping test server can add attributes but not list them.
        if error.status is RPCStatusCode.UNIMPLEMENTED:
            return set()
        raise
    return set(existing.custom_attributes)
