"""The worker skips the SDK's payload walks only while they would do nothing."""

import dataclasses
from collections.abc import Sequence
from typing import Any

import temporalio.bridge.worker as bridge_worker
from temporalio.api.common.v1 import Payload
from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.contrib.pydantic import PydanticPayloadConverter, pydantic_data_converter
from temporalio.converter import DataConverter, PayloadCodec

from vagt import payload_visits


class Reversing(PayloadCodec):
    """A codec that reverses each payload's bytes, so a walk that ran shows."""

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [Payload(metadata=p.metadata, data=p.data[::-1]) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [Payload(metadata=p.metadata, data=p.data[::-1]) for p in payloads]


@dataclasses.dataclass(frozen=True)
class Recording(DataConverter):
    """A converter without a codec that notes each payload sequence the SDK's walks
    hand it."""

    walked: list[str] = dataclasses.field(default_factory=list)

    async def _decode_payload_sequence(self, payloads: Sequence[Payload]) -> list[Payload]:
        self.walked.append("decode")
        return await super()._decode_payload_sequence(payloads)

    async def _encode_payload_sequence(self, payloads: Sequence[Payload]) -> list[Payload]:
        self.walked.append("encode")
        return await super()._encode_payload_sequence(payloads)


def _activation() -> WorkflowActivation:
    activation = WorkflowActivation()
    activation.jobs.add().initialize_workflow.arguments.add(data=b"incident")
    return activation


def _completion() -> WorkflowActivationCompletion:
    completion = WorkflowActivationCompletion()
    command = completion.successful.commands.add()
    command.complete_workflow_execution.result.data = b"closed"
    return completion


class TestInstall:
    def test_takes_on_the_installed_sdk(self) -> None:
        # False would mean the SDK moved what this skips: the worker then runs the
        # SDK's walks as they are, slower, and this module needs looking at.
        assert payload_visits.install() is True
        assert payload_visits.install() is True  # again: nothing more

    async def test_without_a_codec_the_walks_are_skipped(self) -> None:
        payload_visits.install()
        converter = Recording(payload_converter_class=PydanticPayloadConverter)
        activation, completion = _activation(), _completion()

        await bridge_worker.decode_activation(
            activation, converter, decode_headers=False, storage_concurrency_limit=1
        )
        await bridge_worker.encode_completion(
            completion, converter, encode_headers=False, storage_concurrency_limit=1
        )

        assert converter.walked == []  # the SDK's own walks would have met each payload
        assert activation == _activation()
        assert completion == _completion()

    async def test_with_a_codec_the_sdk_still_decodes_and_encodes(self) -> None:
        payload_visits.install()
        converter = dataclasses.replace(pydantic_data_converter, payload_codec=Reversing())
        activation, completion = _activation(), _completion()

        await bridge_worker.decode_activation(
            activation, converter, decode_headers=False, storage_concurrency_limit=1
        )
        await bridge_worker.encode_completion(
            completion, converter, encode_headers=False, storage_concurrency_limit=1
        )

        [argument] = activation.jobs[0].initialize_workflow.arguments
        assert argument.data == b"tnedicni"
        result = completion.successful.commands[0].complete_workflow_execution.result
        assert result.data == b"desolc"


class TestSkipping:
    async def test_the_walk_runs_only_with_a_codec(self) -> None:
        walked: list[Any] = []

        async def walk(message: Any, converter: Any, *args: Any, **kwargs: Any) -> str:
            walked.append(message)
            return "walked"

        skipping = payload_visits._skipping(walk, lambda: "skipped")
        with_codec = dataclasses.replace(pydantic_data_converter, payload_codec=Reversing())

        assert await skipping("plain", pydantic_data_converter) == "skipped"
        assert await skipping("encoded", with_codec, storage_concurrency_limit=1) == "walked"
        assert walked == ["encoded"]
