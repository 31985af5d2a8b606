from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SettlementLineKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SETTLEMENT_LINE_KIND_UNSPECIFIED: _ClassVar[SettlementLineKind]
    SETTLEMENT_LINE_KIND_SALE: _ClassVar[SettlementLineKind]
    SETTLEMENT_LINE_KIND_REFUND: _ClassVar[SettlementLineKind]
    SETTLEMENT_LINE_KIND_FEE: _ClassVar[SettlementLineKind]
    SETTLEMENT_LINE_KIND_ADJUSTMENT: _ClassVar[SettlementLineKind]
SETTLEMENT_LINE_KIND_UNSPECIFIED: SettlementLineKind
SETTLEMENT_LINE_KIND_SALE: SettlementLineKind
SETTLEMENT_LINE_KIND_REFUND: SettlementLineKind
SETTLEMENT_LINE_KIND_FEE: SettlementLineKind
SETTLEMENT_LINE_KIND_ADJUSTMENT: SettlementLineKind

class SettlementLine(_message.Message):
    __slots__ = ("line_no", "kind", "channel_order_id", "hub_ref", "tracking_number", "goods_cents", "discount_cents", "fee_cents", "subsidy_cents", "refund_cents", "payout_cents")
    LINE_NO_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    HUB_REF_FIELD_NUMBER: _ClassVar[int]
    TRACKING_NUMBER_FIELD_NUMBER: _ClassVar[int]
    GOODS_CENTS_FIELD_NUMBER: _ClassVar[int]
    DISCOUNT_CENTS_FIELD_NUMBER: _ClassVar[int]
    FEE_CENTS_FIELD_NUMBER: _ClassVar[int]
    SUBSIDY_CENTS_FIELD_NUMBER: _ClassVar[int]
    REFUND_CENTS_FIELD_NUMBER: _ClassVar[int]
    PAYOUT_CENTS_FIELD_NUMBER: _ClassVar[int]
    line_no: int
    kind: SettlementLineKind
    channel_order_id: str
    hub_ref: str
    tracking_number: str
    goods_cents: int
    discount_cents: int
    fee_cents: int
    subsidy_cents: int
    refund_cents: int
    payout_cents: int
    def __init__(self, line_no: _Optional[int] = ..., kind: _Optional[_Union[SettlementLineKind, str]] = ..., channel_order_id: _Optional[str] = ..., hub_ref: _Optional[str] = ..., tracking_number: _Optional[str] = ..., goods_cents: _Optional[int] = ..., discount_cents: _Optional[int] = ..., fee_cents: _Optional[int] = ..., subsidy_cents: _Optional[int] = ..., refund_cents: _Optional[int] = ..., payout_cents: _Optional[int] = ...) -> None: ...

class ImportStatementRequest(_message.Message):
    __slots__ = ("channel", "shop", "settle_day", "name", "sha256", "lines")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SHOP_FIELD_NUMBER: _ClassVar[int]
    SETTLE_DAY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    channel: str
    shop: str
    settle_day: str
    name: str
    sha256: str
    lines: _containers.RepeatedCompositeFieldContainer[SettlementLine]
    def __init__(self, channel: _Optional[str] = ..., shop: _Optional[str] = ..., settle_day: _Optional[str] = ..., name: _Optional[str] = ..., sha256: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[SettlementLine, _Mapping]]] = ...) -> None: ...

class ImportStatementResponse(_message.Message):
    __slots__ = ("outcome", "version", "lines")
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    outcome: str
    version: int
    lines: int
    def __init__(self, outcome: _Optional[str] = ..., version: _Optional[int] = ..., lines: _Optional[int] = ...) -> None: ...

class SettlementTotal(_message.Message):
    __slots__ = ("channel", "shop", "lines", "goods_cents", "discount_cents", "fee_cents", "subsidy_cents", "refund_cents", "payout_cents")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SHOP_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    GOODS_CENTS_FIELD_NUMBER: _ClassVar[int]
    DISCOUNT_CENTS_FIELD_NUMBER: _ClassVar[int]
    FEE_CENTS_FIELD_NUMBER: _ClassVar[int]
    SUBSIDY_CENTS_FIELD_NUMBER: _ClassVar[int]
    REFUND_CENTS_FIELD_NUMBER: _ClassVar[int]
    PAYOUT_CENTS_FIELD_NUMBER: _ClassVar[int]
    channel: str
    shop: str
    lines: int
    goods_cents: int
    discount_cents: int
    fee_cents: int
    subsidy_cents: int
    refund_cents: int
    payout_cents: int
    def __init__(self, channel: _Optional[str] = ..., shop: _Optional[str] = ..., lines: _Optional[int] = ..., goods_cents: _Optional[int] = ..., discount_cents: _Optional[int] = ..., fee_cents: _Optional[int] = ..., subsidy_cents: _Optional[int] = ..., refund_cents: _Optional[int] = ..., payout_cents: _Optional[int] = ...) -> None: ...

