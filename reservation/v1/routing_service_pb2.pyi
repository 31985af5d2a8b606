import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RoutingDetail(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROUTING_DETAIL_UNSPECIFIED: _ClassVar[RoutingDetail]
    ROUTING_DETAIL_DECISION: _ClassVar[RoutingDetail]
    ROUTING_DETAIL_EXPLAINED: _ClassVar[RoutingDetail]
ROUTING_DETAIL_UNSPECIFIED: RoutingDetail
ROUTING_DETAIL_DECISION: RoutingDetail
ROUTING_DETAIL_EXPLAINED: RoutingDetail

class Warehouse(_message.Message):
    __slots__ = ("warehouse_id", "name", "region", "province", "city", "latitude", "longitude", "capabilities", "daily_capacity", "cutoff_hour", "cost_per_order", "priority", "safety_stock", "disabled", "orders_today", "cost_per_order_cents")
    WAREHOUSE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    CITY_FIELD_NUMBER: _ClassVar[int]
    LATITUDE_FIELD_NUMBER: _ClassVar[int]
    LONGITUDE_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    DAILY_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    CUTOFF_HOUR_FIELD_NUMBER: _ClassVar[int]
    COST_PER_ORDER_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    SAFETY_STOCK_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    ORDERS_TODAY_FIELD_NUMBER: _ClassVar[int]
    COST_PER_ORDER_CENTS_FIELD_NUMBER: _ClassVar[int]
    warehouse_id: str
    name: str
    region: str
    province: str
    city: str
    latitude: float
    longitude: float
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    daily_capacity: int
    cutoff_hour: int
    cost_per_order: float
    priority: int
    safety_stock: int
    disabled: bool
    orders_today: int
    cost_per_order_cents: int
    def __init__(self, warehouse_id: _Optional[str] = ..., name: _Optional[str] = ..., region: _Optional[str] = ..., province: _Optional[str] = ..., city: _Optional[str] = ..., latitude: _Optional[float] = ..., longitude: _Optional[float] = ..., capabilities: _Optional[_Iterable[str]] = ..., daily_capacity: _Optional[int] = ..., cutoff_hour: _Optional[int] = ..., cost_per_order: _Optional[float] = ..., priority: _Optional[int] = ..., safety_stock: _Optional[int] = ..., disabled: _Optional[bool] = ..., orders_today: _Optional[int] = ..., cost_per_order_cents: _Optional[int] = ...) -> None: ...

class PutWarehouseRequest(_message.Message):
    __slots__ = ("warehouse", "validate_only")
    WAREHOUSE_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    warehouse: Warehouse
    validate_only: bool
    def __init__(self, warehouse: _Optional[_Union[Warehouse, _Mapping]] = ..., validate_only: _Optional[bool] = ...) -> None: ...

class PutWarehouseResponse(_message.Message):
    __slots__ = ("warehouse",)
    WAREHOUSE_FIELD_NUMBER: _ClassVar[int]
    warehouse: Warehouse
    def __init__(self, warehouse: _Optional[_Union[Warehouse, _Mapping]] = ...) -> None: ...

class GetWarehouseRequest(_message.Message):
    __slots__ = ("warehouse_id",)
    WAREHOUSE_ID_FIELD_NUMBER: _ClassVar[int]
    warehouse_id: str
    def __init__(self, warehouse_id: _Optional[str] = ...) -> None: ...

class GetWarehouseResponse(_message.Message):
    __slots__ = ("warehouse",)
    WAREHOUSE_FIELD_NUMBER: _ClassVar[int]
    warehouse: Warehouse
    def __init__(self, warehouse: _Optional[_Union[Warehouse, _Mapping]] = ...) -> None: ...

class ListWarehousesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListWarehousesResponse(_message.Message):
    __slots__ = ("warehouses",)
    WAREHOUSES_FIELD_NUMBER: _ClassVar[int]
    warehouses: _containers.RepeatedCompositeFieldContainer[Warehouse]
    def __init__(self, warehouses: _Optional[_Iterable[_Union[Warehouse, _Mapping]]] = ...) -> None: ...

class RoutingRules(_message.Message):
    __slots__ = ("version", "document", "comment", "created_at", "rolled_back_to", "effective_weights", "effective_load_threshold")
    class EffectiveWeightsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ROLLED_BACK_TO_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_LOAD_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    version: int
    document: _struct_pb2.Struct
    comment: str
    created_at: _timestamp_pb2.Timestamp
    rolled_back_to: int
    effective_weights: _containers.ScalarMap[str, float]
    effective_load_threshold: float
    def __init__(self, version: _Optional[int] = ..., document: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., comment: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., rolled_back_to: _Optional[int] = ..., effective_weights: _Optional[_Mapping[str, float]] = ..., effective_load_threshold: _Optional[float] = ...) -> None: ...

class GetRoutingRulesRequest(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: int
    def __init__(self, version: _Optional[int] = ...) -> None: ...

class GetRoutingRulesResponse(_message.Message):
    __slots__ = ("rules",)
    RULES_FIELD_NUMBER: _ClassVar[int]
    rules: RoutingRules
    def __init__(self, rules: _Optional[_Union[RoutingRules, _Mapping]] = ...) -> None: ...

class PutRoutingRulesRequest(_message.Message):
    __slots__ = ("document", "comment", "expected_version", "validate_only")
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    document: _struct_pb2.Struct
    comment: str
    expected_version: int
    validate_only: bool
    def __init__(self, document: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., comment: _Optional[str] = ..., expected_version: _Optional[int] = ..., validate_only: _Optional[bool] = ...) -> None: ...

class PutRoutingRulesResponse(_message.Message):
    __slots__ = ("rules", "warnings")
    RULES_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    rules: RoutingRules
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, rules: _Optional[_Union[RoutingRules, _Mapping]] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class ListRoutingRuleHistoryRequest(_message.Message):
    __slots__ = ("limit",)
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    limit: int
    def __init__(self, limit: _Optional[int] = ...) -> None: ...

class ListRoutingRuleHistoryResponse(_message.Message):
    __slots__ = ("versions", "current_version")
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[RoutingRules]
    current_version: int
    def __init__(self, versions: _Optional[_Iterable[_Union[RoutingRules, _Mapping]]] = ..., current_version: _Optional[int] = ...) -> None: ...

class RollbackRoutingRulesRequest(_message.Message):
    __slots__ = ("version", "validate_only")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    version: int
    validate_only: bool
    def __init__(self, version: _Optional[int] = ..., validate_only: _Optional[bool] = ...) -> None: ...

class RollbackRoutingRulesResponse(_message.Message):
    __slots__ = ("rules",)
    RULES_FIELD_NUMBER: _ClassVar[int]
    rules: RoutingRules
    def __init__(self, rules: _Optional[_Union[RoutingRules, _Mapping]] = ...) -> None: ...

class Destination(_message.Message):
    __slots__ = ("province", "city", "district", "region", "address")
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    CITY_FIELD_NUMBER: _ClassVar[int]
    DISTRICT_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    province: str
    city: str
    district: str
    region: str
    address: str
    def __init__(self, province: _Optional[str] = ..., city: _Optional[str] = ..., district: _Optional[str] = ..., region: _Optional[str] = ..., address: _Optional[str] = ...) -> None: ...

class RouteLine(_message.Message):
    __slots__ = ("sku", "quantity", "category", "brand")
    SKU_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    BRAND_FIELD_NUMBER: _ClassVar[int]
    sku: str
    quantity: int
    category: str
    brand: str
    def __init__(self, sku: _Optional[str] = ..., quantity: _Optional[int] = ..., category: _Optional[str] = ..., brand: _Optional[str] = ...) -> None: ...

class RouteRequest(_message.Message):
    __slots__ = ("channel", "order_id", "lines", "destination", "amount", "payment_method", "customer_grade", "promised_hours", "what_if", "amount_cents", "detail")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_METHOD_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_GRADE_FIELD_NUMBER: _ClassVar[int]
    PROMISED_HOURS_FIELD_NUMBER: _ClassVar[int]
    WHAT_IF_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_CENTS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    channel: str
    order_id: str
    lines: _containers.RepeatedCompositeFieldContainer[RouteLine]
    destination: Destination
    amount: float
    payment_method: str
    customer_grade: str
    promised_hours: float
    what_if: bool
    amount_cents: int
    detail: RoutingDetail
    def __init__(self, channel: _Optional[str] = ..., order_id: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[RouteLine, _Mapping]]] = ..., destination: _Optional[_Union[Destination, _Mapping]] = ..., amount: _Optional[float] = ..., payment_method: _Optional[str] = ..., customer_grade: _Optional[str] = ..., promised_hours: _Optional[float] = ..., what_if: _Optional[bool] = ..., amount_cents: _Optional[int] = ..., detail: _Optional[_Union[RoutingDetail, str]] = ...) -> None: ...

