import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from reservation.v1 import routing_service_pb2 as _routing_service_pb2
from reservation.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReserveRequest(_message.Message):
    __slots__ = ("channel", "order_id", "buyer_id", "lines", "hold_ttl", "allow_queue", "destination", "route", "routing_detail")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    BUYER_ID_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    HOLD_TTL_FIELD_NUMBER: _ClassVar[int]
    ALLOW_QUEUE_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    ROUTING_DETAIL_FIELD_NUMBER: _ClassVar[int]
    channel: str
    order_id: str
    buyer_id: str
    lines: _containers.RepeatedCompositeFieldContainer[_types_pb2.OrderLine]
    hold_ttl: _duration_pb2.Duration
    allow_queue: bool
    destination: _routing_service_pb2.Destination
    route: RouteAttributes
    routing_detail: _routing_service_pb2.RoutingDetail
    def __init__(self, channel: _Optional[str] = ..., order_id: _Optional[str] = ..., buyer_id: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[_types_pb2.OrderLine, _Mapping]]] = ..., hold_ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., allow_queue: _Optional[bool] = ..., destination: _Optional[_Union[_routing_service_pb2.Destination, _Mapping]] = ..., route: _Optional[_Union[RouteAttributes, _Mapping]] = ..., routing_detail: _Optional[_Union[_routing_service_pb2.RoutingDetail, str]] = ...) -> None: ...

class RouteAttributes(_message.Message):
    __slots__ = ("amount", "payment_method", "customer_grade", "promised_hours", "lines", "amount_cents")
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_METHOD_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_GRADE_FIELD_NUMBER: _ClassVar[int]
    PROMISED_HOURS_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_CENTS_FIELD_NUMBER: _ClassVar[int]
    amount: float
    payment_method: str
    customer_grade: str
    promised_hours: float
    lines: _containers.RepeatedCompositeFieldContainer[_routing_service_pb2.RouteLine]
    amount_cents: int
    def __init__(self, amount: _Optional[float] = ..., payment_method: _Optional[str] = ..., customer_grade: _Optional[str] = ..., promised_hours: _Optional[float] = ..., lines: _Optional[_Iterable[_Union[_routing_service_pb2.RouteLine, _Mapping]]] = ..., amount_cents: _Optional[int] = ...) -> None: ...

class ReserveResponse(_message.Message):
    __slots__ = ("reservation", "routing")
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    ROUTING_FIELD_NUMBER: _ClassVar[int]
    reservation: _types_pb2.Reservation
    routing: _routing_service_pb2.RoutingDecision
    def __init__(self, reservation: _Optional[_Union[_types_pb2.Reservation, _Mapping]] = ..., routing: _Optional[_Union[_routing_service_pb2.RoutingDecision, _Mapping]] = ...) -> None: ...

class ReserveBatchRequest(_message.Message):
    __slots__ = ("requests",)
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[ReserveRequest]
    def __init__(self, requests: _Optional[_Iterable[_Union[ReserveRequest, _Mapping]]] = ...) -> None: ...

class ReserveBatchResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[ReserveBatchResult]
    def __init__(self, results: _Optional[_Iterable[_Union[ReserveBatchResult, _Mapping]]] = ...) -> None: ...

class ReserveBatchResult(_message.Message):
    __slots__ = ("reservation", "error_code", "error_message")
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    reservation: _types_pb2.Reservation
    error_code: int
    error_message: str
    def __init__(self, reservation: _Optional[_Union[_types_pb2.Reservation, _Mapping]] = ..., error_code: _Optional[int] = ..., error_message: _Optional[str] = ...) -> None: ...

class ReserveStreamRequest(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: ReserveRequest
    def __init__(self, request: _Optional[_Union[ReserveRequest, _Mapping]] = ...) -> None: ...

class ReserveStreamResponse(_message.Message):
    __slots__ = ("channel", "order_id", "reservation", "error_code", "error_message")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    channel: str
    order_id: str
    reservation: _types_pb2.Reservation
    error_code: int
    error_message: str
    def __init__(self, channel: _Optional[str] = ..., order_id: _Optional[str] = ..., reservation: _Optional[_Union[_types_pb2.Reservation, _Mapping]] = ..., error_code: _Optional[int] = ..., error_message: _Optional[str] = ...) -> None: ...

class ConfirmRequest(_message.Message):
    __slots__ = ("channel", "order_id")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    channel: str
    order_id: str
    def __init__(self, channel: _Optional[str] = ..., order_id: _Optional[str] = ...) -> None: ...

class ConfirmResponse(_message.Message):
    __slots__ = ("reservation",)
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    reservation: _types_pb2.Reservation
    def __init__(self, reservation: _Optional[_Union[_types_pb2.Reservation, _Mapping]] = ...) -> None: ...

class ReleaseRequest(_message.Message):
    __slots__ = ("channel", "order_id")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    channel: str
    order_id: str
    def __init__(self, channel: _Optional[str] = ..., order_id: _Optional[str] = ...) -> None: ...

class ReleaseResponse(_message.Message):
    __slots__ = ("reservation",)
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    reservation: _types_pb2.Reservation
    def __init__(self, reservation: _Optional[_Union[_types_pb2.Reservation, _Mapping]] = ...) -> None: ...

class GetReservationRequest(_message.Message):
    __slots__ = ("channel", "order_id")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    channel: str
    order_id: str
    def __init__(self, channel: _Optional[str] = ..., order_id: _Optional[str] = ...) -> None: ...

class GetReservationResponse(_message.Message):
    __slots__ = ("reservation",)
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    reservation: _types_pb2.Reservation
    def __init__(self, reservation: _Optional[_Union[_types_pb2.Reservation, _Mapping]] = ...) -> None: ...

class WatchReservationRequest(_message.Message):
    __slots__ = ("channel", "order_id")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    channel: str
    order_id: str
    def __init__(self, channel: _Optional[str] = ..., order_id: _Optional[str] = ...) -> None: ...

class WatchReservationResponse(_message.Message):
    __slots__ = ("reservation",)
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    reservation: _types_pb2.Reservation
    def __init__(self, reservation: _Optional[_Union[_types_pb2.Reservation, _Mapping]] = ...) -> None: ...

class GetStockRequest(_message.Message):
    __slots__ = ("sku",)
    SKU_FIELD_NUMBER: _ClassVar[int]
    sku: str
    def __init__(self, sku: _Optional[str] = ...) -> None: ...

class GetStockResponse(_message.Message):
    __slots__ = ("sku", "levels", "queue_depth")
    SKU_FIELD_NUMBER: _ClassVar[int]
    LEVELS_FIELD_NUMBER: _ClassVar[int]
    QUEUE_DEPTH_FIELD_NUMBER: _ClassVar[int]
    sku: str
    levels: _containers.RepeatedCompositeFieldContainer[_types_pb2.StockLevel]
    queue_depth: int
    def __init__(self, sku: _Optional[str] = ..., levels: _Optional[_Iterable[_Union[_types_pb2.StockLevel, _Mapping]]] = ..., queue_depth: _Optional[int] = ...) -> None: ...
