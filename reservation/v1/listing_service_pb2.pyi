from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListingQuantity(_message.Message):
    __slots__ = ("sku", "quantity", "listed", "reason")
    SKU_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    LISTED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    sku: str
    quantity: int
    listed: bool
    reason: str
    def __init__(self, sku: _Optional[str] = ..., quantity: _Optional[int] = ..., listed: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class GetListingQuantitiesRequest(_message.Message):
    __slots__ = ("channel", "shop", "skus")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SHOP_FIELD_NUMBER: _ClassVar[int]
    SKUS_FIELD_NUMBER: _ClassVar[int]
    channel: str
    shop: str
    skus: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, channel: _Optional[str] = ..., shop: _Optional[str] = ..., skus: _Optional[_Iterable[str]] = ...) -> None: ...

class GetListingQuantitiesResponse(_message.Message):
    __slots__ = ("quantities", "rules_version", "resync_epoch")
    QUANTITIES_FIELD_NUMBER: _ClassVar[int]
    RULES_VERSION_FIELD_NUMBER: _ClassVar[int]
    RESYNC_EPOCH_FIELD_NUMBER: _ClassVar[int]
    quantities: _containers.RepeatedCompositeFieldContainer[ListingQuantity]
    rules_version: int
    resync_epoch: int
    def __init__(self, quantities: _Optional[_Iterable[_Union[ListingQuantity, _Mapping]]] = ..., rules_version: _Optional[int] = ..., resync_epoch: _Optional[int] = ...) -> None: ...

class ListingPush(_message.Message):
    __slots__ = ("sku", "quantity", "listed", "changed_at_ms", "pushed_at_ms")
    SKU_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    LISTED_FIELD_NUMBER: _ClassVar[int]
    CHANGED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    PUSHED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    sku: str
    quantity: int
    listed: bool
    changed_at_ms: int
    pushed_at_ms: int
    def __init__(self, sku: _Optional[str] = ..., quantity: _Optional[int] = ..., listed: _Optional[bool] = ..., changed_at_ms: _Optional[int] = ..., pushed_at_ms: _Optional[int] = ...) -> None: ...

class RefusedPush(_message.Message):
    __slots__ = ("sku", "reason")
    SKU_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    sku: str
    reason: str
    def __init__(self, sku: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ReportListingPushesRequest(_message.Message):
    __slots__ = ("channel", "shop", "pushes", "refused", "drift", "unmapped")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SHOP_FIELD_NUMBER: _ClassVar[int]
    PUSHES_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    DRIFT_FIELD_NUMBER: _ClassVar[int]
    UNMAPPED_FIELD_NUMBER: _ClassVar[int]
    channel: str
    shop: str
    pushes: _containers.RepeatedCompositeFieldContainer[ListingPush]
    refused: _containers.RepeatedCompositeFieldContainer[RefusedPush]
    drift: int
    unmapped: int
    def __init__(self, channel: _Optional[str] = ..., shop: _Optional[str] = ..., pushes: _Optional[_Iterable[_Union[ListingPush, _Mapping]]] = ..., refused: _Optional[_Iterable[_Union[RefusedPush, _Mapping]]] = ..., drift: _Optional[int] = ..., unmapped: _Optional[int] = ...) -> None: ...

class ReportListingPushesResponse(_message.Message):
    __slots__ = ("recorded",)
    RECORDED_FIELD_NUMBER: _ClassVar[int]
    recorded: int
    def __init__(self, recorded: _Optional[int] = ...) -> None: ...

class GetChannelStockRequest(_message.Message):
    __slots__ = ("skus",)
    SKUS_FIELD_NUMBER: _ClassVar[int]
    skus: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, skus: _Optional[_Iterable[str]] = ...) -> None: ...

