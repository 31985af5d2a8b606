from reservation.v1 import order_service_pb2 as _order_service_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetInterceptionRulesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class InterceptionRules(_message.Message):
    __slots__ = ("version", "document_json")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_JSON_FIELD_NUMBER: _ClassVar[int]
    version: int
    document_json: str
    def __init__(self, version: _Optional[int] = ..., document_json: _Optional[str] = ...) -> None: ...

class GetInterceptionRulesResponse(_message.Message):
    __slots__ = ("rules",)
    RULES_FIELD_NUMBER: _ClassVar[int]
    rules: InterceptionRules
    def __init__(self, rules: _Optional[_Union[InterceptionRules, _Mapping]] = ...) -> None: ...

class PutInterceptionRulesResponse(_message.Message):
    __slots__ = ("rules",)
    RULES_FIELD_NUMBER: _ClassVar[int]
    rules: InterceptionRules
    def __init__(self, rules: _Optional[_Union[InterceptionRules, _Mapping]] = ...) -> None: ...

class SetInterceptionRuleEnabledResponse(_message.Message):
    __slots__ = ("rules",)
    RULES_FIELD_NUMBER: _ClassVar[int]
    rules: InterceptionRules
    def __init__(self, rules: _Optional[_Union[InterceptionRules, _Mapping]] = ...) -> None: ...

class PutInterceptionRulesRequest(_message.Message):
    __slots__ = ("document_json", "comment", "expected_version", "actor", "validate_only")
    DOCUMENT_JSON_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    document_json: str
    comment: str
    expected_version: int
    actor: str
    validate_only: bool
    def __init__(self, document_json: _Optional[str] = ..., comment: _Optional[str] = ..., expected_version: _Optional[int] = ..., actor: _Optional[str] = ..., validate_only: _Optional[bool] = ...) -> None: ...

class SetInterceptionRuleEnabledRequest(_message.Message):
    __slots__ = ("name", "enabled", "actor")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    name: str
    enabled: bool
    actor: str
    def __init__(self, name: _Optional[str] = ..., enabled: _Optional[bool] = ..., actor: _Optional[str] = ...) -> None: ...

class Review(_message.Message):
    __slots__ = ("key", "rule", "grade", "reason", "suggest", "status", "operator", "opened_at_ms", "closed_at_ms", "escalated", "state_before", "rules_version", "note")
    KEY_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    GRADE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SUGGEST_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    OPENED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    CLOSED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    ESCALATED_FIELD_NUMBER: _ClassVar[int]
    STATE_BEFORE_FIELD_NUMBER: _ClassVar[int]
    RULES_VERSION_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    key: _order_service_pb2.OrderKey
    rule: str
    grade: str
    reason: str
    suggest: str
    status: str
    operator: str
    opened_at_ms: int
    closed_at_ms: int
    escalated: bool
    state_before: str
    rules_version: int
    note: str
    def __init__(self, key: _Optional[_Union[_order_service_pb2.OrderKey, _Mapping]] = ..., rule: _Optional[str] = ..., grade: _Optional[str] = ..., reason: _Optional[str] = ..., suggest: _Optional[str] = ..., status: _Optional[str] = ..., operator: _Optional[str] = ..., opened_at_ms: _Optional[int] = ..., closed_at_ms: _Optional[int] = ..., escalated: _Optional[bool] = ..., state_before: _Optional[str] = ..., rules_version: _Optional[int] = ..., note: _Optional[str] = ...) -> None: ...

class ListReviewsRequest(_message.Message):
    __slots__ = ("status", "page_size")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    status: str
    page_size: int
    def __init__(self, status: _Optional[str] = ..., page_size: _Optional[int] = ...) -> None: ...

class ListReviewsResponse(_message.Message):
    __slots__ = ("reviews",)
    REVIEWS_FIELD_NUMBER: _ClassVar[int]
    reviews: _containers.RepeatedCompositeFieldContainer[Review]
    def __init__(self, reviews: _Optional[_Iterable[_Union[Review, _Mapping]]] = ...) -> None: ...

class ResolveReviewRequest(_message.Message):
    __slots__ = ("key", "decision", "operator", "address", "note")
    KEY_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    key: _order_service_pb2.OrderKey
    decision: str
    operator: str
    address: _order_service_pb2.Address
    note: str
    def __init__(self, key: _Optional[_Union[_order_service_pb2.OrderKey, _Mapping]] = ..., decision: _Optional[str] = ..., operator: _Optional[str] = ..., address: _Optional[_Union[_order_service_pb2.Address, _Mapping]] = ..., note: _Optional[str] = ...) -> None: ...

class ResolveReviewResponse(_message.Message):
    __slots__ = ("review", "order")
    REVIEW_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    review: Review
    order: _order_service_pb2.Order
    def __init__(self, review: _Optional[_Union[Review, _Mapping]] = ..., order: _Optional[_Union[_order_service_pb2.Order, _Mapping]] = ...) -> None: ...

class GetReviewStatsRequest(_message.Message):
    __slots__ = ("day",)
    DAY_FIELD_NUMBER: _ClassVar[int]
    day: str
    def __init__(self, day: _Optional[str] = ...) -> None: ...

class GetReviewStatsResponse(_message.Message):
    __slots__ = ("opened", "closed_by_person", "closed_automatically", "self_healing_rate")
    OPENED_FIELD_NUMBER: _ClassVar[int]
    CLOSED_BY_PERSON_FIELD_NUMBER: _ClassVar[int]
    CLOSED_AUTOMATICALLY_FIELD_NUMBER: _ClassVar[int]
    SELF_HEALING_RATE_FIELD_NUMBER: _ClassVar[int]
    opened: int
    closed_by_person: int
    closed_automatically: int
    self_healing_rate: float
    def __init__(self, opened: _Optional[int] = ..., closed_by_person: _Optional[int] = ..., closed_automatically: _Optional[int] = ..., self_healing_rate: _Optional[float] = ...) -> None: ...
