"""schema/types.py: the GraphQL enums follow the code's own lists."""

from core.pipeline import MODEL_TYPES
from schema.types import ModelStatus, ModelType
from server.store.tables import ModelStatus as StoredStatus


def test_model_types_are_the_pipelines_in_its_order():
    assert tuple(t.value for t in ModelType) == MODEL_TYPES


def test_model_status_is_the_stored_one():
    assert ModelStatus is StoredStatus


def test_a_progress_event_copies_only_its_data_fields():
    from schema.types import ProgressEvent

    event = ProgressEvent.from_event("1-0", {"type": "progress", "phase_text": "x", "extra": 1})
    assert (event.event_id, event.type, event.task_id) == ("1-0", "progress", "")
    assert event.status is None
