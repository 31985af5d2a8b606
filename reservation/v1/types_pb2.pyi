import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReservationState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESERVATION_STATE_UNSPECIFIED: _ClassVar[ReservationState]
    RESERVATION_STATE_RESERVED: _ClassVar[ReservationState]
    RESERVATION_STATE_CONFIRMED: _ClassVar[ReservationState]
    RESERVATION_STATE_RELEASED: _ClassVar[ReservationState]
    RESERVATION_STATE_EXPIRED: _ClassVar[ReservationState]
    RESERVATION_STATE_REJECTED: _ClassVar[ReservationState]
    RESERVATION_STATE_QUEUED: _ClassVar[ReservationState]
    RESERVATION_STATE_DEAD_LETTERED: _ClassVar[ReservationState]

class RejectReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REJECT_REASON_UNSPECIFIED: _ClassVar[RejectReason]
    REJECT_REASON_SOLD_OUT: _ClassVar[RejectReason]
    REJECT_REASON_NOT_ON_SALE: _ClassVar[RejectReason]
    REJECT_REASON_BUYER_LIMIT_EXCEEDED: _ClassVar[RejectReason]
    REJECT_REASON_UNKNOWN_SKU: _ClassVar[RejectReason]
    REJECT_REASON_INSUFFICIENT_STOCK: _ClassVar[RejectReason]
    REJECT_REASON_QUEUE_FULL: _ClassVar[RejectReason]
    REJECT_REASON_OPERATOR_REJECTED: _ClassVar[RejectReason]
    REJECT_REASON_CHANNEL_PAUSED: _ClassVar[RejectReason]
    REJECT_REASON_RATE_LIMITED: _ClassVar[RejectReason]
    REJECT_REASON_BLOCKED: _ClassVar[RejectReason]
    REJECT_REASON_SALE_PAUSED: _ClassVar[RejectReason]
RESERVATION_STATE_UNSPECIFIED: ReservationState
RESERVATION_STATE_RESERVED: ReservationState
RESERVATION_STATE_CONFIRMED: ReservationState
RESERVATION_STATE_RELEASED: ReservationState
RESERVATION_STATE_EXPIRED: ReservationState
RESERVATION_STATE_REJECTED: ReservationState
RESERVATION_STATE_QUEUED: ReservationState
RESERVATION_STATE_DEAD_LETTERED: ReservationState
REJECT_REASON_UNSPECIFIED: RejectReason
REJECT_REASON_SOLD_OUT: RejectReason
REJECT_REASON_NOT_ON_SALE: RejectReason
REJECT_REASON_BUYER_LIMIT_EXCEEDED: RejectReason
REJECT_REASON_UNKNOWN_SKU: RejectReason
REJECT_REASON_INSUFFICIENT_STOCK: RejectReason
REJECT_REASON_QUEUE_FULL: RejectReason
REJECT_REASON_OPERATOR_REJECTED: RejectReason
REJECT_REASON_CHANNEL_PAUSED: RejectReason
REJECT_REASON_RATE_LIMITED: RejectReason
REJECT_REASON_BLOCKED: RejectReason
REJECT_REASON_SALE_PAUSED: RejectReason

class Allocation(_message.Message):
    __slots__ = ("sku", "warehouse_id", "quantity")
    SKU_FIELD_NUMBER: _ClassVar[int]
    WAREHOUSE_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    sku: str
    warehouse_id: str
    quantity: int
    def __init__(self, sku: _Optional[str] = ..., warehouse_id: _Optional[str] = ..., quantity: _Optional[int] = ...) -> None: ...

class OrderLine(_message.Message):
    __slots__ = ("sku", "quantity", "warehouse_id")
    SKU_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    WAREHOUSE_ID_FIELD_NUMBER: _ClassVar[int]
    sku: str
    quantity: int
    warehouse_id: str
    def __init__(self, sku: _Optional[str] = ..., quantity: _Optional[int] = ..., warehouse_id: _Optional[str] = ...) -> None: ...

class Reservation(_message.Message):
    __slots__ = ("reservation_id", "channel", "order_id", "buyer_id", "state", "reject_reason", "allocations", "expires_at", "failed_sku", "queue_position", "lines")
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    BUYER_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REJECT_REASON_FIELD_NUMBER: _ClassVar[int]
    ALLOCATIONS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    FAILED_SKU_FIELD_NUMBER: _ClassVar[int]
    QUEUE_POSITION_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    reservation_id: str
    channel: str
    order_id: str
    buyer_id: str
    state: ReservationState
    reject_reason: RejectReason
    allocations: _containers.RepeatedCompositeFieldContainer[Allocation]
    expires_at: _timestamp_pb2.Timestamp
    failed_sku: str
    queue_position: int
    lines: _containers.RepeatedCompositeFieldContainer[OrderLine]
    def __init__(self, reservation_id: _Optional[str] = ..., channel: _Optional[str] = ..., order_id: _Optional[str] = ..., buyer_id: _Optional[str] = ..., state: _Optional[_Union[ReservationState, str]] = ..., reject_reason: _Optional[_Union[RejectReason, str]] = ..., allocations: _Optional[_Iterable[_Union[Allocation, _Mapping]]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., failed_sku: _Optional[str] = ..., queue_position: _Optional[int] = ..., lines: _Optional[_Iterable[_Union[OrderLine, _Mapping]]] = ...) -> None: ...

class StockLevel(_message.Message):
    __slots__ = ("warehouse_id", "available", "held", "confirmed", "returned", "loaded")
    WAREHOUSE_ID_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_FIELD_NUMBER: _ClassVar[int]
    RETURNED_FIELD_NUMBER: _ClassVar[int]
    LOADED_FIELD_NUMBER: _ClassVar[int]
    warehouse_id: str
    available: int
    held: int
    confirmed: int
    returned: int
    loaded: int
    def __init__(self, warehouse_id: _Optional[str] = ..., available: _Optional[int] = ..., held: _Optional[int] = ..., confirmed: _Optional[int] = ..., returned: _Optional[int] = ..., loaded: _Optional[int] = ...) -> None: ...

class StockItem(_message.Message):
    __slots__ = ("sku", "warehouse_id", "quantity")
    SKU_FIELD_NUMBER: _ClassVar[int]
    WAREHOUSE_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    sku: str
    warehouse_id: str
    quantity: int
    def __init__(self, sku: _Optional[str] = ..., warehouse_id: _Optional[str] = ..., quantity: _Optional[int] = ...) -> None: ...
