"""The converter against the documented wire examples, with drift detection on."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import cattrs
import pytest

from imaginepro_async import Button, Message, Status
from imaginepro_async._converters import camel, describe_structure_error, make_converter
from imaginepro_async._models import ButtonRequest, CreatedJob, ImagineRequest

# The Message example of the contract (doc), verbatim but for elided ids.
DOC_MESSAGE = {
    "messageId": "d15c1541-229a-442b-9873-d3494dede12a",
    "prompt": "A little cat running on the grass",
    "originalUrl": "https://cdn.discordapp.com/attachments/x.png",
    "uri": "https://cdn.imaginepro.ai/storage/x.png",
    "images": [
        "https://cdn.imaginepro.ai/0.png",
        "https://cdn.imaginepro.ai/1.png",
        "https://cdn.imaginepro.ai/2.png",
        "https://cdn.imaginepro.ai/3.png",
    ],
    "progress": 100,
    "status": "DONE",
    "createdAt": "2023-08-01T14:03:01.817Z",
    "updatedAt": "2023-08-01T14:03:01.817Z",
    "buttons": ["U1", "U2", "U3", "U4", "🔄", "V1", "V2", "V3", "V4"],
    "originatingMessageId": "e57fb09d-25f0-49f7-8f0f-2e902ffe9fdd",
    "ref": "",
    "error": None,
}
DOC_CREATED = {
    "success": True,
    "messageId": "d15c1541-229a-442b-9873-d3494dede12a",
    "createdAt": "2023-08-01T14:03:01.817Z",
}


def test_documented_message_loads_without_unknown_keys() -> None:
    """The documented Message has exactly the fields our model knows."""
    message = make_converter(forbid_extra_keys=True).structure(DOC_MESSAGE, Message)
    assert message.status is Status.DONE
    assert message.progress == 100
    assert message.buttons[4] == Button.REROLL
    assert message.created_at == datetime(2023, 8, 1, 14, 3, 1, 817000, tzinfo=UTC)
    assert message.originating_message_id == "e57fb09d-25f0-49f7-8f0f-2e902ffe9fdd"
    assert message.is_terminal and message.succeeded


def test_documented_creation_answer_loads() -> None:
    """The documented creation answer loads with drift detection on."""
    created = make_converter(forbid_extra_keys=True).structure(DOC_CREATED, CreatedJob)
    assert created.message_id == DOC_CREATED["messageId"]
    assert created.created_at is not None and created.created_at.tzinfo is not None


def test_unknown_keys_are_ignored_by_default() -> None:
    """A field the API adds later does not break the default converter."""
    message = make_converter().structure({**DOC_MESSAGE, "brandNewField": 1}, Message)
    assert message.message_id == DOC_MESSAGE["messageId"]


@pytest.mark.parametrize(
    ("raw", "expected"), [("45", 45), (45, 45), (45.7, 45), ("12.5", 12), (None, 0), ("", 0)]
)
def test_progress_accepts_numbers_and_numeric_strings(raw: object, expected: int) -> None:
    """progress may be a number, a numeric string, or missing (doc conflict)."""
    data = {"messageId": "a", "status": "PROCESSING", "progress": raw}
    assert make_converter().structure(data, Message).progress == expected


def test_unknown_status_is_kept_and_not_terminal() -> None:
    """A status outside the documented four is kept as sent and is not terminal."""
    message = make_converter().structure({"messageId": "a", "status": "SUBMITTED"}, Message)
    assert message.status.value == "SUBMITTED"
    assert not message.status.is_known
    assert not message.is_terminal


def test_naive_timestamps_are_taken_as_utc() -> None:
    """A timestamp without a zone becomes timezone-aware (UTC)."""
    data = {"messageId": "a", "status": "DONE", "createdAt": "2023-08-01T14:03:01"}
    created_at = make_converter().structure(data, Message).created_at
    assert created_at is not None and created_at.tzinfo is UTC


def test_null_lists_become_empty() -> None:
    """images and buttons sent as null are empty tuples."""
    data = {"messageId": "a", "status": "FAIL", "images": None, "buttons": None}
    message = make_converter().structure(data, Message)
    assert message.images == () and message.buttons == ()


def test_requests_are_camel_case_without_none_fields() -> None:
    """Request bodies use camelCase and leave unset optional fields out."""
    converter = make_converter()
    body = converter.unstructure(
        ButtonRequest(
            message_id="m", button=Button.VARY_REGION, mask="QUJD", webhook_override="https://x"
        )
    )
    assert body == {
        "messageId": "m",
        "button": "Vary (Region)",
        "mask": "QUJD",
        "webhookOverride": "https://x",
    }
    assert converter.unstructure(ImagineRequest(prompt="p", disable_cdn=False)) == {
        "prompt": "p",
        "disableCdn": False,
    }


def test_camel() -> None:
    """snake_case names map to the API's camelCase."""
    assert camel("originating_message_id") == "originatingMessageId"
    assert camel("uri") == "uri"


def test_button_strings_match_the_contract() -> None:
    """Buttons carry the exact strings of the contract, emoji included."""
    assert Button.REROLL.value == "\U0001f504"
    assert Button.PAN_LEFT.value == "⬅️"
    assert len(Button.PAN_LEFT) == 2
    assert Button.VARY_REGION.value == "Vary (Region)"
    assert len(Button) == 26


def test_ids_are_strict_and_null_text_is_not_the_string_none() -> None:
    """A numeric or null messageId is refused, never turned into "42" or "None"."""
    converter = make_converter()
    for bad in (42, None, ["a"]):
        with pytest.raises(cattrs.BaseValidationError) as caught:
            converter.structure({"success": True, "messageId": bad}, CreatedJob)
        assert "message_id" in describe_structure_error(caught.value, CreatedJob)
    with pytest.raises(cattrs.BaseValidationError) as caught:
        converter.structure({"id": "a", "prompt": None}, _Strict)
    assert "prompt" in describe_structure_error(caught.value, _Strict)


@attrs.frozen(kw_only=True)
class _Strict:
    id: str
    prompt: str


def test_an_explicit_null_parent_id_is_accepted() -> None:
    """originatingMessageId: null (an imagine job) is None, not an error."""
    message = make_converter().structure(
        {"messageId": "abc", "status": "DONE", "originatingMessageId": None}, Message
    )
    assert message.originating_message_id is None