class RouteResponse(_message.Message):
    __slots__ = ("decision",)
    DECISION_FIELD_NUMBER: _ClassVar[int]
    decision: RoutingDecision
    def __init__(self, decision: _Optional[_Union[RoutingDecision, _Mapping]] = ...) -> None: ...

class RouteBatchRequest(_message.Message):
    __slots__ = ("requests",)
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[RouteRequest]
    def __init__(self, requests: _Optional[_Iterable[_Union[RouteRequest, _Mapping]]] = ...) -> None: ...

class RouteBatchResponse(_message.Message):
    __slots__ = ("decisions",)
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    decisions: _containers.RepeatedCompositeFieldContainer[RoutingDecision]
    def __init__(self, decisions: _Optional[_Iterable[_Union[RoutingDecision, _Mapping]]] = ...) -> None: ...

class ResolvedPlace(_message.Message):
    __slots__ = ("province", "city", "district", "region", "latitude", "longitude", "level")
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    CITY_FIELD_NUMBER: _ClassVar[int]
    DISTRICT_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    LATITUDE_FIELD_NUMBER: _ClassVar[int]
    LONGITUDE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    province: str
    city: str
    district: str
    region: str
    latitude: float
    longitude: float
    level: str
    def __init__(self, province: _Optional[str] = ..., city: _Optional[str] = ..., district: _Optional[str] = ..., region: _Optional[str] = ..., latitude: _Optional[float] = ..., longitude: _Optional[float] = ..., level: _Optional[str] = ...) -> None: ...

