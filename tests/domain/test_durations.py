"""Durations as people write them: read, written back, and refused when absurd."""

from datetime import timedelta

import pytest
from pydantic import BaseModel, ValidationError

from domain.durations import Duration, format_duration, parse_duration


class Holder(BaseModel):
    wait: Duration


class TestReading:
    @pytest.mark.parametrize(
        ("text", "seconds"), [("90s", 90), ("15m", 900), ("1h30m", 5400), ("2w", 1_209_600)]
    )
    def test_units_add_up(self, text: str, seconds: int) -> None:
        assert parse_duration(text) == timedelta(seconds=seconds)
        assert parse_duration(format_duration(parse_duration(text))) == parse_duration(text)

    def test_numbers_are_seconds(self) -> None:
        assert Holder.model_validate({"wait": 90}).wait == timedelta(seconds=90)


class TestRefusals:
    @pytest.mark.parametrize(
        "value", ["99999999999999w", 86_400_000_000_000.0, float("inf"), float("nan"), "soon"]
    )
    def test_absurd_or_unreadable_durations_are_invalid_not_a_crash(self, value: object) -> None:
        with pytest.raises(ValidationError) as refused:
            Holder.model_validate({"wait": value})

        assert refused.value.errors()[0]["loc"] == ("wait",)