class DifferenceClassCount(_message.Message):
    __slots__ = ("difference_class", "count")
    DIFFERENCE_CLASS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    difference_class: str
    count: int
    def __init__(self, difference_class: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class GetSettlementReportRequest(_message.Message):
    __slots__ = ("day", "channel")
    DAY_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    day: str
    channel: str
    def __init__(self, day: _Optional[str] = ..., channel: _Optional[str] = ...) -> None: ...

class GetSettlementReportResponse(_message.Message):
    __slots__ = ("day", "totals", "open_by_class", "found_on_day")
    DAY_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    OPEN_BY_CLASS_FIELD_NUMBER: _ClassVar[int]
    FOUND_ON_DAY_FIELD_NUMBER: _ClassVar[int]
    day: str
    totals: _containers.RepeatedCompositeFieldContainer[SettlementTotal]
    open_by_class: _containers.RepeatedCompositeFieldContainer[DifferenceClassCount]
    found_on_day: _containers.RepeatedCompositeFieldContainer[DifferenceClassCount]
    def __init__(self, day: _Optional[str] = ..., totals: _Optional[_Iterable[_Union[SettlementTotal, _Mapping]]] = ..., open_by_class: _Optional[_Iterable[_Union[DifferenceClassCount, _Mapping]]] = ..., found_on_day: _Optional[_Iterable[_Union[DifferenceClassCount, _Mapping]]] = ...) -> None: ...

class SettlementDifference(_message.Message):
    __slots__ = ("difference_id", "difference_class", "channel", "shop", "order_key", "hub_ref", "settle_day", "hub_cents", "settled_cents", "detail", "state", "opened_at_ms", "checked_day", "closed_at_ms", "closed_by", "reason")
    DIFFERENCE_ID_FIELD_NUMBER: _ClassVar[int]
    DIFFERENCE_CLASS_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SHOP_FIELD_NUMBER: _ClassVar[int]
    ORDER_KEY_FIELD_NUMBER: _ClassVar[int]
    HUB_REF_FIELD_NUMBER: _ClassVar[int]
    SETTLE_DAY_FIELD_NUMBER: _ClassVar[int]
    HUB_CENTS_FIELD_NUMBER: _ClassVar[int]
    SETTLED_CENTS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    OPENED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    CHECKED_DAY_FIELD_NUMBER: _ClassVar[int]
    CLOSED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    CLOSED_BY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    difference_id: str
    difference_class: str
    channel: str
    shop: str
    order_key: str
    hub_ref: str
    settle_day: str
    hub_cents: int
    settled_cents: int
    detail: str
    state: str
    opened_at_ms: int
    checked_day: str
    closed_at_ms: int
    closed_by: str
    reason: str
    def __init__(self, difference_id: _Optional[str] = ..., difference_class: _Optional[str] = ..., channel: _Optional[str] = ..., shop: _Optional[str] = ..., order_key: _Optional[str] = ..., hub_ref: _Optional[str] = ..., settle_day: _Optional[str] = ..., hub_cents: _Optional[int] = ..., settled_cents: _Optional[int] = ..., detail: _Optional[str] = ..., state: _Optional[str] = ..., opened_at_ms: _Optional[int] = ..., checked_day: _Optional[str] = ..., closed_at_ms: _Optional[int] = ..., closed_by: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ListSettlementDifferencesRequest(_message.Message):
    __slots__ = ("channel", "day", "difference_class", "state", "page_size", "page_token")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    DAY_FIELD_NUMBER: _ClassVar[int]
    DIFFERENCE_CLASS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    channel: str
    day: str
    difference_class: str
    state: str
    page_size: int
    page_token: str
    def __init__(self, channel: _Optional[str] = ..., day: _Optional[str] = ..., difference_class: _Optional[str] = ..., state: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSettlementDifferencesResponse(_message.Message):
    __slots__ = ("differences", "next_page_token")
    DIFFERENCES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    differences: _containers.RepeatedCompositeFieldContainer[SettlementDifference]
    next_page_token: str
    def __init__(self, differences: _Optional[_Iterable[_Union[SettlementDifference, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ResolveDifferenceRequest(_message.Message):
    __slots__ = ("difference_id", "operator", "reason")
    DIFFERENCE_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    difference_id: str
    operator: str
    reason: str
    def __init__(self, difference_id: _Optional[str] = ..., operator: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ResolveDifferenceResponse(_message.Message):
    __slots__ = ("difference",)
    DIFFERENCE_FIELD_NUMBER: _ClassVar[int]
    difference: SettlementDifference
    def __init__(self, difference: _Optional[_Union[SettlementDifference, _Mapping]] = ...) -> None: ...