class ScoreTerms(_message.Message):
    __slots__ = ("distance", "load", "shipments", "cost", "priority")
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    LOAD_FIELD_NUMBER: _ClassVar[int]
    SHIPMENTS_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    distance: float
    load: float
    shipments: float
    cost: float
    priority: float
    def __init__(self, distance: _Optional[float] = ..., load: _Optional[float] = ..., shipments: _Optional[float] = ..., cost: _Optional[float] = ..., priority: _Optional[float] = ...) -> None: ...

class RoutingCandidate(_message.Message):
    __slots__ = ("warehouse_id", "name", "allowed", "score", "terms", "note", "preferred")
    WAREHOUSE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    TERMS_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    PREFERRED_FIELD_NUMBER: _ClassVar[int]
    warehouse_id: str
    name: str
    allowed: bool
    score: float
    terms: ScoreTerms
    note: str
    preferred: bool
    def __init__(self, warehouse_id: _Optional[str] = ..., name: _Optional[str] = ..., allowed: _Optional[bool] = ..., score: _Optional[float] = ..., terms: _Optional[_Union[ScoreTerms, _Mapping]] = ..., note: _Optional[str] = ..., preferred: _Optional[bool] = ...) -> None: ...

class CandidateGroup(_message.Message):
    __slots__ = ("skus", "candidates")
    SKUS_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    skus: _containers.RepeatedScalarFieldContainer[str]
    candidates: _containers.RepeatedCompositeFieldContainer[RoutingCandidate]
    def __init__(self, skus: _Optional[_Iterable[str]] = ..., candidates: _Optional[_Iterable[_Union[RoutingCandidate, _Mapping]]] = ...) -> None: ...

class RoutedAllocation(_message.Message):
    __slots__ = ("warehouse_id", "quantity")
    WAREHOUSE_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    warehouse_id: str
    quantity: int
    def __init__(self, warehouse_id: _Optional[str] = ..., quantity: _Optional[int] = ...) -> None: ...

class LineDecision(_message.Message):
    __slots__ = ("sku", "quantity", "group", "candidates", "allocations", "decided_by", "rules")
    SKU_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    ALLOCATIONS_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    sku: str
    quantity: int
    group: int
    candidates: _containers.RepeatedScalarFieldContainer[str]
    allocations: _containers.RepeatedCompositeFieldContainer[RoutedAllocation]
    decided_by: str
    rules: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, sku: _Optional[str] = ..., quantity: _Optional[int] = ..., group: _Optional[int] = ..., candidates: _Optional[_Iterable[str]] = ..., allocations: _Optional[_Iterable[_Union[RoutedAllocation, _Mapping]]] = ..., decided_by: _Optional[str] = ..., rules: _Optional[_Iterable[str]] = ...) -> None: ...

