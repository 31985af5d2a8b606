import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WriteBackEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WRITE_BACK_EVENT_TYPE_UNSPECIFIED: _ClassVar[WriteBackEventType]
    WRITE_BACK_EVENT_TYPE_STOCK_LOADED: _ClassVar[WriteBackEventType]
    WRITE_BACK_EVENT_TYPE_HELD: _ClassVar[WriteBackEventType]
    WRITE_BACK_EVENT_TYPE_CONFIRMED: _ClassVar[WriteBackEventType]
    WRITE_BACK_EVENT_TYPE_RELEASED: _ClassVar[WriteBackEventType]
    WRITE_BACK_EVENT_TYPE_EXPIRED: _ClassVar[WriteBackEventType]
    WRITE_BACK_EVENT_TYPE_RETURNED: _ClassVar[WriteBackEventType]
    WRITE_BACK_EVENT_TYPE_QUEUED: _ClassVar[WriteBackEventType]
    WRITE_BACK_EVENT_TYPE_DEAD_LETTERED: _ClassVar[WriteBackEventType]
    WRITE_BACK_EVENT_TYPE_RESTOCKED: _ClassVar[WriteBackEventType]
    WRITE_BACK_EVENT_TYPE_ADDRESS_CHANGED: _ClassVar[WriteBackEventType]
    WRITE_BACK_EVENT_TYPE_CHANNEL_PAUSED: _ClassVar[WriteBackEventType]
    WRITE_BACK_EVENT_TYPE_CHANNEL_RESUMED: _ClassVar[WriteBackEventType]
    WRITE_BACK_EVENT_TYPE_CARRIER_CHOSEN: _ClassVar[WriteBackEventType]
    WRITE_BACK_EVENT_TYPE_ORDER_EXPEDITED: _ClassVar[WriteBackEventType]
WRITE_BACK_EVENT_TYPE_UNSPECIFIED: WriteBackEventType
WRITE_BACK_EVENT_TYPE_STOCK_LOADED: WriteBackEventType
WRITE_BACK_EVENT_TYPE_HELD: WriteBackEventType
WRITE_BACK_EVENT_TYPE_CONFIRMED: WriteBackEventType
WRITE_BACK_EVENT_TYPE_RELEASED: WriteBackEventType
WRITE_BACK_EVENT_TYPE_EXPIRED: WriteBackEventType
WRITE_BACK_EVENT_TYPE_RETURNED: WriteBackEventType
WRITE_BACK_EVENT_TYPE_QUEUED: WriteBackEventType
WRITE_BACK_EVENT_TYPE_DEAD_LETTERED: WriteBackEventType
WRITE_BACK_EVENT_TYPE_RESTOCKED: WriteBackEventType
WRITE_BACK_EVENT_TYPE_ADDRESS_CHANGED: WriteBackEventType
WRITE_BACK_EVENT_TYPE_CHANNEL_PAUSED: WriteBackEventType
WRITE_BACK_EVENT_TYPE_CHANNEL_RESUMED: WriteBackEventType
WRITE_BACK_EVENT_TYPE_CARRIER_CHOSEN: WriteBackEventType
WRITE_BACK_EVENT_TYPE_ORDER_EXPEDITED: WriteBackEventType

class WriteBackEvent(_message.Message):
    __slots__ = ("event_id", "type", "channel", "order_id", "reservation_id", "sku", "warehouse_id", "quantity", "occurred_at", "delivery_count", "detail")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    WAREHOUSE_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_COUNT_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    type: WriteBackEventType
    channel: str
    order_id: str
    reservation_id: str
    sku: str
    warehouse_id: str
    quantity: int
    occurred_at: _timestamp_pb2.Timestamp
    delivery_count: int
    detail: str
    def __init__(self, event_id: _Optional[str] = ..., type: _Optional[_Union[WriteBackEventType, str]] = ..., channel: _Optional[str] = ..., order_id: _Optional[str] = ..., reservation_id: _Optional[str] = ..., sku: _Optional[str] = ..., warehouse_id: _Optional[str] = ..., quantity: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., delivery_count: _Optional[int] = ..., detail: _Optional[str] = ...) -> None: ...

