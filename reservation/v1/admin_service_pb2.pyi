import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from reservation.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LoadMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LOAD_MODE_UNSPECIFIED: _ClassVar[LoadMode]
    LOAD_MODE_SET: _ClassVar[LoadMode]
    LOAD_MODE_ADD: _ClassVar[LoadMode]

class FlashSaleState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FLASH_SALE_STATE_UNSPECIFIED: _ClassVar[FlashSaleState]
    FLASH_SALE_STATE_SCHEDULED: _ClassVar[FlashSaleState]
    FLASH_SALE_STATE_ACTIVE: _ClassVar[FlashSaleState]
    FLASH_SALE_STATE_ENDED: _ClassVar[FlashSaleState]
    FLASH_SALE_STATE_STOPPED: _ClassVar[FlashSaleState]
    FLASH_SALE_STATE_PAUSED: _ClassVar[FlashSaleState]

class DifferenceKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DIFFERENCE_KIND_UNSPECIFIED: _ClassVar[DifferenceKind]
    DIFFERENCE_KIND_NOT_YET_WRITTEN_BACK: _ClassVar[DifferenceKind]
    DIFFERENCE_KIND_UNKNOWN_TO_SERVICE: _ClassVar[DifferenceKind]
    DIFFERENCE_KIND_QUANTITY_MISMATCH: _ClassVar[DifferenceKind]

class BlockKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BLOCK_KIND_UNSPECIFIED: _ClassVar[BlockKind]
    BLOCK_KIND_BUYER: _ClassVar[BlockKind]
    BLOCK_KIND_DEVICE: _ClassVar[BlockKind]
    BLOCK_KIND_IP: _ClassVar[BlockKind]
LOAD_MODE_UNSPECIFIED: LoadMode
LOAD_MODE_SET: LoadMode
LOAD_MODE_ADD: LoadMode
FLASH_SALE_STATE_UNSPECIFIED: FlashSaleState
FLASH_SALE_STATE_SCHEDULED: FlashSaleState
FLASH_SALE_STATE_ACTIVE: FlashSaleState
FLASH_SALE_STATE_ENDED: FlashSaleState
FLASH_SALE_STATE_STOPPED: FlashSaleState
FLASH_SALE_STATE_PAUSED: FlashSaleState
DIFFERENCE_KIND_UNSPECIFIED: DifferenceKind
DIFFERENCE_KIND_NOT_YET_WRITTEN_BACK: DifferenceKind
DIFFERENCE_KIND_UNKNOWN_TO_SERVICE: DifferenceKind
DIFFERENCE_KIND_QUANTITY_MISMATCH: DifferenceKind
BLOCK_KIND_UNSPECIFIED: BlockKind
BLOCK_KIND_BUYER: BlockKind
BLOCK_KIND_DEVICE: BlockKind
BLOCK_KIND_IP: BlockKind

class LoadStockRequest(_message.Message):
    __slots__ = ("items", "mode")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[_types_pb2.StockItem]
    mode: LoadMode
    def __init__(self, items: _Optional[_Iterable[_Union[_types_pb2.StockItem, _Mapping]]] = ..., mode: _Optional[_Union[LoadMode, str]] = ...) -> None: ...

class LoadStockResponse(_message.Message):
    __slots__ = ("stocks",)
    STOCKS_FIELD_NUMBER: _ClassVar[int]
    stocks: _containers.RepeatedCompositeFieldContainer[SkuStock]
    def __init__(self, stocks: _Optional[_Iterable[_Union[SkuStock, _Mapping]]] = ...) -> None: ...

class SkuStock(_message.Message):
    __slots__ = ("sku", "levels")
    SKU_FIELD_NUMBER: _ClassVar[int]
    LEVELS_FIELD_NUMBER: _ClassVar[int]
    sku: str
    levels: _containers.RepeatedCompositeFieldContainer[_types_pb2.StockLevel]
    def __init__(self, sku: _Optional[str] = ..., levels: _Optional[_Iterable[_Union[_types_pb2.StockLevel, _Mapping]]] = ...) -> None: ...