class RoutingDecision(_message.Message):
    __slots__ = ("order_id", "destination", "lines", "groups", "review", "review_reason", "rush", "rules_version", "matched_rules", "notes", "routed")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    REVIEW_FIELD_NUMBER: _ClassVar[int]
    REVIEW_REASON_FIELD_NUMBER: _ClassVar[int]
    RUSH_FIELD_NUMBER: _ClassVar[int]
    RULES_VERSION_FIELD_NUMBER: _ClassVar[int]
    MATCHED_RULES_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    ROUTED_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    destination: ResolvedPlace
    lines: _containers.RepeatedCompositeFieldContainer[LineDecision]
    groups: _containers.RepeatedCompositeFieldContainer[CandidateGroup]
    review: bool
    review_reason: str
    rush: bool
    rules_version: int
    matched_rules: _containers.RepeatedScalarFieldContainer[str]
    notes: _containers.RepeatedScalarFieldContainer[str]
    routed: bool
    def __init__(self, order_id: _Optional[str] = ..., destination: _Optional[_Union[ResolvedPlace, _Mapping]] = ..., lines: _Optional[_Iterable[_Union[LineDecision, _Mapping]]] = ..., groups: _Optional[_Iterable[_Union[CandidateGroup, _Mapping]]] = ..., review: _Optional[bool] = ..., review_reason: _Optional[str] = ..., rush: _Optional[bool] = ..., rules_version: _Optional[int] = ..., matched_rules: _Optional[_Iterable[str]] = ..., notes: _Optional[_Iterable[str]] = ..., routed: _Optional[bool] = ...) -> None: ...

class SimulateRoutingRequest(_message.Message):
    __slots__ = ("document", "sample_size")
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_SIZE_FIELD_NUMBER: _ClassVar[int]
    document: _struct_pb2.Struct
    sample_size: int
    def __init__(self, document: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., sample_size: _Optional[int] = ...) -> None: ...

class WarehouseChange(_message.Message):
    __slots__ = ("from_warehouse_id", "to_warehouse_id", "orders")
    FROM_WAREHOUSE_ID_FIELD_NUMBER: _ClassVar[int]
    TO_WAREHOUSE_ID_FIELD_NUMBER: _ClassVar[int]
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    from_warehouse_id: str
    to_warehouse_id: str
    orders: int
    def __init__(self, from_warehouse_id: _Optional[str] = ..., to_warehouse_id: _Optional[str] = ..., orders: _Optional[int] = ...) -> None: ...

class SimulateRoutingResponse(_message.Message):
    __slots__ = ("orders", "changed", "match_ratio", "changes", "current_version")
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    MATCH_RATIO_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    CURRENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    orders: int
    changed: int
    match_ratio: float
    changes: _containers.RepeatedCompositeFieldContainer[WarehouseChange]
    current_version: int
    def __init__(self, orders: _Optional[int] = ..., changed: _Optional[int] = ..., match_ratio: _Optional[float] = ..., changes: _Optional[_Iterable[_Union[WarehouseChange, _Mapping]]] = ..., current_version: _Optional[int] = ...) -> None: ...

class BacktestRoutingRequest(_message.Message):
    __slots__ = ("document", "recorded_from", "recorded_to", "orders")
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    RECORDED_FROM_FIELD_NUMBER: _ClassVar[int]
    RECORDED_TO_FIELD_NUMBER: _ClassVar[int]
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    document: _struct_pb2.Struct
    recorded_from: _timestamp_pb2.Timestamp
    recorded_to: _timestamp_pb2.Timestamp
    orders: _containers.RepeatedCompositeFieldContainer[HistoricalOrder]
    def __init__(self, document: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., recorded_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recorded_to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., orders: _Optional[_Iterable[_Union[HistoricalOrder, _Mapping]]] = ...) -> None: ...

class HistoricalOrder(_message.Message):
    __slots__ = ("order_id", "channel", "destination", "lines", "amount_cents", "payment_method", "shipped_warehouse_id", "decided_warehouses")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_CENTS_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_METHOD_FIELD_NUMBER: _ClassVar[int]
    SHIPPED_WAREHOUSE_ID_FIELD_NUMBER: _ClassVar[int]
    DECIDED_WAREHOUSES_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    channel: str
    destination: Destination
    lines: _containers.RepeatedCompositeFieldContainer[RouteLine]
    amount_cents: int
    payment_method: str
    shipped_warehouse_id: str
    decided_warehouses: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, order_id: _Optional[str] = ..., channel: _Optional[str] = ..., destination: _Optional[_Union[Destination, _Mapping]] = ..., lines: _Optional[_Iterable[_Union[RouteLine, _Mapping]]] = ..., amount_cents: _Optional[int] = ..., payment_method: _Optional[str] = ..., shipped_warehouse_id: _Optional[str] = ..., decided_warehouses: _Optional[_Iterable[str]] = ...) -> None: ...

class BacktestTally(_message.Message):
    __slots__ = ("orders", "matched", "match_rate")
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    MATCHED_FIELD_NUMBER: _ClassVar[int]
    MATCH_RATE_FIELD_NUMBER: _ClassVar[int]
    orders: int
    matched: int
    match_rate: float
    def __init__(self, orders: _Optional[int] = ..., matched: _Optional[int] = ..., match_rate: _Optional[float] = ...) -> None: ...

