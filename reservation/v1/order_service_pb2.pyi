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

class SyncOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SYNC_OUTCOME_UNSPECIFIED: _ClassVar[SyncOutcome]
    SYNC_OUTCOME_CREATED: _ClassVar[SyncOutcome]
    SYNC_OUTCOME_UPDATED: _ClassVar[SyncOutcome]
    SYNC_OUTCOME_UNCHANGED: _ClassVar[SyncOutcome]
    SYNC_OUTCOME_STALE: _ClassVar[SyncOutcome]
    SYNC_OUTCOME_ON_HOLD: _ClassVar[SyncOutcome]
    SYNC_OUTCOME_REFUSED: _ClassVar[SyncOutcome]
SYNC_OUTCOME_UNSPECIFIED: SyncOutcome
SYNC_OUTCOME_CREATED: SyncOutcome
SYNC_OUTCOME_UPDATED: SyncOutcome
SYNC_OUTCOME_UNCHANGED: SyncOutcome
SYNC_OUTCOME_STALE: SyncOutcome
SYNC_OUTCOME_ON_HOLD: SyncOutcome
SYNC_OUTCOME_REFUSED: SyncOutcome

class Address(_message.Message):
    __slots__ = ("province", "city", "district", "detail")
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    CITY_FIELD_NUMBER: _ClassVar[int]
    DISTRICT_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    province: str
    city: str
    district: str
    detail: str
    def __init__(self, province: _Optional[str] = ..., city: _Optional[str] = ..., district: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class OrderItem(_message.Message):
    __slots__ = ("sku", "quantity", "price", "brand", "category", "warehouse_id", "gift_of", "line_id")
    SKU_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    BRAND_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    WAREHOUSE_ID_FIELD_NUMBER: _ClassVar[int]
    GIFT_OF_FIELD_NUMBER: _ClassVar[int]
    LINE_ID_FIELD_NUMBER: _ClassVar[int]
    sku: str
    quantity: int
    price: int
    brand: str
    category: str
    warehouse_id: str
    gift_of: str
    line_id: str
    def __init__(self, sku: _Optional[str] = ..., quantity: _Optional[int] = ..., price: _Optional[int] = ..., brand: _Optional[str] = ..., category: _Optional[str] = ..., warehouse_id: _Optional[str] = ..., gift_of: _Optional[str] = ..., line_id: _Optional[str] = ...) -> None: ...

class ChannelOrder(_message.Message):
    __slots__ = ("channel", "shop", "order_id", "state", "raw_status", "modified_at", "created_at", "paid_at", "receiver_phone", "address", "lines", "total", "paid", "actor", "payment_method", "pre_shipping")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SHOP_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    RAW_STATUS_FIELD_NUMBER: _ClassVar[int]
    MODIFIED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    PAID_AT_FIELD_NUMBER: _ClassVar[int]
    RECEIVER_PHONE_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    PAID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_METHOD_FIELD_NUMBER: _ClassVar[int]
    PRE_SHIPPING_FIELD_NUMBER: _ClassVar[int]
    channel: str
    shop: str
    order_id: str
    state: str
    raw_status: str
    modified_at: _timestamp_pb2.Timestamp
    created_at: _timestamp_pb2.Timestamp
    paid_at: _timestamp_pb2.Timestamp
    receiver_phone: str
    address: Address
    lines: _containers.RepeatedCompositeFieldContainer[OrderItem]
    total: int
    paid: int
    actor: str
    payment_method: str
    pre_shipping: PreShippingFacts
    def __init__(self, channel: _Optional[str] = ..., shop: _Optional[str] = ..., order_id: _Optional[str] = ..., state: _Optional[str] = ..., raw_status: _Optional[str] = ..., modified_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., paid_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., receiver_phone: _Optional[str] = ..., address: _Optional[_Union[Address, _Mapping]] = ..., lines: _Optional[_Iterable[_Union[OrderItem, _Mapping]]] = ..., total: _Optional[int] = ..., paid: _Optional[int] = ..., actor: _Optional[str] = ..., payment_method: _Optional[str] = ..., pre_shipping: _Optional[_Union[PreShippingFacts, _Mapping]] = ...) -> None: ...

class PreShippingFacts(_message.Message):
    __slots__ = ("credit_grade", "customer_type", "tax_id", "weight_grams", "promised_hours", "custom_params")
    class CustomParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CREDIT_GRADE_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_TYPE_FIELD_NUMBER: _ClassVar[int]
    TAX_ID_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_GRAMS_FIELD_NUMBER: _ClassVar[int]
    PROMISED_HOURS_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_PARAMS_FIELD_NUMBER: _ClassVar[int]
    credit_grade: str
    customer_type: str
    tax_id: str
    weight_grams: int
    promised_hours: int
    custom_params: _containers.ScalarMap[str, str]
    def __init__(self, credit_grade: _Optional[str] = ..., customer_type: _Optional[str] = ..., tax_id: _Optional[str] = ..., weight_grams: _Optional[int] = ..., promised_hours: _Optional[int] = ..., custom_params: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Shipment(_message.Message):
    __slots__ = ("carrier", "tracking_number", "shipped_at", "warehouse_id")
    CARRIER_FIELD_NUMBER: _ClassVar[int]
    TRACKING_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SHIPPED_AT_FIELD_NUMBER: _ClassVar[int]
    WAREHOUSE_ID_FIELD_NUMBER: _ClassVar[int]
    carrier: str
    tracking_number: str
    shipped_at: _timestamp_pb2.Timestamp
    warehouse_id: str
    def __init__(self, carrier: _Optional[str] = ..., tracking_number: _Optional[str] = ..., shipped_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., warehouse_id: _Optional[str] = ...) -> None: ...

class Order(_message.Message):
    __slots__ = ("channel", "shop", "order_id", "state", "version", "channel_state", "raw_status", "modified_at", "created_at", "buyer_hash", "address", "lines", "total", "paid", "paid_at", "routed_at", "shipped_at", "delivered_at", "shipments", "review", "warehouses", "reservation_state", "updated_at", "intercept_failed", "routed_warehouses", "routing_version", "carrier", "carrier_cost", "priority", "wms_state", "wms_raw_status", "wms_reported_at")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SHOP_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_STATE_FIELD_NUMBER: _ClassVar[int]
    RAW_STATUS_FIELD_NUMBER: _ClassVar[int]
    MODIFIED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    BUYER_HASH_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    PAID_FIELD_NUMBER: _ClassVar[int]
    PAID_AT_FIELD_NUMBER: _ClassVar[int]
    ROUTED_AT_FIELD_NUMBER: _ClassVar[int]
    SHIPPED_AT_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_AT_FIELD_NUMBER: _ClassVar[int]
    SHIPMENTS_FIELD_NUMBER: _ClassVar[int]
    REVIEW_FIELD_NUMBER: _ClassVar[int]
    WAREHOUSES_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_STATE_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    INTERCEPT_FAILED_FIELD_NUMBER: _ClassVar[int]
    ROUTED_WAREHOUSES_FIELD_NUMBER: _ClassVar[int]
    ROUTING_VERSION_FIELD_NUMBER: _ClassVar[int]
    CARRIER_FIELD_NUMBER: _ClassVar[int]
    CARRIER_COST_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    WMS_STATE_FIELD_NUMBER: _ClassVar[int]
    WMS_RAW_STATUS_FIELD_NUMBER: _ClassVar[int]
    WMS_REPORTED_AT_FIELD_NUMBER: _ClassVar[int]
    channel: str
    shop: str
    order_id: str
    state: str
    version: int
    channel_state: str
    raw_status: str
    modified_at: _timestamp_pb2.Timestamp
    created_at: _timestamp_pb2.Timestamp
    buyer_hash: str
    address: Address
    lines: _containers.RepeatedCompositeFieldContainer[OrderItem]
    total: int
    paid: int
    paid_at: _timestamp_pb2.Timestamp
    routed_at: _timestamp_pb2.Timestamp
    shipped_at: _timestamp_pb2.Timestamp
    delivered_at: _timestamp_pb2.Timestamp
    shipments: _containers.RepeatedCompositeFieldContainer[Shipment]
    review: _containers.RepeatedScalarFieldContainer[str]
    warehouses: _containers.RepeatedScalarFieldContainer[str]
    reservation_state: str
    updated_at: _timestamp_pb2.Timestamp
    intercept_failed: bool
    routed_warehouses: _containers.RepeatedScalarFieldContainer[str]
    routing_version: int
    carrier: str
    carrier_cost: int
    priority: int
    wms_state: str
    wms_raw_status: str
    wms_reported_at: _timestamp_pb2.Timestamp
    def __init__(self, channel: _Optional[str] = ..., shop: _Optional[str] = ..., order_id: _Optional[str] = ..., state: _Optional[str] = ..., version: _Optional[int] = ..., channel_state: _Optional[str] = ..., raw_status: _Optional[str] = ..., modified_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., buyer_hash: _Optional[str] = ..., address: _Optional[_Union[Address, _Mapping]] = ..., lines: _Optional[_Iterable[_Union[OrderItem, _Mapping]]] = ..., total: _Optional[int] = ..., paid: _Optional[int] = ..., paid_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., routed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., shipped_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., delivered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., shipments: _Optional[_Iterable[_Union[Shipment, _Mapping]]] = ..., review: _Optional[_Iterable[str]] = ..., warehouses: _Optional[_Iterable[str]] = ..., reservation_state: _Optional[str] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., intercept_failed: _Optional[bool] = ..., routed_warehouses: _Optional[_Iterable[str]] = ..., routing_version: _Optional[int] = ..., carrier: _Optional[str] = ..., carrier_cost: _Optional[int] = ..., priority: _Optional[int] = ..., wms_state: _Optional[str] = ..., wms_raw_status: _Optional[str] = ..., wms_reported_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SyncOrdersRequest(_message.Message):
    __slots__ = ("orders",)
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[ChannelOrder]
    def __init__(self, orders: _Optional[_Iterable[_Union[ChannelOrder, _Mapping]]] = ...) -> None: ...

class SyncResult(_message.Message):
    __slots__ = ("channel", "shop", "order_id", "outcome", "state", "version", "stock_reason", "suspected_duplicates", "refused_code", "refused_reason", "review_id", "suspected_duplicate")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SHOP_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STOCK_REASON_FIELD_NUMBER: _ClassVar[int]
    SUSPECTED_DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    REFUSED_CODE_FIELD_NUMBER: _ClassVar[int]
    REFUSED_REASON_FIELD_NUMBER: _ClassVar[int]
    REVIEW_ID_FIELD_NUMBER: _ClassVar[int]
    SUSPECTED_DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    channel: str
    shop: str
    order_id: str
    outcome: SyncOutcome
    state: str
    version: int
    stock_reason: str
    suspected_duplicates: _containers.RepeatedScalarFieldContainer[str]
    refused_code: str
    refused_reason: str
    review_id: str
    suspected_duplicate: bool
    def __init__(self, channel: _Optional[str] = ..., shop: _Optional[str] = ..., order_id: _Optional[str] = ..., outcome: _Optional[_Union[SyncOutcome, str]] = ..., state: _Optional[str] = ..., version: _Optional[int] = ..., stock_reason: _Optional[str] = ..., suspected_duplicates: _Optional[_Iterable[str]] = ..., refused_code: _Optional[str] = ..., refused_reason: _Optional[str] = ..., review_id: _Optional[str] = ..., suspected_duplicate: _Optional[bool] = ...) -> None: ...

class SyncOrdersResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SyncResult]
    def __init__(self, results: _Optional[_Iterable[_Union[SyncResult, _Mapping]]] = ...) -> None: ...

class SyncOrderStreamRequest(_message.Message):
    __slots__ = ("orders",)
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[ChannelOrder]
    def __init__(self, orders: _Optional[_Iterable[_Union[ChannelOrder, _Mapping]]] = ...) -> None: ...

class SyncOrderStreamResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SyncResult]
    def __init__(self, results: _Optional[_Iterable[_Union[SyncResult, _Mapping]]] = ...) -> None: ...

class OrderKey(_message.Message):
    __slots__ = ("channel", "shop", "order_id")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SHOP_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    channel: str
    shop: str
    order_id: str
    def __init__(self, channel: _Optional[str] = ..., shop: _Optional[str] = ..., order_id: _Optional[str] = ...) -> None: ...

class GetOrderRequest(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: OrderKey
    def __init__(self, key: _Optional[_Union[OrderKey, _Mapping]] = ...) -> None: ...

class GetOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: Order
    def __init__(self, order: _Optional[_Union[Order, _Mapping]] = ...) -> None: ...

class OrderEvent(_message.Message):
    __slots__ = ("event_id", "type", "channel", "shop", "order_id", "version", "at", "actor", "reason", "from_state", "to_state", "changes_json", "delivery_count")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SHOP_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FROM_STATE_FIELD_NUMBER: _ClassVar[int]
    TO_STATE_FIELD_NUMBER: _ClassVar[int]
    CHANGES_JSON_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_COUNT_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    type: str
    channel: str
    shop: str
    order_id: str
    version: int
    at: _timestamp_pb2.Timestamp
    actor: str
    reason: str
    from_state: str
    to_state: str
    changes_json: str
    delivery_count: int
    def __init__(self, event_id: _Optional[str] = ..., type: _Optional[str] = ..., channel: _Optional[str] = ..., shop: _Optional[str] = ..., order_id: _Optional[str] = ..., version: _Optional[int] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ..., from_state: _Optional[str] = ..., to_state: _Optional[str] = ..., changes_json: _Optional[str] = ..., delivery_count: _Optional[int] = ...) -> None: ...

class GetOrderHistoryRequest(_message.Message):
    __slots__ = ("key", "offset", "page_size")
    KEY_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    key: OrderKey
    offset: int
    page_size: int
    def __init__(self, key: _Optional[_Union[OrderKey, _Mapping]] = ..., offset: _Optional[int] = ..., page_size: _Optional[int] = ...) -> None: ...

class GetOrderHistoryResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[OrderEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[OrderEvent, _Mapping]]] = ...) -> None: ...

