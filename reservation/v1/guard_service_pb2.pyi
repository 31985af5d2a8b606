import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BreakerState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BREAKER_STATE_UNSPECIFIED: _ClassVar[BreakerState]
    BREAKER_STATE_CLOSED: _ClassVar[BreakerState]
    BREAKER_STATE_OPEN: _ClassVar[BreakerState]

class Switch(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SWITCH_UNSPECIFIED: _ClassVar[Switch]
    SWITCH_ON: _ClassVar[Switch]
    SWITCH_OFF: _ClassVar[Switch]
BREAKER_STATE_UNSPECIFIED: BreakerState
BREAKER_STATE_CLOSED: BreakerState
BREAKER_STATE_OPEN: BreakerState
SWITCH_UNSPECIFIED: Switch
SWITCH_ON: Switch
SWITCH_OFF: Switch

class GetGuardRequest(_message.Message):
    __slots__ = ("sku",)
    SKU_FIELD_NUMBER: _ClassVar[int]
    sku: str
    def __init__(self, sku: _Optional[str] = ...) -> None: ...

class GetGuardResponse(_message.Message):
    __slots__ = ("guard",)
    GUARD_FIELD_NUMBER: _ClassVar[int]
    guard: SkuGuard
    def __init__(self, guard: _Optional[_Union[SkuGuard, _Mapping]] = ...) -> None: ...

class SetSafetyStockRequest(_message.Message):
    __slots__ = ("sku", "override", "clear_override", "live_stream")
    SKU_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_FIELD_NUMBER: _ClassVar[int]
    CLEAR_OVERRIDE_FIELD_NUMBER: _ClassVar[int]
    LIVE_STREAM_FIELD_NUMBER: _ClassVar[int]
    sku: str
    override: int
    clear_override: bool
    live_stream: Switch
    def __init__(self, sku: _Optional[str] = ..., override: _Optional[int] = ..., clear_override: _Optional[bool] = ..., live_stream: _Optional[_Union[Switch, str]] = ...) -> None: ...

class SetSafetyStockResponse(_message.Message):
    __slots__ = ("guard",)
    GUARD_FIELD_NUMBER: _ClassVar[int]
    guard: SkuGuard
    def __init__(self, guard: _Optional[_Union[SkuGuard, _Mapping]] = ...) -> None: ...

class SetBreakerThresholdRequest(_message.Message):
    __slots__ = ("sku", "channel", "threshold", "clear")
    SKU_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    CLEAR_FIELD_NUMBER: _ClassVar[int]
    sku: str
    channel: str
    threshold: int
    clear: bool
    def __init__(self, sku: _Optional[str] = ..., channel: _Optional[str] = ..., threshold: _Optional[int] = ..., clear: _Optional[bool] = ...) -> None: ...

class SetBreakerThresholdResponse(_message.Message):
    __slots__ = ("guard",)
    GUARD_FIELD_NUMBER: _ClassVar[int]
    guard: SkuGuard
    def __init__(self, guard: _Optional[_Union[SkuGuard, _Mapping]] = ...) -> None: ...

class ForceBreakerRequest(_message.Message):
    __slots__ = ("sku", "channel", "state")
    SKU_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    sku: str
    channel: str
    state: BreakerState
    def __init__(self, sku: _Optional[str] = ..., channel: _Optional[str] = ..., state: _Optional[_Union[BreakerState, str]] = ...) -> None: ...

class ForceBreakerResponse(_message.Message):
    __slots__ = ("guard",)
    GUARD_FIELD_NUMBER: _ClassVar[int]
    guard: SkuGuard
    def __init__(self, guard: _Optional[_Union[SkuGuard, _Mapping]] = ...) -> None: ...

class ListOpenBreakersRequest(_message.Message):
    __slots__ = ("page_size",)
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    def __init__(self, page_size: _Optional[int] = ...) -> None: ...

class ListOpenBreakersResponse(_message.Message):
    __slots__ = ("breakers",)
    BREAKERS_FIELD_NUMBER: _ClassVar[int]
    breakers: _containers.RepeatedCompositeFieldContainer[OpenBreaker]
    def __init__(self, breakers: _Optional[_Iterable[_Union[OpenBreaker, _Mapping]]] = ...) -> None: ...

class OpenBreaker(_message.Message):
    __slots__ = ("sku", "channel", "opened_at")
    SKU_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    OPENED_AT_FIELD_NUMBER: _ClassVar[int]
    sku: str
    channel: str
    opened_at: _timestamp_pb2.Timestamp
    def __init__(self, sku: _Optional[str] = ..., channel: _Optional[str] = ..., opened_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DailySales(_message.Message):
    __slots__ = ("day", "units")
    DAY_FIELD_NUMBER: _ClassVar[int]
    UNITS_FIELD_NUMBER: _ClassVar[int]
    day: str
    units: int
    def __init__(self, day: _Optional[str] = ..., units: _Optional[int] = ...) -> None: ...

class Breaker(_message.Message):
    __slots__ = ("channel", "state", "forced", "threshold", "own_threshold", "closes_at", "opened_at")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    FORCED_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    OWN_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    CLOSES_AT_FIELD_NUMBER: _ClassVar[int]
    OPENED_AT_FIELD_NUMBER: _ClassVar[int]
    channel: str
    state: BreakerState
    forced: BreakerState
    threshold: int
    own_threshold: bool
    closes_at: int
    opened_at: _timestamp_pb2.Timestamp
    def __init__(self, channel: _Optional[str] = ..., state: _Optional[_Union[BreakerState, str]] = ..., forced: _Optional[_Union[BreakerState, str]] = ..., threshold: _Optional[int] = ..., own_threshold: _Optional[bool] = ..., closes_at: _Optional[int] = ..., opened_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SkuGuard(_message.Message):
    __slots__ = ("sku", "available", "safety_stock", "computed_safety_stock", "override", "average_daily_sales", "factor", "live_stream", "daily_sales", "breakers")
    SKU_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    SAFETY_STOCK_FIELD_NUMBER: _ClassVar[int]
    COMPUTED_SAFETY_STOCK_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_DAILY_SALES_FIELD_NUMBER: _ClassVar[int]
    FACTOR_FIELD_NUMBER: _ClassVar[int]
    LIVE_STREAM_FIELD_NUMBER: _ClassVar[int]
    DAILY_SALES_FIELD_NUMBER: _ClassVar[int]
    BREAKERS_FIELD_NUMBER: _ClassVar[int]
    sku: str
    available: int
    safety_stock: int
    computed_safety_stock: int
    override: int
    average_daily_sales: float
    factor: float
    live_stream: bool
    daily_sales: _containers.RepeatedCompositeFieldContainer[DailySales]
    breakers: _containers.RepeatedCompositeFieldContainer[Breaker]
    def __init__(self, sku: _Optional[str] = ..., available: _Optional[int] = ..., safety_stock: _Optional[int] = ..., computed_safety_stock: _Optional[int] = ..., override: _Optional[int] = ..., average_daily_sales: _Optional[float] = ..., factor: _Optional[float] = ..., live_stream: _Optional[bool] = ..., daily_sales: _Optional[_Iterable[_Union[DailySales, _Mapping]]] = ..., breakers: _Optional[_Iterable[_Union[Breaker, _Mapping]]] = ...) -> None: ...