class BacktestRuleRow(_message.Message):
    __slots__ = ("rule", "tally")
    RULE_FIELD_NUMBER: _ClassVar[int]
    TALLY_FIELD_NUMBER: _ClassVar[int]
    rule: str
    tally: BacktestTally
    def __init__(self, rule: _Optional[str] = ..., tally: _Optional[_Union[BacktestTally, _Mapping]] = ...) -> None: ...

class BacktestWarehouseRow(_message.Message):
    __slots__ = ("warehouse_id", "before", "after", "kept")
    WAREHOUSE_ID_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    KEPT_FIELD_NUMBER: _ClassVar[int]
    warehouse_id: str
    before: int
    after: int
    kept: int
    def __init__(self, warehouse_id: _Optional[str] = ..., before: _Optional[int] = ..., after: _Optional[int] = ..., kept: _Optional[int] = ...) -> None: ...

class BacktestVersionRow(_message.Message):
    __slots__ = ("rules_version", "tally")
    RULES_VERSION_FIELD_NUMBER: _ClassVar[int]
    TALLY_FIELD_NUMBER: _ClassVar[int]
    rules_version: int
    tally: BacktestTally
    def __init__(self, rules_version: _Optional[int] = ..., tally: _Optional[_Union[BacktestTally, _Mapping]] = ...) -> None: ...

class BacktestMove(_message.Message):
    __slots__ = ("before", "after", "orders", "examples")
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    before: str
    after: str
    orders: int
    examples: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, before: _Optional[str] = ..., after: _Optional[str] = ..., orders: _Optional[int] = ..., examples: _Optional[_Iterable[str]] = ...) -> None: ...

class BacktestRoutingResponse(_message.Message):
    __slots__ = ("orders", "distinct_orders", "unplaced", "vs_recorded", "vs_shipped", "rules", "warehouses", "versions", "moves", "cost_before", "cost_after", "mean_km_before", "mean_km_after", "notes", "cost_before_cents", "cost_after_cents")
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    DISTINCT_ORDERS_FIELD_NUMBER: _ClassVar[int]
    UNPLACED_FIELD_NUMBER: _ClassVar[int]
    VS_RECORDED_FIELD_NUMBER: _ClassVar[int]
    VS_SHIPPED_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    WAREHOUSES_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    MOVES_FIELD_NUMBER: _ClassVar[int]
    COST_BEFORE_FIELD_NUMBER: _ClassVar[int]
    COST_AFTER_FIELD_NUMBER: _ClassVar[int]
    MEAN_KM_BEFORE_FIELD_NUMBER: _ClassVar[int]
    MEAN_KM_AFTER_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    COST_BEFORE_CENTS_FIELD_NUMBER: _ClassVar[int]
    COST_AFTER_CENTS_FIELD_NUMBER: _ClassVar[int]
    orders: int
    distinct_orders: int
    unplaced: int
    vs_recorded: BacktestTally
    vs_shipped: BacktestTally
    rules: _containers.RepeatedCompositeFieldContainer[BacktestRuleRow]
    warehouses: _containers.RepeatedCompositeFieldContainer[BacktestWarehouseRow]
    versions: _containers.RepeatedCompositeFieldContainer[BacktestVersionRow]
    moves: _containers.RepeatedCompositeFieldContainer[BacktestMove]
    cost_before: float
    cost_after: float
    mean_km_before: float
    mean_km_after: float
    notes: _containers.RepeatedScalarFieldContainer[str]
    cost_before_cents: int
    cost_after_cents: int
    def __init__(self, orders: _Optional[int] = ..., distinct_orders: _Optional[int] = ..., unplaced: _Optional[int] = ..., vs_recorded: _Optional[_Union[BacktestTally, _Mapping]] = ..., vs_shipped: _Optional[_Union[BacktestTally, _Mapping]] = ..., rules: _Optional[_Iterable[_Union[BacktestRuleRow, _Mapping]]] = ..., warehouses: _Optional[_Iterable[_Union[BacktestWarehouseRow, _Mapping]]] = ..., versions: _Optional[_Iterable[_Union[BacktestVersionRow, _Mapping]]] = ..., moves: _Optional[_Iterable[_Union[BacktestMove, _Mapping]]] = ..., cost_before: _Optional[float] = ..., cost_after: _Optional[float] = ..., mean_km_before: _Optional[float] = ..., mean_km_after: _Optional[float] = ..., notes: _Optional[_Iterable[str]] = ..., cost_before_cents: _Optional[int] = ..., cost_after_cents: _Optional[int] = ...) -> None: ...