class ListOrdersRequest(_message.Message):
    __slots__ = ("channel", "state", "warehouse_id", "created_from", "created_to", "page_size", "page_token")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    WAREHOUSE_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_FROM_FIELD_NUMBER: _ClassVar[int]
    CREATED_TO_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    channel: str
    state: str
    warehouse_id: str
    created_from: _timestamp_pb2.Timestamp
    created_to: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    def __init__(self, channel: _Optional[str] = ..., state: _Optional[str] = ..., warehouse_id: _Optional[str] = ..., created_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListOrdersResponse(_message.Message):
    __slots__ = ("orders", "next_page_token")
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[Order]
    next_page_token: str
    def __init__(self, orders: _Optional[_Iterable[_Union[Order, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateAddressRequest(_message.Message):
    __slots__ = ("key", "address", "actor", "reason")
    KEY_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    key: OrderKey
    address: Address
    actor: str
    reason: str
    def __init__(self, key: _Optional[_Union[OrderKey, _Mapping]] = ..., address: _Optional[_Union[Address, _Mapping]] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ReportShipmentRequest(_message.Message):
    __slots__ = ("key", "shipment", "actor")
    KEY_FIELD_NUMBER: _ClassVar[int]
    SHIPMENT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    key: OrderKey
    shipment: Shipment
    actor: str
    def __init__(self, key: _Optional[_Union[OrderKey, _Mapping]] = ..., shipment: _Optional[_Union[Shipment, _Mapping]] = ..., actor: _Optional[str] = ...) -> None: ...

class UpdateOrderStateRequest(_message.Message):
    __slots__ = ("key", "state", "actor", "reason")
    KEY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    key: OrderKey
    state: str
    actor: str
    reason: str
    def __init__(self, key: _Optional[_Union[OrderKey, _Mapping]] = ..., state: _Optional[str] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RestockLine(_message.Message):
    __slots__ = ("sku", "quantity")
    SKU_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    sku: str
    quantity: int
    def __init__(self, sku: _Optional[str] = ..., quantity: _Optional[int] = ...) -> None: ...

class RestockOrderRequest(_message.Message):
    __slots__ = ("key", "restock_id", "lines", "reason", "actor")
    KEY_FIELD_NUMBER: _ClassVar[int]
    RESTOCK_ID_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    key: OrderKey
    restock_id: str
    lines: _containers.RepeatedCompositeFieldContainer[RestockLine]
    reason: str
    actor: str
    def __init__(self, key: _Optional[_Union[OrderKey, _Mapping]] = ..., restock_id: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[RestockLine, _Mapping]]] = ..., reason: _Optional[str] = ..., actor: _Optional[str] = ...) -> None: ...

class RestockOrderResponse(_message.Message):
    __slots__ = ("outcome", "order")
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    outcome: SyncOutcome
    order: Order
    def __init__(self, outcome: _Optional[_Union[SyncOutcome, str]] = ..., order: _Optional[_Union[Order, _Mapping]] = ...) -> None: ...

class UpdateAddressResponse(_message.Message):
    __slots__ = ("outcome", "order")
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    outcome: SyncOutcome
    order: Order
    def __init__(self, outcome: _Optional[_Union[SyncOutcome, str]] = ..., order: _Optional[_Union[Order, _Mapping]] = ...) -> None: ...

class ReportShipmentResponse(_message.Message):
    __slots__ = ("outcome", "order")
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    outcome: SyncOutcome
    order: Order
    def __init__(self, outcome: _Optional[_Union[SyncOutcome, str]] = ..., order: _Optional[_Union[Order, _Mapping]] = ...) -> None: ...

class ReportWarehouseStateRequest(_message.Message):
    __slots__ = ("key", "state", "raw_status", "reported_at", "actor")
    KEY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    RAW_STATUS_FIELD_NUMBER: _ClassVar[int]
    REPORTED_AT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    key: OrderKey
    state: str
    raw_status: str
    reported_at: _timestamp_pb2.Timestamp
    actor: str
    def __init__(self, key: _Optional[_Union[OrderKey, _Mapping]] = ..., state: _Optional[str] = ..., raw_status: _Optional[str] = ..., reported_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ...) -> None: ...

class ReportWarehouseStateResponse(_message.Message):
    __slots__ = ("outcome", "order")
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    outcome: SyncOutcome
    order: Order
    def __init__(self, outcome: _Optional[_Union[SyncOutcome, str]] = ..., order: _Optional[_Union[Order, _Mapping]] = ...) -> None: ...

class UpdateOrderStateResponse(_message.Message):
    __slots__ = ("outcome", "order")
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    outcome: SyncOutcome
    order: Order
    def __init__(self, outcome: _Optional[_Union[SyncOutcome, str]] = ..., order: _Optional[_Union[Order, _Mapping]] = ...) -> None: ...

class PullOrderEventsRequest(_message.Message):
    __slots__ = ("group", "consumer", "max_events", "wait")
    GROUP_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_FIELD_NUMBER: _ClassVar[int]
    MAX_EVENTS_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    group: str
    consumer: str
    max_events: int
    wait: _duration_pb2.Duration
    def __init__(self, group: _Optional[str] = ..., consumer: _Optional[str] = ..., max_events: _Optional[int] = ..., wait: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class PullOrderEventsResponse(_message.Message):
    __slots__ = ("batch_id", "events")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    events: _containers.RepeatedCompositeFieldContainer[OrderEvent]
    def __init__(self, batch_id: _Optional[str] = ..., events: _Optional[_Iterable[_Union[OrderEvent, _Mapping]]] = ...) -> None: ...

class AckOrderEventsRequest(_message.Message):
    __slots__ = ("batch_id",)
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    def __init__(self, batch_id: _Optional[str] = ...) -> None: ...

class AckOrderEventsResponse(_message.Message):
    __slots__ = ("acknowledged",)
    ACKNOWLEDGED_FIELD_NUMBER: _ClassVar[int]
    acknowledged: int
    def __init__(self, acknowledged: _Optional[int] = ...) -> None: ...

class GetFulfilmentStatsRequest(_message.Message):
    __slots__ = ("day", "channel", "warehouse_id", "by_channel")
    DAY_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    WAREHOUSE_ID_FIELD_NUMBER: _ClassVar[int]
    BY_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    day: str
    channel: str
    warehouse_id: str
    by_channel: bool
    def __init__(self, day: _Optional[str] = ..., channel: _Optional[str] = ..., warehouse_id: _Optional[str] = ..., by_channel: _Optional[bool] = ...) -> None: ...

class LateOrder(_message.Message):
    __slots__ = ("key", "state", "reason")
    KEY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    key: OrderKey
    state: str
    reason: str
    def __init__(self, key: _Optional[_Union[OrderKey, _Mapping]] = ..., state: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class FulfilmentStats(_message.Message):
    __slots__ = ("channel", "warehouse_id", "day", "created", "paid", "routed", "shipped", "delivered", "on_time_rate", "median_pay_to_route", "median_pay_to_ship", "late", "promised", "on_promise_rate", "lifecycles", "complete_rate", "consistent_rate", "inconsistent")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    WAREHOUSE_ID_FIELD_NUMBER: _ClassVar[int]
    DAY_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    PAID_FIELD_NUMBER: _ClassVar[int]
    ROUTED_FIELD_NUMBER: _ClassVar[int]
    SHIPPED_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_FIELD_NUMBER: _ClassVar[int]
    ON_TIME_RATE_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_PAY_TO_ROUTE_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_PAY_TO_SHIP_FIELD_NUMBER: _ClassVar[int]
    LATE_FIELD_NUMBER: _ClassVar[int]
    PROMISED_FIELD_NUMBER: _ClassVar[int]
    ON_PROMISE_RATE_FIELD_NUMBER: _ClassVar[int]
    LIFECYCLES_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_RATE_FIELD_NUMBER: _ClassVar[int]
    CONSISTENT_RATE_FIELD_NUMBER: _ClassVar[int]
    INCONSISTENT_FIELD_NUMBER: _ClassVar[int]
    channel: str
    warehouse_id: str
    day: str
    created: int
    paid: int
    routed: int
    shipped: int
    delivered: int
    on_time_rate: float
    median_pay_to_route: _duration_pb2.Duration
    median_pay_to_ship: _duration_pb2.Duration
    late: _containers.RepeatedCompositeFieldContainer[LateOrder]
    promised: int
    on_promise_rate: float
    lifecycles: int
    complete_rate: float
    consistent_rate: float
    inconsistent: _containers.RepeatedCompositeFieldContainer[Inconsistency]
    def __init__(self, channel: _Optional[str] = ..., warehouse_id: _Optional[str] = ..., day: _Optional[str] = ..., created: _Optional[int] = ..., paid: _Optional[int] = ..., routed: _Optional[int] = ..., shipped: _Optional[int] = ..., delivered: _Optional[int] = ..., on_time_rate: _Optional[float] = ..., median_pay_to_route: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., median_pay_to_ship: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., late: _Optional[_Iterable[_Union[LateOrder, _Mapping]]] = ..., promised: _Optional[int] = ..., on_promise_rate: _Optional[float] = ..., lifecycles: _Optional[int] = ..., complete_rate: _Optional[float] = ..., consistent_rate: _Optional[float] = ..., inconsistent: _Optional[_Iterable[_Union[Inconsistency, _Mapping]]] = ...) -> None: ...

class Inconsistency(_message.Message):
    __slots__ = ("key", "hub_state", "channel_state", "channel_raw_status", "since", "wms_state", "wms_raw_status", "disagree")
    KEY_FIELD_NUMBER: _ClassVar[int]
    HUB_STATE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_STATE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_RAW_STATUS_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    WMS_STATE_FIELD_NUMBER: _ClassVar[int]
    WMS_RAW_STATUS_FIELD_NUMBER: _ClassVar[int]
    DISAGREE_FIELD_NUMBER: _ClassVar[int]
    key: OrderKey
    hub_state: str
    channel_state: str
    channel_raw_status: str
    since: _timestamp_pb2.Timestamp
    wms_state: str
    wms_raw_status: str
    disagree: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, key: _Optional[_Union[OrderKey, _Mapping]] = ..., hub_state: _Optional[str] = ..., channel_state: _Optional[str] = ..., channel_raw_status: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., wms_state: _Optional[str] = ..., wms_raw_status: _Optional[str] = ..., disagree: _Optional[_Iterable[str]] = ...) -> None: ...

class GetFulfilmentStatsResponse(_message.Message):
    __slots__ = ("rows",)
    ROWS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[FulfilmentStats]
    def __init__(self, rows: _Optional[_Iterable[_Union[FulfilmentStats, _Mapping]]] = ...) -> None: ...

class ListOverdueOrdersRequest(_message.Message):
    __slots__ = ("page_size", "node", "channel")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    node: str
    channel: str
    def __init__(self, page_size: _Optional[int] = ..., node: _Optional[str] = ..., channel: _Optional[str] = ...) -> None: ...

class OverdueOrder(_message.Message):
    __slots__ = ("key", "node", "state", "since", "threshold", "overdue_by")
    KEY_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_BY_FIELD_NUMBER: _ClassVar[int]
    key: OrderKey
    node: str
    state: str
    since: _timestamp_pb2.Timestamp
    threshold: _duration_pb2.Duration
    overdue_by: _duration_pb2.Duration
    def __init__(self, key: _Optional[_Union[OrderKey, _Mapping]] = ..., node: _Optional[str] = ..., state: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., threshold: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., overdue_by: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class OverdueCount(_message.Message):
    __slots__ = ("node", "channel", "orders")
    NODE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    node: str
    channel: str
    orders: int
    def __init__(self, node: _Optional[str] = ..., channel: _Optional[str] = ..., orders: _Optional[int] = ...) -> None: ...

class ListOverdueOrdersResponse(_message.Message):
    __slots__ = ("evaluated_at", "scanned", "counts", "orders")
    EVALUATED_AT_FIELD_NUMBER: _ClassVar[int]
    SCANNED_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    evaluated_at: _timestamp_pb2.Timestamp
    scanned: int
    counts: _containers.RepeatedCompositeFieldContainer[OverdueCount]
    orders: _containers.RepeatedCompositeFieldContainer[OverdueOrder]
    def __init__(self, evaluated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., scanned: _Optional[int] = ..., counts: _Optional[_Iterable[_Union[OverdueCount, _Mapping]]] = ..., orders: _Optional[_Iterable[_Union[OverdueOrder, _Mapping]]] = ...) -> None: ...

class ExpediteOrderRequest(_message.Message):
    __slots__ = ("key", "actor", "reason")
    KEY_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    key: OrderKey
    actor: str
    reason: str
    def __init__(self, key: _Optional[_Union[OrderKey, _Mapping]] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ExpediteOrderResponse(_message.Message):
    __slots__ = ("outcome", "order")
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    outcome: SyncOutcome
    order: Order
    def __init__(self, outcome: _Optional[_Union[SyncOutcome, str]] = ..., order: _Optional[_Union[Order, _Mapping]] = ...) -> None: ...

class FindOrdersRequest(_message.Message):
    __slots__ = ("phone", "order_number", "tracking_number", "page_size")
    PHONE_FIELD_NUMBER: _ClassVar[int]
    ORDER_NUMBER_FIELD_NUMBER: _ClassVar[int]
    TRACKING_NUMBER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    phone: str
    order_number: str
    tracking_number: str
    page_size: int
    def __init__(self, phone: _Optional[str] = ..., order_number: _Optional[str] = ..., tracking_number: _Optional[str] = ..., page_size: _Optional[int] = ...) -> None: ...

class FoundOrder(_message.Message):
    __slots__ = ("order", "step", "last_actor", "last_changed_at", "ship_by", "deliver_by", "held_because", "carrier", "tracking_number")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTOR_FIELD_NUMBER: _ClassVar[int]
    LAST_CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    SHIP_BY_FIELD_NUMBER: _ClassVar[int]
    DELIVER_BY_FIELD_NUMBER: _ClassVar[int]
    HELD_BECAUSE_FIELD_NUMBER: _ClassVar[int]
    CARRIER_FIELD_NUMBER: _ClassVar[int]
    TRACKING_NUMBER_FIELD_NUMBER: _ClassVar[int]
    order: Order
    step: str
    last_actor: str
    last_changed_at: _timestamp_pb2.Timestamp
    ship_by: _timestamp_pb2.Timestamp
    deliver_by: _timestamp_pb2.Timestamp
    held_because: str
    carrier: str
    tracking_number: str
    def __init__(self, order: _Optional[_Union[Order, _Mapping]] = ..., step: _Optional[str] = ..., last_actor: _Optional[str] = ..., last_changed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ship_by: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deliver_by: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., held_because: _Optional[str] = ..., carrier: _Optional[str] = ..., tracking_number: _Optional[str] = ...) -> None: ...

class FindOrdersResponse(_message.Message):
    __slots__ = ("orders",)
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[FoundOrder]
    def __init__(self, orders: _Optional[_Iterable[_Union[FoundOrder, _Mapping]]] = ...) -> None: ...

class SetAfterSalesReasonRequest(_message.Message):
    __slots__ = ("key", "sku", "batch", "level1", "level2", "note", "actor", "channel_reason")
    KEY_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    LEVEL1_FIELD_NUMBER: _ClassVar[int]
    LEVEL2_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_REASON_FIELD_NUMBER: _ClassVar[int]
    key: OrderKey
    sku: str
    batch: str
    level1: str
    level2: str
    note: str
    actor: str
    channel_reason: str
    def __init__(self, key: _Optional[_Union[OrderKey, _Mapping]] = ..., sku: _Optional[str] = ..., batch: _Optional[str] = ..., level1: _Optional[str] = ..., level2: _Optional[str] = ..., note: _Optional[str] = ..., actor: _Optional[str] = ..., channel_reason: _Optional[str] = ...) -> None: ...

class SetAfterSalesReasonResponse(_message.Message):
    __slots__ = ("outcome", "order")
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    outcome: SyncOutcome
    order: Order
    def __init__(self, outcome: _Optional[_Union[SyncOutcome, str]] = ..., order: _Optional[_Union[Order, _Mapping]] = ...) -> None: ...

class GetAfterSalesReportRequest(_message.Message):
    __slots__ = ("day_from", "day_to", "channel", "group_by")
    DAY_FROM_FIELD_NUMBER: _ClassVar[int]
    DAY_TO_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    day_from: str
    day_to: str
    channel: str
    group_by: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, day_from: _Optional[str] = ..., day_to: _Optional[str] = ..., channel: _Optional[str] = ..., group_by: _Optional[_Iterable[str]] = ...) -> None: ...

class AfterSalesRow(_message.Message):
    __slots__ = ("sku", "batch", "level1", "level2", "orders", "units")
    SKU_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    LEVEL1_FIELD_NUMBER: _ClassVar[int]
    LEVEL2_FIELD_NUMBER: _ClassVar[int]
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    UNITS_FIELD_NUMBER: _ClassVar[int]
    sku: str
    batch: str
    level1: str
    level2: str
    orders: int
    units: int
    def __init__(self, sku: _Optional[str] = ..., batch: _Optional[str] = ..., level1: _Optional[str] = ..., level2: _Optional[str] = ..., orders: _Optional[int] = ..., units: _Optional[int] = ...) -> None: ...

class GetAfterSalesReportResponse(_message.Message):
    __slots__ = ("rows", "scanned")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    SCANNED_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[AfterSalesRow]
    scanned: int
    def __init__(self, rows: _Optional[_Iterable[_Union[AfterSalesRow, _Mapping]]] = ..., scanned: _Optional[int] = ...) -> None: ...