class PullBatchRequest(_message.Message):
    __slots__ = ("consumer", "max_events", "wait", "group")
    CONSUMER_FIELD_NUMBER: _ClassVar[int]
    MAX_EVENTS_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    consumer: str
    max_events: int
    wait: _duration_pb2.Duration
    group: str
    def __init__(self, consumer: _Optional[str] = ..., max_events: _Optional[int] = ..., wait: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., group: _Optional[str] = ...) -> None: ...

class PullBatchResponse(_message.Message):
    __slots__ = ("batch_id", "events")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    events: _containers.RepeatedCompositeFieldContainer[WriteBackEvent]
    def __init__(self, batch_id: _Optional[str] = ..., events: _Optional[_Iterable[_Union[WriteBackEvent, _Mapping]]] = ...) -> None: ...

class AckBatchRequest(_message.Message):
    __slots__ = ("batch_id",)
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    def __init__(self, batch_id: _Optional[str] = ...) -> None: ...

class AckBatchResponse(_message.Message):
    __slots__ = ("acknowledged",)
    ACKNOWLEDGED_FIELD_NUMBER: _ClassVar[int]
    acknowledged: int
    def __init__(self, acknowledged: _Optional[int] = ...) -> None: ...

class GetWriteBackStatsRequest(_message.Message):
    __slots__ = ("group",)
    GROUP_FIELD_NUMBER: _ClassVar[int]
    group: str
    def __init__(self, group: _Optional[str] = ...) -> None: ...

class GetWriteBackStatsResponse(_message.Message):
    __slots__ = ("pending", "oldest_unacknowledged_age", "delivered_total", "acknowledged_total", "dead_lettered", "undelivered", "dead_lettered_total")
    PENDING_FIELD_NUMBER: _ClassVar[int]
    OLDEST_UNACKNOWLEDGED_AGE_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    DEAD_LETTERED_FIELD_NUMBER: _ClassVar[int]
    UNDELIVERED_FIELD_NUMBER: _ClassVar[int]
    DEAD_LETTERED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    pending: int
    oldest_unacknowledged_age: _duration_pb2.Duration
    delivered_total: int
    acknowledged_total: int
    dead_lettered: int
    undelivered: int
    dead_lettered_total: int
    def __init__(self, pending: _Optional[int] = ..., oldest_unacknowledged_age: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., delivered_total: _Optional[int] = ..., acknowledged_total: _Optional[int] = ..., dead_lettered: _Optional[int] = ..., undelivered: _Optional[int] = ..., dead_lettered_total: _Optional[int] = ...) -> None: ...

class ListWriteBackDeadLettersRequest(_message.Message):
    __slots__ = ("group", "page_size")
    GROUP_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    group: str
    page_size: int
    def __init__(self, group: _Optional[str] = ..., page_size: _Optional[int] = ...) -> None: ...

class ListWriteBackDeadLettersResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[WriteBackEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[WriteBackEvent, _Mapping]]] = ...) -> None: ...

class ReplayWriteBackDeadLettersRequest(_message.Message):
    __slots__ = ("group", "event_ids")
    GROUP_FIELD_NUMBER: _ClassVar[int]
    EVENT_IDS_FIELD_NUMBER: _ClassVar[int]
    group: str
    event_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, group: _Optional[str] = ..., event_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ReplayWriteBackDeadLettersResponse(_message.Message):
    __slots__ = ("replayed", "replayed_at")
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_AT_FIELD_NUMBER: _ClassVar[int]
    replayed: int
    replayed_at: _timestamp_pb2.Timestamp
    def __init__(self, replayed: _Optional[int] = ..., replayed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
