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