class StartFlashSaleRequest(_message.Message):
    __slots__ = ("sale_id", "items", "starts_at", "ends_at", "per_buyer_limit", "hold_ttl", "queue_deadline", "buyer_rate", "device_rate", "ip_rate", "create_skus", "validate_only")
    SALE_ID_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    STARTS_AT_FIELD_NUMBER: _ClassVar[int]
    ENDS_AT_FIELD_NUMBER: _ClassVar[int]
    PER_BUYER_LIMIT_FIELD_NUMBER: _ClassVar[int]
    HOLD_TTL_FIELD_NUMBER: _ClassVar[int]
    QUEUE_DEADLINE_FIELD_NUMBER: _ClassVar[int]
    BUYER_RATE_FIELD_NUMBER: _ClassVar[int]
    DEVICE_RATE_FIELD_NUMBER: _ClassVar[int]
    IP_RATE_FIELD_NUMBER: _ClassVar[int]
    CREATE_SKUS_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    sale_id: str
    items: _containers.RepeatedCompositeFieldContainer[_types_pb2.StockItem]
    starts_at: _timestamp_pb2.Timestamp
    ends_at: _timestamp_pb2.Timestamp
    per_buyer_limit: int
    hold_ttl: _duration_pb2.Duration
    queue_deadline: _duration_pb2.Duration
    buyer_rate: RateLimit
    device_rate: RateLimit
    ip_rate: RateLimit
    create_skus: bool
    validate_only: bool
    def __init__(self, sale_id: _Optional[str] = ..., items: _Optional[_Iterable[_Union[_types_pb2.StockItem, _Mapping]]] = ..., starts_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ends_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., per_buyer_limit: _Optional[int] = ..., hold_ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., queue_deadline: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., buyer_rate: _Optional[_Union[RateLimit, _Mapping]] = ..., device_rate: _Optional[_Union[RateLimit, _Mapping]] = ..., ip_rate: _Optional[_Union[RateLimit, _Mapping]] = ..., create_skus: _Optional[bool] = ..., validate_only: _Optional[bool] = ...) -> None: ...

class RescheduleFlashSaleRequest(_message.Message):
    __slots__ = ("sale_id", "starts_at", "ends_at", "validate_only")
    SALE_ID_FIELD_NUMBER: _ClassVar[int]
    STARTS_AT_FIELD_NUMBER: _ClassVar[int]
    ENDS_AT_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    sale_id: str
    starts_at: _timestamp_pb2.Timestamp
    ends_at: _timestamp_pb2.Timestamp
    validate_only: bool
    def __init__(self, sale_id: _Optional[str] = ..., starts_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ends_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., validate_only: _Optional[bool] = ...) -> None: ...

class RescheduleFlashSaleResponse(_message.Message):
    __slots__ = ("sale",)
    SALE_FIELD_NUMBER: _ClassVar[int]
    sale: FlashSale
    def __init__(self, sale: _Optional[_Union[FlashSale, _Mapping]] = ...) -> None: ...

class PauseFlashSaleRequest(_message.Message):
    __slots__ = ("sale_id",)
    SALE_ID_FIELD_NUMBER: _ClassVar[int]
    sale_id: str
    def __init__(self, sale_id: _Optional[str] = ...) -> None: ...

class PauseFlashSaleResponse(_message.Message):
    __slots__ = ("sale",)
    SALE_FIELD_NUMBER: _ClassVar[int]
    sale: FlashSale
    def __init__(self, sale: _Optional[_Union[FlashSale, _Mapping]] = ...) -> None: ...

class ResumeFlashSaleRequest(_message.Message):
    __slots__ = ("sale_id",)
    SALE_ID_FIELD_NUMBER: _ClassVar[int]
    sale_id: str
    def __init__(self, sale_id: _Optional[str] = ...) -> None: ...

class ResumeFlashSaleResponse(_message.Message):
    __slots__ = ("sale",)
    SALE_FIELD_NUMBER: _ClassVar[int]
    sale: FlashSale
    def __init__(self, sale: _Optional[_Union[FlashSale, _Mapping]] = ...) -> None: ...