class ChannelListing(_message.Message):
    __slots__ = ("sku", "channel", "shop", "told", "told_quantity", "told_listed", "told_at_ms", "quantity", "listed", "reason", "difference", "lag_ms", "breaker")
    SKU_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SHOP_FIELD_NUMBER: _ClassVar[int]
    TOLD_FIELD_NUMBER: _ClassVar[int]
    TOLD_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    TOLD_LISTED_FIELD_NUMBER: _ClassVar[int]
    TOLD_AT_MS_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    LISTED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DIFFERENCE_FIELD_NUMBER: _ClassVar[int]
    LAG_MS_FIELD_NUMBER: _ClassVar[int]
    BREAKER_FIELD_NUMBER: _ClassVar[int]
    sku: str
    channel: str
    shop: str
    told: bool
    told_quantity: int
    told_listed: bool
    told_at_ms: int
    quantity: int
    listed: bool
    reason: str
    difference: int
    lag_ms: int
    breaker: str
    def __init__(self, sku: _Optional[str] = ..., channel: _Optional[str] = ..., shop: _Optional[str] = ..., told: _Optional[bool] = ..., told_quantity: _Optional[int] = ..., told_listed: _Optional[bool] = ..., told_at_ms: _Optional[int] = ..., quantity: _Optional[int] = ..., listed: _Optional[bool] = ..., reason: _Optional[str] = ..., difference: _Optional[int] = ..., lag_ms: _Optional[int] = ..., breaker: _Optional[str] = ...) -> None: ...

class GetChannelStockResponse(_message.Message):
    __slots__ = ("listings",)
    LISTINGS_FIELD_NUMBER: _ClassVar[int]
    listings: _containers.RepeatedCompositeFieldContainer[ChannelListing]
    def __init__(self, listings: _Optional[_Iterable[_Union[ChannelListing, _Mapping]]] = ...) -> None: ...

class ResyncChannelStockRequest(_message.Message):
    __slots__ = ("channel", "shop")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SHOP_FIELD_NUMBER: _ClassVar[int]
    channel: str
    shop: str
    def __init__(self, channel: _Optional[str] = ..., shop: _Optional[str] = ...) -> None: ...

class ResyncChannelStockResponse(_message.Message):
    __slots__ = ("resync_epoch",)
    RESYNC_EPOCH_FIELD_NUMBER: _ClassVar[int]
    resync_epoch: int
    def __init__(self, resync_epoch: _Optional[int] = ...) -> None: ...

class ListingRules(_message.Message):
    __slots__ = ("version", "document_json", "comment", "created_at_ms", "rolled_back_to", "actor")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_JSON_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    ROLLED_BACK_TO_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    version: int
    document_json: str
    comment: str
    created_at_ms: int
    rolled_back_to: int
    actor: str
    def __init__(self, version: _Optional[int] = ..., document_json: _Optional[str] = ..., comment: _Optional[str] = ..., created_at_ms: _Optional[int] = ..., rolled_back_to: _Optional[int] = ..., actor: _Optional[str] = ...) -> None: ...

class GetListingRulesRequest(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: int
    def __init__(self, version: _Optional[int] = ...) -> None: ...

class GetListingRulesResponse(_message.Message):
    __slots__ = ("rules",)
    RULES_FIELD_NUMBER: _ClassVar[int]
    rules: ListingRules
    def __init__(self, rules: _Optional[_Union[ListingRules, _Mapping]] = ...) -> None: ...

class PutListingRulesRequest(_message.Message):
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

class PutListingRulesResponse(_message.Message):
    __slots__ = ("rules",)
    RULES_FIELD_NUMBER: _ClassVar[int]
    rules: ListingRules
    def __init__(self, rules: _Optional[_Union[ListingRules, _Mapping]] = ...) -> None: ...

class ListListingRuleHistoryRequest(_message.Message):
    __slots__ = ("limit",)
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    limit: int
    def __init__(self, limit: _Optional[int] = ...) -> None: ...

class ListListingRuleHistoryResponse(_message.Message):
    __slots__ = ("versions", "current_version")
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[ListingRules]
    current_version: int
    def __init__(self, versions: _Optional[_Iterable[_Union[ListingRules, _Mapping]]] = ..., current_version: _Optional[int] = ...) -> None: ...

class RollbackListingRulesRequest(_message.Message):
    __slots__ = ("version", "actor")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    version: int
    actor: str
    def __init__(self, version: _Optional[int] = ..., actor: _Optional[str] = ...) -> None: ...

class RollbackListingRulesResponse(_message.Message):
    __slots__ = ("rules",)
    RULES_FIELD_NUMBER: _ClassVar[int]
    rules: ListingRules
    def __init__(self, rules: _Optional[_Union[ListingRules, _Mapping]] = ...) -> None: ...