class RateLimit(_message.Message):
    __slots__ = ("orders", "per")
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    PER_FIELD_NUMBER: _ClassVar[int]
    orders: int
    per: _duration_pb2.Duration
    def __init__(self, orders: _Optional[int] = ..., per: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class StartFlashSaleResponse(_message.Message):
    __slots__ = ("sale",)
    SALE_FIELD_NUMBER: _ClassVar[int]
    sale: FlashSale
    def __init__(self, sale: _Optional[_Union[FlashSale, _Mapping]] = ...) -> None: ...

class StopFlashSaleRequest(_message.Message):
    __slots__ = ("sale_id",)
    SALE_ID_FIELD_NUMBER: _ClassVar[int]
    sale_id: str
    def __init__(self, sale_id: _Optional[str] = ...) -> None: ...

class StopFlashSaleResponse(_message.Message):
    __slots__ = ("sale",)
    SALE_FIELD_NUMBER: _ClassVar[int]
    sale: FlashSale
    def __init__(self, sale: _Optional[_Union[FlashSale, _Mapping]] = ...) -> None: ...

class GetFlashSaleRequest(_message.Message):
    __slots__ = ("sale_id",)
    SALE_ID_FIELD_NUMBER: _ClassVar[int]
    sale_id: str
    def __init__(self, sale_id: _Optional[str] = ...) -> None: ...

class GetFlashSaleResponse(_message.Message):
    __slots__ = ("sale",)
    SALE_FIELD_NUMBER: _ClassVar[int]
    sale: FlashSale
    def __init__(self, sale: _Optional[_Union[FlashSale, _Mapping]] = ...) -> None: ...

class ListFlashSalesRequest(_message.Message):
    __slots__ = ("page_size",)
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    def __init__(self, page_size: _Optional[int] = ...) -> None: ...

class ListFlashSalesResponse(_message.Message):
    __slots__ = ("sales",)
    SALES_FIELD_NUMBER: _ClassVar[int]
    sales: _containers.RepeatedCompositeFieldContainer[FlashSale]
    def __init__(self, sales: _Optional[_Iterable[_Union[FlashSale, _Mapping]]] = ...) -> None: ...

class FlashSale(_message.Message):
    __slots__ = ("sale_id", "state", "starts_at", "ends_at", "per_buyer_limit", "hold_ttl", "queue_deadline", "items", "buyer_rate", "device_rate", "ip_rate")
    SALE_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STARTS_AT_FIELD_NUMBER: _ClassVar[int]
    ENDS_AT_FIELD_NUMBER: _ClassVar[int]
    PER_BUYER_LIMIT_FIELD_NUMBER: _ClassVar[int]
    HOLD_TTL_FIELD_NUMBER: _ClassVar[int]
    QUEUE_DEADLINE_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    BUYER_RATE_FIELD_NUMBER: _ClassVar[int]
    DEVICE_RATE_FIELD_NUMBER: _ClassVar[int]
    IP_RATE_FIELD_NUMBER: _ClassVar[int]
    sale_id: str
    state: FlashSaleState
    starts_at: _timestamp_pb2.Timestamp
    ends_at: _timestamp_pb2.Timestamp
    per_buyer_limit: int
    hold_ttl: _duration_pb2.Duration
    queue_deadline: _duration_pb2.Duration
    items: _containers.RepeatedCompositeFieldContainer[FlashSaleItem]
    buyer_rate: RateLimit
    device_rate: RateLimit
    ip_rate: RateLimit
    def __init__(self, sale_id: _Optional[str] = ..., state: _Optional[_Union[FlashSaleState, str]] = ..., starts_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ends_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., per_buyer_limit: _Optional[int] = ..., hold_ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., queue_deadline: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., items: _Optional[_Iterable[_Union[FlashSaleItem, _Mapping]]] = ..., buyer_rate: _Optional[_Union[RateLimit, _Mapping]] = ..., device_rate: _Optional[_Union[RateLimit, _Mapping]] = ..., ip_rate: _Optional[_Union[RateLimit, _Mapping]] = ...) -> None: ...

class FlashSaleItem(_message.Message):
    __slots__ = ("sku", "warehouse_id", "quantity", "level")
    SKU_FIELD_NUMBER: _ClassVar[int]
    WAREHOUSE_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    sku: str
    warehouse_id: str
    quantity: int
    level: _types_pb2.StockLevel
    def __init__(self, sku: _Optional[str] = ..., warehouse_id: _Optional[str] = ..., quantity: _Optional[int] = ..., level: _Optional[_Union[_types_pb2.StockLevel, _Mapping]] = ...) -> None: ...

class ListDeadLettersRequest(_message.Message):
    __slots__ = ("sku", "page_size")
    SKU_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    sku: str
    page_size: int
    def __init__(self, sku: _Optional[str] = ..., page_size: _Optional[int] = ...) -> None: ...

class ListDeadLettersResponse(_message.Message):
    __slots__ = ("reservations",)
    RESERVATIONS_FIELD_NUMBER: _ClassVar[int]
    reservations: _containers.RepeatedCompositeFieldContainer[_types_pb2.Reservation]
    def __init__(self, reservations: _Optional[_Iterable[_Union[_types_pb2.Reservation, _Mapping]]] = ...) -> None: ...

class RequeueDeadLetterRequest(_message.Message):
    __slots__ = ("channel", "order_id")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    channel: str
    order_id: str
    def __init__(self, channel: _Optional[str] = ..., order_id: _Optional[str] = ...) -> None: ...

class RequeueDeadLetterResponse(_message.Message):
    __slots__ = ("reservation",)
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    reservation: _types_pb2.Reservation
    def __init__(self, reservation: _Optional[_Union[_types_pb2.Reservation, _Mapping]] = ...) -> None: ...

class RejectDeadLetterRequest(_message.Message):
    __slots__ = ("channel", "order_id")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    channel: str
    order_id: str
    def __init__(self, channel: _Optional[str] = ..., order_id: _Optional[str] = ...) -> None: ...

class RejectDeadLetterResponse(_message.Message):
    __slots__ = ("reservation",)
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    reservation: _types_pb2.Reservation
    def __init__(self, reservation: _Optional[_Union[_types_pb2.Reservation, _Mapping]] = ...) -> None: ...

class ReconcileRequest(_message.Message):
    __slots__ = ("ledger", "group")
    LEDGER_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    ledger: _containers.RepeatedCompositeFieldContainer[LedgerTotal]
    group: str
    def __init__(self, ledger: _Optional[_Iterable[_Union[LedgerTotal, _Mapping]]] = ..., group: _Optional[str] = ...) -> None: ...

class BootstrapWriteBackGroupRequest(_message.Message):
    __slots__ = ("group",)
    GROUP_FIELD_NUMBER: _ClassVar[int]
    group: str
    def __init__(self, group: _Optional[str] = ...) -> None: ...

class BootstrapWriteBackGroupResponse(_message.Message):
    __slots__ = ("totals",)
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    totals: _containers.RepeatedCompositeFieldContainer[LedgerTotal]
    def __init__(self, totals: _Optional[_Iterable[_Union[LedgerTotal, _Mapping]]] = ...) -> None: ...

class LedgerTotal(_message.Message):
    __slots__ = ("sku", "warehouse_id", "loaded", "held", "confirmed", "returned", "available")
    SKU_FIELD_NUMBER: _ClassVar[int]
    WAREHOUSE_ID_FIELD_NUMBER: _ClassVar[int]
    LOADED_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_FIELD_NUMBER: _ClassVar[int]
    RETURNED_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    sku: str
    warehouse_id: str
    loaded: int
    held: int
    confirmed: int
    returned: int
    available: int
    def __init__(self, sku: _Optional[str] = ..., warehouse_id: _Optional[str] = ..., loaded: _Optional[int] = ..., held: _Optional[int] = ..., confirmed: _Optional[int] = ..., returned: _Optional[int] = ..., available: _Optional[int] = ...) -> None: ...

class ReconcileDifference(_message.Message):
    __slots__ = ("sku", "warehouse_id", "kind", "counter", "service_value", "ledger_value", "pending_events")
    SKU_FIELD_NUMBER: _ClassVar[int]
    WAREHOUSE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    COUNTER_FIELD_NUMBER: _ClassVar[int]
    SERVICE_VALUE_FIELD_NUMBER: _ClassVar[int]
    LEDGER_VALUE_FIELD_NUMBER: _ClassVar[int]
    PENDING_EVENTS_FIELD_NUMBER: _ClassVar[int]
    sku: str
    warehouse_id: str
    kind: DifferenceKind
    counter: str
    service_value: int
    ledger_value: int
    pending_events: int
    def __init__(self, sku: _Optional[str] = ..., warehouse_id: _Optional[str] = ..., kind: _Optional[_Union[DifferenceKind, str]] = ..., counter: _Optional[str] = ..., service_value: _Optional[int] = ..., ledger_value: _Optional[int] = ..., pending_events: _Optional[int] = ...) -> None: ...

class ReconcileResponse(_message.Message):
    __slots__ = ("differences", "checked_at")
    DIFFERENCES_FIELD_NUMBER: _ClassVar[int]
    CHECKED_AT_FIELD_NUMBER: _ClassVar[int]
    differences: _containers.RepeatedCompositeFieldContainer[ReconcileDifference]
    checked_at: _timestamp_pb2.Timestamp
    def __init__(self, differences: _Optional[_Iterable[_Union[ReconcileDifference, _Mapping]]] = ..., checked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class BlockEntry(_message.Message):
    __slots__ = ("kind", "value", "reason", "added_at", "added_by")
    KIND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ADDED_AT_FIELD_NUMBER: _ClassVar[int]
    ADDED_BY_FIELD_NUMBER: _ClassVar[int]
    kind: BlockKind
    value: str
    reason: str
    added_at: _timestamp_pb2.Timestamp
    added_by: str
    def __init__(self, kind: _Optional[_Union[BlockKind, str]] = ..., value: _Optional[str] = ..., reason: _Optional[str] = ..., added_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., added_by: _Optional[str] = ...) -> None: ...

class UpdateBlocklistRequest(_message.Message):
    __slots__ = ("add", "remove")
    ADD_FIELD_NUMBER: _ClassVar[int]
    REMOVE_FIELD_NUMBER: _ClassVar[int]
    add: _containers.RepeatedCompositeFieldContainer[BlockEntry]
    remove: _containers.RepeatedCompositeFieldContainer[BlockEntry]
    def __init__(self, add: _Optional[_Iterable[_Union[BlockEntry, _Mapping]]] = ..., remove: _Optional[_Iterable[_Union[BlockEntry, _Mapping]]] = ...) -> None: ...

class UpdateBlocklistResponse(_message.Message):
    __slots__ = ("size",)
    SIZE_FIELD_NUMBER: _ClassVar[int]
    size: int
    def __init__(self, size: _Optional[int] = ...) -> None: ...

class ListBlocklistRequest(_message.Message):
    __slots__ = ("kind", "page_size")
    KIND_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    kind: BlockKind
    page_size: int
    def __init__(self, kind: _Optional[_Union[BlockKind, str]] = ..., page_size: _Optional[int] = ...) -> None: ...

class ListBlocklistResponse(_message.Message):
    __slots__ = ("entries", "size")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[BlockEntry]
    size: int
    def __init__(self, entries: _Optional[_Iterable[_Union[BlockEntry, _Mapping]]] = ..., size: _Optional[int] = ...) -> None: ...

class WhoAmIRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WhoAmIResponse(_message.Message):
    __slots__ = ("auth_enabled", "principal", "roles")
    AUTH_ENABLED_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    auth_enabled: bool
    principal: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, auth_enabled: _Optional[bool] = ..., principal: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ...) -> None: ...
